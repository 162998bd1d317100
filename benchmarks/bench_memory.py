"""Memory over a million calls: the process's resident set size must not grow.

    python benchmarks/bench_memory.py [--calls 1000000] [--every 100000]

Runs the demo model's ``add`` signature through each call path, a million
times each, and prints the resident set size (VmRSS) at intervals. Growth is
measured from the first interval (after warm-up: caches, allocator pools) to
the last; more than ``--tolerance-kib`` of growth on any path fails the run.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import Callable

import numpy as np

import pysig


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def paths(add: pysig.SignatureRunner) -> dict[str, Callable[[], object]]:
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    y = np.ones((1, 4), np.float32)
    out = {"sum": np.empty((1, 4), np.float32)}
    held_x, held_y = add.inputs["x"], add.inputs["y"]

    def zero_copy() -> object:
        held_x[...] = x
        held_y[...] = y
        add.invoke()
        return add.outputs["sum"]  # a fresh view each call: guards are created and freed

    return {
        "dict call runner(x=, y=)": lambda: add(x=x, y=y),
        "run(inputs, out=)": lambda: add.run({"x": x, "y": y}, out=out),
        "zero-copy views + invoke()": zero_copy,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--tolerance-kib", type=int, default=256)
    args = parser.parse_args()
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    add = interp.get_signature_runner("add")
    failed = False
    for name, call in paths(add).items():
        samples = []
        start = time.perf_counter()
        for i in range(1, args.calls + 1):
            call()
            if i % args.every == 0:
                gc.collect()
                samples.append(rss_kib())
        seconds = time.perf_counter() - start
        growth = samples[-1] - samples[0]
        failed |= growth > args.tolerance_kib
        print(
            f"{name}: {args.calls} calls in {seconds:.1f} s ({seconds / args.calls * 1e6:.2f} us "
            f"each); RSS KiB every {args.every}: {samples}; growth after the first interval: "
            f"{growth} KiB"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
