"""The LiteRT targets of issue 12, measured side by side in one run (one process, the
methods interleaved round by round so that load from elsewhere hits them alike):

- MobileNetV2 uint8 and float32, 1 thread: pysig on LiteRT against ai_edge_litert's own
  ``CompiledModel`` (write + run + read) and tflite_runtime's ``SignatureRunner``;
- the tiny model: pysig's dict call on LiteRT against ai_edge_litert's
  ``SignatureRunner`` and its ``CompiledModel`` write + run + read; pysig's zero-copy
  ``invoke()`` against the C loop floor (``LiteRtRunCompiledModel`` back to back in C++);
- the same pysig calls on the tflite runtime, so both runtimes' figures sit side by side.

    python benchmarks/make_models.py      # once, with tensorflow-cpu==2.14.1
    python benchmarks/bench_litert.py     # writes benchmarks/results/litert.json and the
                                          # "LiteRT" section of benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import pysig
from pysig.runtime.choose import installed

HERE = Path(__file__).resolve().parent
MODELS = HERE / ".models"
RESULTS_MD = HERE / "RESULTS.md"
SECTION = "## LiteRT runtime (issue 12 targets)"

Call = Callable[[], Any]


def median_us(call: Call, seconds: float) -> float:
    """Median time of one call over repeated batches lasting about ``seconds`` in all."""
    call()
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    batch = max(1, int(0.01 / once))
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter_ns()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter_ns() - start) / batch / 1000)
    return statistics.median(samples)


def interleaved(methods: dict[str, Call], seconds: float, rounds: int) -> dict[str, float]:
    """Each method's median over ``rounds`` rounds, the methods taking turns."""
    per_round: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, call in methods.items():
            per_round[name].append(median_us(call, seconds / rounds))
    return {name: statistics.median(values) for name, values in per_round.items()}


def random_inputs(runner: pysig.SignatureRunner, rng: np.random.Generator) -> dict[str, Any]:
    inputs = {}
    for name, detail in runner.get_input_details().items():
        dtype = np.dtype(detail["dtype"])
        shape = tuple(int(d) for d in detail["shape"])
        if dtype.kind in "iu":
            inputs[name] = rng.integers(0, 100, size=shape).astype(dtype)
        else:
            inputs[name] = rng.standard_normal(shape).astype(dtype)
    return inputs


