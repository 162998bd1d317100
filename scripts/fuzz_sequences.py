"""The long call-sequence campaign, against pysig and against plain tflite_runtime.

    python scripts/fuzz_sequences.py [--sequences 2000] [--seed 2024]
        [--mode both|pysig|tflite] [--runtime auto|tflite|litert]

Runs the sequences of tests/fuzz/sequence_corpus.py (good and bad calls, views,
resizes, cancels over every loadable test model, both op resolvers), each batch
in a child process, and reports for each side the sequences, calls, refusals
and comparisons with a reference interpreter, and the crashes, hangs and
findings (a result that differs from the reference's, a false OutOfMemoryError).
tflite_runtime's side makes the same calls through its SignatureRunner (it has
no views or resizes of its own). ``--runtime`` is passed to pysig.Interpreter
only when given. Exits with status 1 if pysig crashed, hung or had a finding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))

from fuzz_campaign import Harness, run_campaign
from sequence_corpus import corpus, counts, describe

DRIVER = Path(__file__).resolve().parent.parent / "tests" / "fuzz" / "sequence_driver.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--mode", choices=("both", "pysig", "tflite"), default="both")
    parser.add_argument("--runtime", choices=("auto", "tflite", "litert"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    # slow.tflite's sequences take tens of seconds on the reference kernels of a busy machine.
    parser.add_argument("--case-timeout", type=float, default=300.0)
    args = parser.parse_args()
    cases = corpus(args.sequences, args.seed)
    pysig_mode = f"pysig:{args.runtime}" if args.runtime else "pysig"
    modes = (
        (pysig_mode, "tflite")
        if args.mode == "both"
        else (pysig_mode if args.mode == "pysig" else "tflite",)
    )
    harness = Harness(DRIVER, describe)
    failed = False
    for mode in modes:
        summary = run_campaign(
            mode,
            cases,
            batch_size=args.batch_size,
            workers=args.workers,
            case_timeout=args.case_timeout,
            harness=harness,
        )
        totals = counts(summary.by_case)
        print(
            f"{mode}: {summary.cases} sequences in {summary.seconds:.0f} s: "
            f"{len(summary.crashes)} crashed the process, {len(summary.hangs)} hung, "
            f"{len(summary.unexpected)} had findings; the {totals['sequences']} that finished "
            f"made {totals['calls']} calls, {totals['refusals']} refused, "
            f"{totals['compared']} compared with the reference",
            flush=True,
        )
        for line in summary.report().splitlines()[1:]:
            print(line, flush=True)
        failed |= mode != "tflite" and bool(summary.crashes or summary.hangs or summary.unexpected)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
