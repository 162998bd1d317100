"""What running a Flex model costs the process: TensorFlow's library loaded by pysig (no
`import tensorflow`), side by side with `import tensorflow`, each in fresh processes.

Needs the pysig[flex] extra. Run: python benchmarks/bench_flex.py [--runs 5]
Prints, per way, the median seconds and resident-memory growth over the runs; the first
run of each way also shows how much a cold page cache adds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

FLEX_MODEL = (
    Path(__file__).resolve().parent.parent / "tests" / "models" / "flex_encode_decode.tflite"
)

# Each measures one step after `import pysig`, in seconds and in KiB of resident memory.
PROBE = """
import json, resource, sys, time
import pysig

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

before, start = rss_kib(), time.perf_counter()
{step}
print(json.dumps({{"seconds": time.perf_counter() - start, "rss_kib": rss_kib() - before}}))
"""

STEPS = {
    "pysig preloads TensorFlow's library for a Flex model": (
        "from pysig.model import inspect_model\n"
        "from pysig.runtime.flex import prepare_flex\n"
        f"model = inspect_model({str(FLEX_MODEL)!r})\n"
        "start = time.perf_counter()\n"
        "prepare_flex(model, 'flex')"
    ),
    "import tensorflow": "import tensorflow",
    "a Flex model's first Interpreter, library included": (
        f"pysig.Interpreter({str(FLEX_MODEL)!r})"
    ),
}


def measure(step: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(step=step)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per way")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in STEPS}
    for _ in range(args.runs):  # interleaved, so that machine load hits every way alike
        for name, step in STEPS.items():
            runs[name].append(measure(step))
    for name, results in runs.items():
        seconds = [r["seconds"] for r in results]
        rss = [r["rss_kib"] / 1024 for r in results]
        print(
            f"{name}: median {statistics.median(seconds):.3f} s (first run {seconds[0]:.3f} s), "
            f"+{statistics.median(rss):.0f} MiB resident"
        )


if __name__ == "__main__":
    main()
