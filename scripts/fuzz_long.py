"""The long fuzz campaign: damaged models against pysig and against plain tflite_runtime.

    python scripts/fuzz_long.py [--cases 5000] [--seed 2024]
                                [--mode both|pysig|tflite|ai_edge_litert]

Builds the mutation corpus of tests/fuzz (truncated, bit-flipped, byte-set and
spliced variants of every committed test model and the demo model), runs each
case in child processes (a crash kills a child, not this script) and reports,
for each side, how many cases crashed the process, hung, were refused at load,
or loaded and ran. pysig's side loads each case with pysig.Interpreter and
runs every signature with generated inputs; tflite_runtime's side builds
Interpreter(model_content=...), allocates and invokes every signature the same
way; ai_edge_litert's side (``--mode ai_edge_litert``) runs each case with its own
CompiledModel, from a file. pysig must crash on none; the others' counts show what it
prevents.
Exits with status 1 if pysig crashed or hung on any case.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))

from fuzz_campaign import run_campaign
from fuzz_corpus import corpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--mode", choices=("both", "pysig", "tflite", "ai_edge_litert"), default="both"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    cases = corpus(args.cases, args.seed)
    modes = ("pysig", "tflite") if args.mode == "both" else (args.mode,)
    failed = False
    for mode in modes:
        summary = run_campaign(mode, cases, batch_size=args.batch_size, workers=args.workers)
        print(summary.report(), flush=True)
        print(f"  outcomes: {dict(summary.outcomes.most_common())}\n", flush=True)
        failed |= mode == "pysig" and bool(summary.crashes or summary.hangs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
