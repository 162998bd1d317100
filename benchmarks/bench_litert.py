"""The LiteRT targets of issue 12, measured side by side in one run per model with
`pysig bench --compare`'s harness (src/pysig/bench/core.py): every method of a model in
one process, timed call by call in interleaved rounds, so load from elsewhere hits them
alike; medians compared.

- MobileNetV2 uint8 and float32, 1 thread: pysig on LiteRT against ai_edge_litert's own
  ``CompiledModel`` (write + run + read) and tflite_runtime's ``SignatureRunner``;
- the tiny model: pysig's dict call on LiteRT against ai_edge_litert's ``SignatureRunner``
  and its ``CompiledModel`` write + run + read; pysig's zero-copy ``invoke()`` against the
  floor (``LiteRtRunCompiledModel`` timed call by call in a C++ loop);
- pysig on the tflite runtime and tflite's floor in the same rounds.

The tiny model's two per-call targets compare loops, batch against batch in interleaved
rounds (mean per call of each batch, median over rounds): ``runner.invoke()`` back to back
in a Python ``for`` loop against ``LiteRtRunCompiledModel`` back to back in the C++ loop,
and pysig's ``runner(**inputs)`` against ai_edge_litert's ``signature_runner(**inputs)``,
each in the same kind of Python loop. Neither side then pays a clock read per call, which
the call-by-call table's Python methods do (its "timing loop" line): on calls of 2 to 6 us,
those ~0.15-0.2 us on both sides shrink every ratio. And a batch mean is compared with a
batch mean: a per-call median of the C loop against a batch mean from Python is what made
an earlier run report +9.3 us. The call-by-call ratios are reported beside them.

    python benchmarks/make_models.py      # once, with tensorflow-cpu==2.14.1
    python benchmarks/bench_litert.py     # writes benchmarks/results/litert-pyXY.json and
                                          # the "LiteRT ..., CPython X.Y" section of
                                          # benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench_call import Target, median_us

import pysig
from pysig.bench.core import Benchmark, BenchOptions
from pysig.bench.methods import (
    FLOOR,
    LITERT_COMPILED_MODEL,
    LITERT_SIGNATURE_RUNNER,
    PYSIG_CALL,
    PYSIG_ZERO_COPY,
    TFLITE_SIGNATURE_RUNNER,
    method_name,
)
from pysig.bench.report import environment_markdown, format_markdown, format_table

HERE = Path(__file__).resolve().parent
MODELS = HERE / ".models"
RESULTS_MD = HERE / "RESULTS.md"
# One section and one JSON file per Python: the suite runs on 3.11 (both runtimes, numpy 1)
# and 3.13 (LiteRT only, numpy 2).
PYTHON = f"CPython {sys.version_info.major}.{sys.version_info.minor}"
SECTION = f"## LiteRT runtime (issue 12 targets), {PYTHON}"
JSON_NAME = f"litert-py{sys.version_info.major}{sys.version_info.minor}.json"
NOTES_HEADING = "### Notes"

CALL = method_name(PYSIG_CALL, "litert")
ZERO_COPY = method_name(PYSIG_ZERO_COPY, "litert")
LITERT_FLOOR = method_name(FLOOR, "litert")
# Calls per method: the big models' tflite_runtime methods take up to ~80 ms each.
RUNS = {"tiny": None, "mobilenet_v2_uint8": 120, "mobilenet_v2": 200}


LOOP_ROUNDS = 40
LOOP_BATCH = 2000
# Batches compared for the tiny model's targets, in this order within each round.
INVOKE_LOOP, C_LOOP = "invoke() in a Python loop", "LiteRtRunCompiledModel() in the C++ loop"
CALL_LOOP, RUNNER_LOOP = "runner(**inputs) in a Python loop", "ai_edge_litert SignatureRunner"

Batch = Callable[[int], float]  # runs `count` calls back to back, returns nanoseconds


def python_batch(call: Callable[..., Any], inputs: Mapping[str, Any] | None = None) -> Batch:
    """`call()`, or `call(**inputs)`, back to back in a plain Python ``for`` loop."""
    clock = time.perf_counter_ns
    if inputs is None:

        def batch(count: int) -> float:
            start = clock()
            for _ in range(count):
                call()
            return clock() - start

    else:
        arguments = dict(inputs)

        def batch(count: int) -> float:
            start = clock()
            for _ in range(count):
                call(**arguments)
            return clock() - start

    return batch


def loops(batches: Mapping[str, Batch]) -> dict[str, float]:
    """Microseconds per call of each batch, in interleaved rounds of equal batches (median
    over rounds of each batch's mean): no clock read per call on either side."""
    means: dict[str, list[float]] = {name: [] for name in batches}
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(LOOP_ROUNDS):
            for name, batch in batches.items():
                means[name].append(batch(LOOP_BATCH) / LOOP_BATCH / 1000)
    finally:
        if collecting:
            gc.enable()
    return {name: statistics.median(values) for name, values in means.items()}


def tiny_loops(benchmark: Benchmark, path: str, key: str) -> dict[str, float]:
    """The batches the tiny model's targets compare: pysig's invoke() against the C loop,
    pysig's dict call against ai_edge_litert's SignatureRunner called as its users do."""
    from ai_edge_litert.interpreter import Interpreter as LitertInterpreter

    own = LitertInterpreter(model_path=path, num_threads=1)
    own.allocate_tensors()
    runner = benchmark.runner
    return loops(
        {
            INVOKE_LOOP: python_batch(runner.invoke),
            C_LOOP: lambda count: float(sum(runner._time_invokes(count))),
            CALL_LOOP: python_batch(runner, benchmark.inputs),
            RUNNER_LOOP: python_batch(own.get_signature_runner(key), benchmark.inputs),
        }
    )


def measure(name: str, seconds: float) -> dict[str, Any]:
    path = str(MODELS / f"{name}.tflite")
    interpreter = pysig.Interpreter(path, num_threads=1, runtime="litert")
    key = next(iter(interpreter.get_signature_list()))
    runs = RUNS.get(name)
    options = BenchOptions(
        runs=runs, duration=None if runs else seconds, num_threads=1, compare=True
    )
    benchmark = Benchmark(interpreter, path, key, options)
    report = benchmark.run()
    if runs is None:
        report["loops_us"] = tiny_loops(benchmark, path, key)
    report["command"] = (
        f"pysig bench benchmarks/.models/{name}.tflite --runtime litert --compare "
        f"--num-threads 1 " + (f"--runs {runs}" if runs else f"--duration {seconds:g}")
    )
    return report


def ratio(report: Mapping[str, Any], method: str, reference: str) -> float:
    return median_us(report, method) / median_us(report, reference)


def targets(reports: Mapping[str, Mapping[str, Any]]) -> list[Target]:
    found = []
    for name in ("mobilenet_v2_uint8", "mobilenet_v2"):
        report = reports.get(name)
        if report is None:
            continue
        own = ratio(report, CALL, LITERT_COMPILED_MODEL)
        found.append(
            Target(
                f"{name}: pysig on LiteRT within 3% of ai_edge_litert CompiledModel",
                f"{own:.3f}x its time",
                own <= 1.03,
            )
        )
        measured = {m["name"] for m in report["methods"]}
        if name.endswith("uint8") and TFLITE_SIGNATURE_RUNNER in measured:
            speedup = ratio(report, TFLITE_SIGNATURE_RUNNER, CALL)
            found.append(
                Target(
                    f"{name}: >= 10x faster than tflite_runtime SignatureRunner",
                    f"{speedup:.1f}x faster",
                    speedup >= 10,
                )
            )
    tiny = reports.get("tiny")
    if tiny is not None:
        loop = tiny["loops_us"]
        speedup = loop[RUNNER_LOOP] / loop[CALL_LOOP]
        per_call = ratio(tiny, LITERT_SIGNATURE_RUNNER, CALL)
        compiled = ratio(tiny, LITERT_COMPILED_MODEL, CALL)
        margin = loop[INVOKE_LOOP] - loop[C_LOOP]
        per_call_margin = median_us(tiny, ZERO_COPY) - median_us(tiny, LITERT_FLOOR)
        timing = tiny["timing_overhead_us"]
        found += [
            Target(
                "tiny: dict call >= 2.5x faster than ai_edge_litert SignatureRunner",
                f"{speedup:.2f}x faster ({loop[CALL_LOOP]:.3f} vs {loop[RUNNER_LOOP]:.3f} us per "
                f"call in batches; call by call, p50s: {per_call:.2f}x, the {timing:.3f} us "
                "timing loop included on both sides)",
                speedup >= 2.5,
            ),
            Target(
                "tiny: dict call faster than ai_edge_litert CompiledModel write+run+read",
                f"{compiled:.2f}x faster",
                compiled > 1,
            ),
            Target(
                "tiny: zero-copy invoke() within 0.5 us of the LiteRT C loop",
                f"+{margin:.3f} us ({loop[INVOKE_LOOP]:.3f} vs {loop[C_LOOP]:.3f} us per call in "
                f"batches; call by call, p50s: +{per_call_margin:.3f} us, its timing loop "
                f"{timing:.3f} us included)",
                margin <= 0.5,
            ),
        ]
    return found


def markdown(reports: Mapping[str, Mapping[str, Any]]) -> str:
    first = next(iter(reports.values()))
    lines = [
        SECTION,
        "",
        (
            "Written by `benchmarks/bench_litert.py` (`pysig bench --compare`'s harness: each "
            "model in one process, every method timed call by call in interleaved rounds; "
            "medians). Load averages are those after each model's run: on this shared 2-core "
            "machine only ratios within one table mean much."
        ),
        "",
        environment_markdown(first),
        "",
        "### Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    lines += [
        f"| {t.description} | {t.measured} | {'yes' if t.met else 'NO'} |" for t in targets(reports)
    ]
    for name, report in reports.items():
        lines += ["", f"### {name}", "", f"`{report['command']}`", "", format_markdown(report)]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace the LiteRT section of RESULTS.md, keeping its notes as they are."""
    current = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    notes = ""
    if SECTION in current:
        before, _, rest = current.partition(SECTION)
        following = rest.find("\n## ")
        section = rest if following < 0 else rest[:following]
        if NOTES_HEADING in section:
            notes = "\n" + NOTES_HEADING + section.partition(NOTES_HEADING)[2].rstrip("\n") + "\n"
        current = before + (rest[following + 1 :] if following >= 0 else "")
    RESULTS_MD.write_text(current.rstrip("\n") + "\n\n" + text + notes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=2.0, help="seconds per method on the tiny model"
    )
    parser.add_argument("models", nargs="*", default=list(RUNS))
    args = parser.parse_args(argv)
    reports = {}
    for name in args.models:
        print(f"$ uptime: {os.getloadavg()[0]:.2f}; {name} ...", flush=True)
        reports[name] = measure(name, args.duration)
        print(format_table(reports[name]), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / JSON_NAME).write_text(json.dumps(reports, indent=2) + "\n")
    write_section(markdown(reports))
    for target in targets(reports):
        print(f"{'met' if target.met else 'MISSED'}: {target.description}: {target.measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
