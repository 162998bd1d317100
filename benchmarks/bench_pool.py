"""Throughput of pysig.Pool against pool size, num_threads, and N processes (the ceiling).

    /work/venv-tf/bin/python benchmarks/make_models.py   # once (tensorflow-cpu==2.14.1)
    python benchmarks/bench_pool.py [--seconds 5] [--rounds 5] [--write]

The compute-bound model is benchmarks/.models/mobilenet_v2.tflite (Keras MobileNetV2 with
random weights, float32, ~20 ms per call on one thread), cached there by make_models.py.

N is the number of CPUs this process may use. Every configuration is measured in every
round for the same number of seconds; rates are completed calls per second. The pools of N
and the ceiling run back to back in each round (in alternating order), the other
configurations before them in rotating order. The ceiling is N separate processes, each running one interpreter with one thread
(what the machine gives with no shared interpreter process at all); its worker processes
are started once and sit blocked on a pipe while the other configurations run. The ratio
pool/ceiling is taken within each round, then its median across rounds is reported.
``--write`` rewrites benchmarks/POOL_RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

import pysig
from pysig.bench.report import format_rate, machine, results_heading, versions
from pysig.pool import Pool, usable_cpus

HERE = Path(__file__).resolve().parent
MODEL = HERE / ".models" / "mobilenet_v2.tflite"
RESULTS_MD = HERE / "POOL_RESULTS.md"
POOL_SIZES = (1, 2, 4)
TARGET = 0.90
WARM_UP_CALLS = 3


class Sample(NamedTuple):
    """What one measurement gave: completed calls, wall-clock and CPU seconds.

    CPU time per call does not depend on how much of the machine other processes
    took meanwhile, so it compares efficiency where calls per second cannot.
    """

    calls: int
    seconds: float
    cpu_seconds: float


# A measurement: run for about the given seconds.
Measure = Callable[[float], Sample]


class Config(NamedTuple):
    name: str
    measure: Measure


def model_input(seed: int = 0) -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    return {"input_1": rng.standard_normal((1, 224, 224, 3)).astype(np.float32)}


def cpu_seconds() -> float:
    """CPU time used so far by every thread of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sampled(body: Callable[[float], int]) -> Measure:
    """A measurement from `body(deadline) -> completed calls`."""

    def measure(seconds: float) -> Sample:
        cpu, start = cpu_seconds(), time.perf_counter()
        calls = body(start + seconds)
        return Sample(calls, time.perf_counter() - start, cpu_seconds() - cpu)

    return measure


def until(deadline: float, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The same input again and again, until the deadline."""
    while time.perf_counter() < deadline:
        yield item


def measure_interpreter(interpreter: pysig.Interpreter, inputs: dict[str, Any]) -> Measure:
    runner = interpreter.get_signature_runner()

    def body(deadline: float) -> int:
        calls = 0
        while time.perf_counter() < deadline:
            runner(**inputs)
            calls += 1
        return calls

    return sampled(body)


def measure_pool_map(pool: Pool, inputs: dict[str, Any]) -> Measure:
    """Calls streamed through pool.map; the stream ends at the deadline and then drains."""

    def body(deadline: float) -> int:
        return sum(1 for _ in pool.map(None, until(deadline, inputs), ordered=False))

    return sampled(body)


def measure_pool_run(pool: Pool, inputs: dict[str, Any], threads: int) -> Measure:
    """`threads` caller threads each calling pool.run() in a loop."""

    def body(deadline: float) -> int:
        counts = [0] * threads

        def caller(index: int) -> None:
            while time.perf_counter() < deadline:
                pool.run(**inputs)
                counts[index] += 1

        workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sum(counts)

    return sampled(body)


def process_worker(connection: Connection, model: str) -> None:
    """One interpreter with one thread in its own process; runs for as long as it is told."""
    interpreter = pysig.Interpreter(model, num_threads=1)
    inputs = model_input()
    measure = measure_interpreter(interpreter, inputs)
    for _ in range(WARM_UP_CALLS):
        interpreter.get_signature_runner()(**inputs)
    connection.send("ready")
    while True:
        seconds = connection.recv()
        if seconds is None:
            return
        connection.send(measure(seconds))


class Processes:
    """N worker processes, started once, measured together: the machine's ceiling."""

    def __init__(self, count: int, model: str) -> None:
        context = mp.get_context("spawn")
        self._connections: list[Connection] = []
        self._processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=process_worker, args=(child, model), daemon=True)
            process.start()
            self._connections.append(parent)
            self._processes.append(process)
        for connection in self._connections:
            assert connection.recv() == "ready"

    def measure(self, seconds: float) -> Sample:
        for connection in self._connections:
            connection.send(seconds)
        samples: list[Sample] = [connection.recv() for connection in self._connections]
        # The processes ran side by side: their calls and CPU times add up.
        return Sample(
            sum(sample.calls for sample in samples),
            max(sample.seconds for sample in samples),
            sum(sample.cpu_seconds for sample in samples),
        )

    def close(self) -> None:
        for connection in self._connections:
            connection.send(None)
        for process in self._processes:
            process.join()


