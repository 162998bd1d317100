"""Run the benchmark suite and write benchmarks/RESULTS.md and benchmarks/results/.

    python benchmarks/make_models.py   # once, with tensorflow-cpu==2.14.1 (see that file)
    python benchmarks/run.py           # with pysig installed; a few minutes on 2 cores

Each model runs in its own process (`pysig bench MODEL --compare --json ...`), so each
peak RSS is its own. RESULTS.md is rewritten except for its "## Notes" section, which is
kept as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

from bench_call import CALL as PYSIG_CALL
from bench_call import TFLITE_FLOOR as FLOOR
from bench_call import ZERO_COPY as PYSIG_ZERO_COPY
from bench_call import Target, call_targets, median_us

from pysig.bench.methods import TFLITE_INDEX_API, TFLITE_SIGNATURE_RUNNER
from pysig.bench.plot import write_plot
from pysig.bench.report import environment_markdown, format_markdown

HERE = Path(__file__).resolve().parent
MODELS = HERE / ".models"
RESULTS = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
PLOT = RESULTS / "latency.png"
NOTES_HEADING = "## Notes"

# "Close to Invoke() alone" and "within 2%" of DESIGN.md section 4, as checked here.
ZERO_COPY_CLOSE = 1.05
COPY_NO_SLOWER = 1.0
COMPUTE_BOUND_MARGIN = 0.02


class Case(NamedTuple):
    name: str
    title: str
    options: Sequence[str]


SUITE = [
    Case("tiny", "Tiny model (two float32 scalars in, two out)", ["--duration", "2"]),
    Case("io_heavy", "I/O-heavy model (float32[1,512,512,3] in and out)", ["--duration", "3"]),
    Case(
        "mobilenet_v2",
        "MobileNetV2, float32, random weights, 1 thread",
        ["--runs", "250", "--num-threads", "1"],
    ),
    # About 60 ms per call: XNNPACK in tflite-runtime 2.14 leaves uint8 (QU8) models to
    # the builtin kernels unless asked otherwise.
    Case(
        "mobilenet_v2_uint8",
        "MobileNetV2, uint8-quantized, 1 thread",
        ["--runs", "150", "--num-threads", "1"],
    ),
]


def bench(case: Case) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    output = RESULTS / f"{case.name}.json"
    model = MODELS / f"{case.name}.tflite"
    # The tflite runtime's figures: pysig on LiteRT is benchmarks/bench_litert.py's.
    command = [
        sys.executable,
        "-m",
        "pysig",
        "bench",
        str(model),
        "--runtime",
        "tflite",
        "--compare",
        *case.options,
    ]
    print(f"$ {' '.join(['pysig', *command[3:]])}", flush=True)
    subprocess.run([*command, "--json", str(output)], check=True)
    print(flush=True)
    report: dict[str, Any] = json.loads(output.read_text())
    report["command"] = " ".join(["pysig bench", f"benchmarks/.models/{model.name}", *command[5:]])
    return report


def ratio(report: Mapping[str, Any], method: str, reference: str) -> float:
    return median_us(report, method) / median_us(report, reference)


def targets(reports: Mapping[str, Mapping[str, Any]]) -> list[Target]:
    found = call_targets(reports["tiny"])
    io = reports["io_heavy"]
    zero_copy = ratio(io, PYSIG_ZERO_COPY, FLOOR)
    copying = ratio(io, PYSIG_CALL, TFLITE_SIGNATURE_RUNNER)
    found += [
        Target(
            f"I/O-heavy: zero-copy invoke() within {ZERO_COPY_CLOSE - 1:.0%} of Invoke() alone",
            f"{zero_copy:.3f}x the floor",
            zero_copy <= ZERO_COPY_CLOSE,
        ),
        Target(
            "I/O-heavy: dict call no slower than tflite_runtime SignatureRunner",
            f"{copying:.3f}x its time",
            copying <= COPY_NO_SLOWER,
        ),
    ]
    for name in ("mobilenet_v2", "mobilenet_v2_uint8"):
        compute = ratio(reports[name], PYSIG_CALL, TFLITE_SIGNATURE_RUNNER)
        found.append(
            Target(
                f"{name}: dict call within {COMPUTE_BOUND_MARGIN:.0%} of tflite_runtime "
                "SignatureRunner",
                f"{compute:.3f}x its time",
                abs(compute - 1) <= COMPUTE_BOUND_MARGIN,
            )
        )
    return found


def ratios_table(reports: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every model's median-time ratios side by side."""
    columns = [
        ("dict call / tflite SR", PYSIG_CALL, TFLITE_SIGNATURE_RUNNER),
        ("zero-copy / tflite SR", PYSIG_ZERO_COPY, TFLITE_SIGNATURE_RUNNER),
        ("index API / tflite SR", TFLITE_INDEX_API, TFLITE_SIGNATURE_RUNNER),
        ("dict call / floor", PYSIG_CALL, FLOOR),
        ("zero-copy / floor", PYSIG_ZERO_COPY, FLOOR),
        ("tflite SR / floor", TFLITE_SIGNATURE_RUNNER, FLOOR),
    ]
    lines = [
        "| model | " + " | ".join(title for title, _, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, report in reports.items():
        cells = [f"{ratio(report, method, reference):.3f}" for _, method, reference in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(reports: Mapping[str, Mapping[str, Any]], notes: str) -> str:
    first = next(iter(reports.values()))
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# pysig benchmark results",
        "",
        f"Written by `benchmarks/run.py` on {now}. Models from `benchmarks/make_models.py`.",
        "",
        environment_markdown(first),
        "",
        "All methods of a model run in one process, in interleaved rounds. Times are per call;",
        "ratios compare median times (below 1: faster than the reference). The floor is",
        "`Invoke()` timed in a C++ loop inside the extension. Figures in `results/*.json`.",
        "",
        "## Targets (DESIGN.md section 4)",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
        *(
            f"| {t.description} | {t.measured} | {'yes' if t.met else '**no**'} |"
            for t in targets(reports)
        ),
        "",
        "## Ratios",
        "",
        *ratios_table(reports),
        "",
    ]
    for case in SUITE:
        report = reports[case.name]
        lines += [f"## {case.title}", "", f"`{report['command']}`", "", format_markdown(report), ""]
    lines += [f"![latency distributions]({PLOT.relative_to(HERE)})", "", notes.rstrip(), ""]
    return "\n".join(lines)


def kept_notes() -> str:
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    start = text.find(NOTES_HEADING)
    return text[start:] if start >= 0 else f"{NOTES_HEADING}\n\n(none yet)\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    missing = [case.name for case in SUITE if not (MODELS / f"{case.name}.tflite").exists()]
    if missing:
        print(
            f"missing models {', '.join(missing)} in {MODELS}: build them with a Python that "
            "has tensorflow-cpu==2.14.1: python benchmarks/make_models.py",
            file=sys.stderr,
        )
        return 1
    reports = {case.name: bench(case) for case in SUITE}
    write_plot(str(PLOT), list(reports.values()), [case.title for case in SUITE])
    RESULTS_MD.write_text(markdown(reports, kept_notes()))
    for target in targets(reports):
        print(f"{'met' if target.met else 'MISSED'}: {target.description}: {target.measured}")
    print(f"wrote {RESULTS_MD.relative_to(HERE.parent)} and {PLOT.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
