"""`pysig bench`: timing one signature's call paths side by side, interleaved.

Each method runs in rounds; every round runs each method in turn (the order rotates
from round to round), so machine noise hits all methods alike. Calls are timed one by
one, with the garbage collector paused as ``timeit`` does. The result is a plain dict
(see `Benchmark.run`), written as is by ``--json`` and rendered by `report`.
"""

from __future__ import annotations

import gc
import os
import resource
import threading
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import PysigError
from ..interpreter import Interpreter
from ..runtime.ops import installed_runtimes
from ..signature_runner import SignatureRunner
from . import report
from .inputs import Shape, dtype_name, random_inputs, resolve_shapes
from .methods import (
    FLOOR,
    LITERT_SIGNATURE_RUNNER,
    PYSIG_CALL,
    TFLITE_SIGNATURE_RUNNER,
    Method,
    Skipped,
    floor_method,
    litert_methods,
    pysig_methods,
    tflite_methods,
    timing_overhead_ns,
)

SCHEMA = "pysig-bench/2"
MODES = {"call": ("call",), "zero-copy": ("zero-copy",), "both": ("call", "zero-copy")}
DEFAULT_DURATION = 1.0
DEFAULT_WARMUP = 10
# Many short rounds: a burst of load from elsewhere then hits every method alike.
ROUNDS = 100
# Calls are grouped in chunks of about this long: stop requests and progress are
# handled between chunks.
CHUNK_SECONDS = 0.05
MAX_CHUNK = 100_000
# In --duration mode a method stops after this many calls (8 bytes each).
MAX_SAMPLES = 1_000_000
QUANTILES = np.arange(101)

Progress = Callable[[float], None]


class Stopped(Exception):
    """The benchmark was cancelled (Ctrl-C) before it finished."""


@dataclass(frozen=True)
class BenchOptions:
    """How to run; ``runs`` (calls per method) wins over ``duration`` (seconds per method)."""

    runs: int | None = None
    duration: float | None = None
    warmup: int = DEFAULT_WARMUP
    num_threads: int | None = None
    mode: str = "both"
    compare: bool = False
    shapes: Mapping[str, Shape] = field(default_factory=dict)
    seed: int = 0

    @property
    def seconds(self) -> float | None:
        if self.runs is not None:
            return None
        return DEFAULT_DURATION if self.duration is None else self.duration

    @property
    def rounds(self) -> int:
        return ROUNDS if self.runs is None else max(1, min(ROUNDS, self.runs))

    def to_json(self) -> dict[str, Any]:
        options = asdict(self)
        options["duration"] = self.seconds
        options["shapes"] = {name: list(shape) for name, shape in self.shapes.items()}
        options["rounds"] = self.rounds
        return options