def check_same_outputs(pools: Sequence[Pool], interpreter: pysig.Interpreter) -> None:
    """Every pool computes what a plain one-thread interpreter computes, bit for bit."""
    inputs = model_input(1)
    expected = interpreter.get_signature_runner()(**inputs)
    for pool in pools:
        for outputs in pool.map(None, [inputs] * (2 * pool.size)):
            for name, value in expected.items():
                assert outputs[name].tobytes() == value.tobytes(), f"pool of {pool.size}: {name}"


def run(seconds: float, rounds: int) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    n = usable_cpus()
    model = str(MODEL)
    inputs = model_input()
    baseline = pysig.Interpreter(model, num_threads=1)
    threaded = pysig.Interpreter(model, num_threads=n)
    pools = {size: Pool(model, size=size, num_threads=1) for size in sorted({*POOL_SIZES, n})}
    check_same_outputs(list(pools.values()), baseline)
    processes = Processes(n, model)
    try:
        # The pool of N and the ceiling run back to back in every round, so a change
        # in the load from other work on the machine hits both alike.
        compared = [
            Config(f"Pool(size={n}), map", measure_pool_map(pools[n], inputs)),
            Config(
                f"Pool(size={n}), run() from {n} threads", measure_pool_run(pools[n], inputs, n)
            ),
            Config(f"ceiling: {n} processes x 1 interpreter", processes.measure),
        ]
        others = [
            Config("1 interpreter, num_threads=1", measure_interpreter(baseline, inputs)),
            *(
                Config(f"Pool(size={size}), map", measure_pool_map(pool, inputs))
                for size, pool in pools.items()
                if size != n
            ),
            Config(f"1 interpreter, num_threads={n}", measure_interpreter(threaded, inputs)),
        ]
        configs = others + compared
        for config in configs:
            config.measure(seconds / 5)  # warm-up: caches, thread pools, CPU clocks
        samples: dict[str, list[Sample]] = {config.name: [] for config in configs}
        for round_index in range(rounds):
            shift = round_index % len(others)
            group = compared if round_index % 2 == 0 else compared[::-1]
            for config in others[shift:] + others[:shift] + group:
                sample = config.measure(seconds)
                samples[config.name].append(sample)
                print(
                    f"round {round_index + 1}: {config.name}: "
                    f"{sample.calls / sample.seconds:.1f}/s, "
                    f"{sample.cpu_seconds / sample.calls * 1e3:.2f} ms CPU per call",
                    flush=True,
                )
    finally:
        processes.close()
        for pool in pools.values():
            pool.close()
    return {
        "n": n,
        "load_before": load_before,
        "seconds": seconds,
        "rounds": rounds,
        "rates": {
            name: [sample.calls / sample.seconds for sample in runs]
            for name, runs in samples.items()
        },
        "cpu_ms": {
            name: [sample.cpu_seconds / sample.calls * 1e3 for sample in runs]
            for name, runs in samples.items()
        },
        "cores": {
            name: [sample.cpu_seconds / sample.seconds for sample in runs]
            for name, runs in samples.items()
        },
        "baseline": others[0].name,
        "pool_map": compared[0].name,
        "pool_run": compared[1].name,
        "ceiling": compared[2].name,
        "machine": machine(),
        "versions": versions(),
    }


