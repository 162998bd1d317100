"""Per-call overhead on a tiny model: pysig's dict call and zero-copy invoke on the tflite
runtime against tflite_runtime's ``SignatureRunner.__call__``, in one run (the demo
model's ``add``).

    python benchmarks/bench_call.py [--duration S]

Targets (DESIGN.md section 4): the dict call at least 5x faster than tflite_runtime's
SignatureRunner; the zero-copy ``invoke()`` within 0.6 us of ``Invoke()`` in a C++ loop.
The harness is `pysig bench --compare`'s (src/pysig/bench/core.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping, NamedTuple, Sequence

import pysig
from pysig.bench.core import Benchmark, BenchOptions
from pysig.bench.methods import (
    FLOOR,
    PYSIG_CALL,
    PYSIG_ZERO_COPY,
    TFLITE_SIGNATURE_RUNNER,
    method_name,
)
from pysig.bench.report import format_table

CALL = method_name(PYSIG_CALL, "tflite")
ZERO_COPY = method_name(PYSIG_ZERO_COPY, "tflite")
TFLITE_FLOOR = method_name(FLOOR, "tflite")
CALL_SPEEDUP_TARGET = 5.0
ZERO_COPY_MARGIN_US = 0.6


class Target(NamedTuple):
    description: str
    measured: str
    met: bool


def median_us(report: Mapping[str, Any], method: str) -> float:
    for stats in report["methods"]:
        if stats["name"] == method:
            return float(stats["p50_us"])
    raise KeyError(f"the report has no method {method!r}")


def call_targets(report: Mapping[str, Any]) -> list[Target]:
    """The tiny-model targets, from a `pysig bench --compare` report (medians)."""
    speedup = median_us(report, TFLITE_SIGNATURE_RUNNER) / median_us(report, CALL)
    over_floor = median_us(report, ZERO_COPY) - median_us(report, TFLITE_FLOOR)
    return [
        Target(
            f"dict call >= {CALL_SPEEDUP_TARGET:g}x faster than tflite_runtime SignatureRunner",
            f"{speedup:.2f}x faster",
            speedup >= CALL_SPEEDUP_TARGET,
        ),
        Target(
            f"zero-copy invoke() within {ZERO_COPY_MARGIN_US} us of the C++ Invoke() loop",
            f"+{over_floor:.3f} us",
            over_floor <= ZERO_COPY_MARGIN_US,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=2.0, help="seconds per method (default: 2)"
    )
    args = parser.parse_args(argv)
    interpreter = pysig.Interpreter(pysig.DEMO_MODEL_PATH, runtime="tflite")
    options = BenchOptions(duration=args.duration, compare=True)
    report = Benchmark(interpreter, pysig.DEMO_MODEL_PATH, "add", options).run()
    print(format_table(report))
    print()
    for target in call_targets(report):
        print(f"{'met' if target.met else 'MISSED'}: {target.description}: {target.measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