class Benchmark:
    """One signature of a loaded model, ready to be timed by every requested method."""

    def __init__(
        self, interpreter: Interpreter, model_path: str, signature_key: str, options: BenchOptions
    ) -> None:
        self.options = options
        self.runner = interpreter.get_signature_runner(signature_key)
        self.model_path = model_path
        details = self.runner.get_input_details()
        shapes = resolve_shapes(details, options.shapes, signature_key)
        self.inputs = random_inputs(details, shapes, np.random.default_rng(options.seed))
        self.skipped: list[Skipped] = []
        # With --compare, pysig on every installed runtime, the interpreter's own first.
        self.runners = [self.runner]
        if options.compare:
            self.runners += self._other_runtimes(signature_key)
        self.methods: list[Method] = []
        for runner in self.runners:
            self.methods += pysig_methods(runner, self.inputs, MODES[options.mode])
        if options.compare:
            for own_api in (tflite_methods, litert_methods):
                methods, skipped = own_api(
                    model_path, self.runner, self.inputs, options.num_threads
                )
                self.methods += methods
                self.skipped += skipped
            self.methods += [floor_method(runner) for runner in self.runners]
        self._stop = threading.Event()
        self._per_call_ns: dict[str, float] = {}

    def _other_runtimes(self, signature_key: str) -> list[SignatureRunner]:
        runners = []
        for runtime in installed_runtimes():
            if runtime == self.runner.runtime:
                continue
            try:
                interpreter = Interpreter(
                    self.model_path, num_threads=self.options.num_threads, runtime=runtime
                )
                runner = interpreter.get_signature_runner(signature_key)
                runner(**self.inputs)
            except PysigError as error:
                reason = f"pysig cannot run it on {runtime}: {error}"
                self.skipped.append(Skipped(PYSIG_CALL, runtime, reason))
            else:
                runners.append(runner)
        return runners

    def cancel(self) -> None:
        """Stop the benchmark from another thread, the invocation in progress included."""
        self._stop.set()
        for runner in self.runners:
            runner.cancel()

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        """Time every method; return the report (schema ``pysig-bench/2``)."""
        samples: dict[str, list[array[int]]] = {method.name: [] for method in self.methods}
        collecting = gc.isenabled()
        gc.disable()
        try:
            for method in self.methods:
                self._take(method, self.options.warmup, None)
            overhead_ns = timing_overhead_ns()
            rounds = self.options.rounds
            steps = rounds * len(self.methods)
            for round_index in range(rounds):
                shift = round_index % len(self.methods)
                for step, method in enumerate(self.methods[shift:] + self.methods[:shift]):
                    samples[method.name] += self._take_round(method, round_index, samples)
                    if progress is not None:
                        progress((round_index * len(self.methods) + step + 1) / steps)
        finally:
            if collecting:
                gc.enable()
        return self._report(samples, overhead_ns)

    def _take_round(
        self, method: Method, round_index: int, samples: Mapping[str, list[array[int]]]
    ) -> list[array[int]]:
        runs, rounds = self.options.runs, self.options.rounds
        if runs is not None:
            return self._take(method, runs // rounds + (round_index < runs % rounds), None)
        taken = sum(len(chunk) for chunk in samples[method.name])
        seconds = self.options.seconds
        assert seconds is not None
        return self._take(method, MAX_SAMPLES - taken, seconds / rounds)

    def _take(self, method: Method, count: int, seconds: float | None) -> list[array[int]]:
        """Up to ``count`` calls, and no more than about ``seconds`` if given."""
        chunks: list[array[int]] = []
        done, spent_ns = 0, 0
        budget_ns = None if seconds is None else seconds * 1e9
        while done < count and (budget_ns is None or spent_ns < budget_ns):
            if self._stop.is_set():
                raise Stopped
            per_call = self._per_call_ns.get(method.name)
            size = 1
            if per_call is not None:
                chunk_ns = CHUNK_SECONDS * 1e9
                if budget_ns is not None:
                    chunk_ns = min(chunk_ns, budget_ns - spent_ns)
                size = max(1, int(chunk_ns / per_call))
            chunk = method.measure(min(size, count - done, MAX_CHUNK))
            chunk_total = sum(chunk)
            self._per_call_ns[method.name] = max(chunk_total / len(chunk), 1.0)
            chunks.append(chunk)
            done += len(chunk)
            spent_ns += chunk_total
        return chunks

    def _report(
        self, samples: Mapping[str, list[array[int]]], overhead_ns: float
    ) -> dict[str, Any]:
        stats = [summarize(method, samples[method.name]) for method in self.methods]
        _add_ratios(stats)
        return {
            "schema": SCHEMA,
            "model": self._model_json(),
            "options": self.options.to_json(),
            "machine": report.machine(),
            "versions": report.versions(),
            "methods": stats,
            "skipped": [
                {"name": s.name, "label": s.label, "runtime": s.runtime, "reason": s.reason}
                for s in self.skipped
            ],
            "timing_overhead_us": overhead_ns / 1e3,
            "peak_rss_bytes": peak_rss_bytes(),
        }

    def _model_json(self) -> dict[str, Any]:
        def tensors(details: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
            return {
                name: {"dtype": dtype_name(d["dtype"]), "shape": d["shape"].tolist()}
                for name, d in details.items()
            }

        return {
            "path": os.path.abspath(self.model_path),
            "bytes": os.path.getsize(self.model_path),
            "signature": self.runner.signature_key,
            "inputs": tensors(self.runner.get_input_details()),
            "outputs": tensors(self.runner.get_output_details()),
        }


def summarize(method: Method, chunks: list[array[int]]) -> dict[str, Any]:
    """Latency statistics of one method, in microseconds."""
    ns = np.concatenate([np.frombuffer(chunk, dtype=np.int64) for chunk in chunks])
    us = ns.astype(np.float64) / 1e3
    quantiles = np.percentile(us, QUANTILES)
    mean = float(us.mean())
    return {
        "name": method.name,
        "kind": method.kind,
        "runtime": method.runtime,
        "label": method.label,
        "runs": int(us.size),
        "total_s": float(us.sum()) / 1e6,
        "min_us": float(quantiles[0]),
        "p50_us": float(quantiles[50]),
        "p90_us": float(quantiles[90]),
        "p99_us": float(quantiles[99]),
        "max_us": float(quantiles[100]),
        "mean_us": mean,
        "stdev_us": float(us.std()),
        "throughput_per_s": 1e6 / mean if mean > 0 else None,
        "quantiles_us": [float(q) for q in quantiles],
    }


def _add_ratios(stats: list[dict[str, Any]]) -> None:
    """Median time of each method over its runtime's floor's and over each runtime's own
    SignatureRunner's."""
    floors = {s["runtime"]: s for s in stats if s["kind"] == FLOOR}
    by_name = {s["name"]: s for s in stats}
    for s in stats:
        floor = floors.get(s["runtime"])
        s["ratio_to_floor"] = _ratio(s, floor)
        s["over_floor_us"] = None if floor is None else s["p50_us"] - floor["p50_us"]
        for reference in (TFLITE_SIGNATURE_RUNNER, LITERT_SIGNATURE_RUNNER):
            s[f"ratio_to_{reference}"] = _ratio(s, by_name.get(reference))


def _ratio(stats: Mapping[str, Any], reference: Mapping[str, Any] | None) -> float | None:
    if reference is None or reference["p50_us"] <= 0:
        return None
    return float(stats["p50_us"] / reference["p50_us"])


def peak_rss_bytes() -> int:
    """The process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