def per_round_ratio(
    report: dict[str, Any], name: str, reference: str, figure: str = "rates"
) -> list[float]:
    return [a / b for a, b in zip(report[figure][name], report[figure][reference])]


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for name in (report["pool_map"], report["pool_run"]):
        ratios = per_round_ratio(report, name, report["ceiling"])
        median = statistics.median(ratios)
        lines.append(
            f"- {name} / ceiling: median {median:.1%} (rounds: "
            f"{', '.join(f'{r:.1%}' for r in ratios)}): "
            f"{'met' if median >= TARGET else '**not met**'} (target {TARGET:.0%})"
        )
    for name in (report["pool_map"], report["pool_run"]):
        # Above 1: the pool spent less CPU per call than the separate processes did.
        ratios = per_round_ratio(report, report["ceiling"], name, "cpu_ms")
        lines.append(
            f"- CPU time per call, ceiling / {name}: median {statistics.median(ratios):.1%} "
            f"(rounds: {', '.join(f'{r:.1%}' for r in ratios)})"
        )
    ceiling = per_round_ratio(report, report["ceiling"], report["baseline"])
    lines.append(
        f"- ceiling / one interpreter: median {statistics.median(ceiling):.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}x' for r in ceiling)})"
    )
    return lines


def table_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        "| configuration | calls/s median | min | max | vs 1 interpreter | vs ceiling | "
        + "CPU ms per call | CPUs busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rates in report["rates"].items():
        vs_baseline = statistics.median(per_round_ratio(report, name, report["baseline"]))
        vs_ceiling = statistics.median(per_round_ratio(report, name, report["ceiling"]))
        cpu_ms = statistics.median(report["cpu_ms"][name])
        cores = statistics.median(report["cores"][name])
        lines.append(
            f"| {name} | {format_rate(statistics.median(rates))} | {format_rate(min(rates))} | "
            f"{format_rate(max(rates))} | {vs_baseline:.2f}x | {vs_ceiling:.1%} "
            f"| {cpu_ms:.2f} | {cores:.2f} |"
        )
    return lines


def markdown(report: dict[str, Any], command: str) -> str:
    n = report["n"]
    return "\n".join(
        [
            *results_heading("pysig.Pool scaling results", "bench_pool.py", command, report),
            f"- usable CPUs (N): {n}",
            "",
            "Model: MobileNetV2, float32, random weights (`benchmarks/make_models.py`), one",
            "1x224x224x3 input. Every configuration ran once in each of the rounds, each time",
            "for the same seconds; the pool of N and the ceiling ran back to back in each round.",
            "Ratios are taken within a round (side by side), then their median is shown.",
            "",
            "- `1 interpreter, num_threads=1`: one thread calling one interpreter; the unit.",
            "- `Pool(size=s), map`: `pool.map(None, inputs, ordered=False)` on a pool of s",
            "  interpreters with `num_threads=1` each; it keeps 2 x s calls in flight.",
            "- `Pool(size=N), run() from N threads`: N threads, each calling `pool.run()`.",
            "- `1 interpreter, num_threads=N`: one call at a time, each layer split over N",
            "  threads by XNNPACK; every layer waits for its slowest thread, so this suffers",
            "  most when other processes hold some of the cores.",
            "- `ceiling`: N processes, each with one interpreter and one thread.",
            "- CPU ms per call: CPU time of every thread (and process) involved, per call;",
            "  unlike calls/s it does not depend on the share of the machine other processes",
            "  left. CPUs busy: that CPU time over wall-clock time.",
            "- More runnable threads than CPUs (a pool of 4 on 2), or threads that sleep and",
            "  wake often (a pool's workers), can win a larger share of a machine that other",
            "  processes also use: calls/s rises, CPU ms per call does not.",
            "",
            "## Target: a pool of N on N cores reaches 90% of N processes",
            "",
            *summary_lines(report),
            "",
            "## Throughput",
            "",
            *table_lines(report),
            "",
            f"## Every round (calls/s, {report['seconds']:g} s each)",
            "",
            "| configuration | " + " | ".join(f"{i + 1}" for i in range(report["rounds"])) + " |",
            "|---|" + "---:|" * report["rounds"],
            *(
                f"| {name} | " + " | ".join(f"{rate:.1f}" for rate in rates) + " |"
                for name, rates in report["rates"].items()
            ),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per configuration and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"rewrite {RESULTS_MD.name}")
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print(
            f"missing {MODEL}: build it with a Python that has tensorflow-cpu==2.14.1: "
            "python benchmarks/make_models.py",
            file=sys.stderr,
        )
        return 1
    report = run(args.seconds, args.rounds)
    print("\n".join(["", *table_lines(report), "", *summary_lines(report)]))
    if args.write:
        command = " ".join(["python benchmarks/bench_pool.py", *(argv or sys.argv[1:])])
        RESULTS_MD.write_text(markdown(report, command))
        print(f"wrote {RESULTS_MD.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