def compiled_model_call(path: Path, key: str, inputs: dict[str, Any]) -> Call:
    """ai_edge_litert's CompiledModel as its users run it: write inputs, run, read outputs."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.options import CpuOptions, Options

    model = CompiledModel.from_file(
        str(path), options=Options(cpu_options=CpuOptions(num_threads=1))
    )
    index = model.get_signature_index(key)
    signature = model.get_signature_by_index(index)
    in_buffers = model.create_input_buffers(index)
    out_buffers = model.create_output_buffers(index)
    details = model.get_output_tensor_details(key)
    reads = []
    for name in signature["outputs"]:
        shape = details[name]["shape"]
        reads.append((int(np.prod(shape)), np.dtype(details[name]["dtype"])))
    ordered = [inputs[name] for name in signature["inputs"]]

    def call() -> Any:
        for buffer, value in zip(in_buffers, ordered):
            buffer.write(value)
        model.run_by_index(index, in_buffers, out_buffers)
        return [b.read(count, dtype) for b, (count, dtype) in zip(out_buffers, reads)]

    return call


def litert_signature_runner_call(path: Path, key: str, inputs: dict[str, Any]) -> Call:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner(key)
    return lambda: runner(**inputs)


def tflite_signature_runner_call(path: Path, key: str, inputs: dict[str, Any]) -> Call:
    from tflite_runtime.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner(key)
    return lambda: runner(**inputs)


def measure_model(path: Path, seconds: float, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    methods: dict[str, Call] = {}
    runners = {}
    for runtime in ("litert", "tflite"):
        if installed(runtime):
            runners[runtime] = pysig.Interpreter(
                str(path), num_threads=1, runtime=runtime
            ).get_signature_runner()
    key = next(iter(runners.values())).signature_key
    inputs = random_inputs(next(iter(runners.values())), rng)
    for runtime, runner in runners.items():
        methods[f"pysig {runtime} dict call"] = lambda r=runner: r(**inputs)
        for name, value in inputs.items():
            runner.inputs[name][...] = value
        methods[f"pysig {runtime} zero-copy invoke"] = runner.invoke
    if installed("litert"):
        methods["ai_edge_litert CompiledModel write+run+read"] = compiled_model_call(
            path, key, inputs
        )
        methods["ai_edge_litert SignatureRunner"] = litert_signature_runner_call(path, key, inputs)
    if installed("tflite"):
        methods["tflite_runtime SignatureRunner"] = tflite_signature_runner_call(path, key, inputs)
    found = interleaved(methods, seconds, rounds)
    for runtime, runner in runners.items():
        # The floor: invokes timed one by one inside C++, no Python in between (median).
        samples = runner._time_invokes(
            max(20, int(seconds / rounds / (found[f"pysig {runtime} zero-copy invoke"] * 1e-6)))
        )
        found[f"{runtime} C loop floor"] = float(np.median(samples)) / 1000
    return found


def ratio(found: dict[str, float], a: str, b: str) -> float:
    return found[a] / found[b]


def targets(results: dict[str, dict[str, float]]) -> list[tuple[str, str, bool]]:
    rows = []
    for name in ("mobilenet_v2_uint8", "mobilenet_v2"):
        found = results.get(name)
        if not found:
            continue
        pysig_call = "pysig litert dict call"
        own = ratio(found, pysig_call, "ai_edge_litert CompiledModel write+run+read")
        rows.append(
            (f"{name}: pysig on LiteRT within 3% of CompiledModel", f"{own:.3f}x", own <= 1.03)
        )
        if "tflite_runtime SignatureRunner" in found and name.endswith("uint8"):
            speedup = ratio(found, "tflite_runtime SignatureRunner", pysig_call)
            rows.append(
                (f"{name}: >= 10x faster than tflite_runtime SR", f"{speedup:.1f}x", speedup >= 10)
            )
    tiny = results.get("tiny")
    if tiny:
        sr = ratio(tiny, "ai_edge_litert SignatureRunner", "pysig litert dict call")
        cm = ratio(tiny, "ai_edge_litert CompiledModel write+run+read", "pysig litert dict call")
        margin = tiny["pysig litert zero-copy invoke"] - tiny["litert C loop floor"]
        rows += [
            (
                "tiny: dict call >= 2.5x faster than ai_edge_litert SignatureRunner",
                f"{sr:.2f}x",
                sr >= 2.5,
            ),
            ("tiny: dict call faster than CompiledModel write+run+read", f"{cm:.2f}x", cm > 1),
            (
                "tiny: zero-copy invoke() within 0.5 us of the C loop",
                f"+{margin:.2f} us",
                margin <= 0.5,
            ),
        ]
    return rows


def markdown(results: dict[str, dict[str, float]]) -> str:
    lines = [
        SECTION,
        "",
        (
            "Written by `benchmarks/bench_litert.py`: medians in microseconds, every method "
            "of a model interleaved in one process."
        ),
        "",
    ]
    for name, found in results.items():
        lines += [f"### {name}", "", "| method | median us |", "|---|---:|"]
        lines += [f"| {method} | {value:.2f} |" for method, value in found.items()]
        lines.append("")
    lines += ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in targets(results)]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    current = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    if SECTION in current:
        before, _, rest = current.partition(SECTION)
        following = rest.find("\n## ")
        current = before + (rest[following + 1 :] if following >= 0 else "")
    RESULTS_MD.write_text(current.rstrip("\n") + "\n\n" + text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time per model and method")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("models", nargs="*", default=["tiny", "mobilenet_v2_uint8", "mobilenet_v2"])
    args = parser.parse_args()
    results = {}
    for name in args.models:
        path = MODELS / f"{name}.tflite"
        print(f"{name} ...", flush=True)
        results[name] = measure_model(path, args.seconds, args.rounds)
        for method, value in results[name].items():
            print(f"  {method:45s} {value:10.2f} us")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "litert.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    write_section(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
