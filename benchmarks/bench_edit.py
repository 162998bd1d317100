"""How long editing a model's signatures takes: the 14 MB MobileNetV2 of make_models.py.

    python benchmarks/bench_edit.py [--model benchmarks/.models/mobilenet_v2.tflite] [--runs 10]

Times, in this process, each step of ``SignatureEditor``: reading and verifying the file,
re-serializing it with the renamed signature (with the result's own verification), and
writing it atomically; then ``pysig signatures MODEL -o OUT --rename ...`` as a whole new
process (interpreter start-up and imports included). Prints min and median of each, wall clock and CPU time (on a shared machine the wall
clock includes waiting for a core); fails
when the in-process edit's median is not under ``--target`` seconds (the issue asks for
"well under a second").
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pysig.model import SignatureEditor, inspect_model

MODEL = Path(__file__).resolve().parent / ".models" / "mobilenet_v2.tflite"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.5)
    args = parser.parse_args()
    if not args.model.is_file():
        print(f"no {args.model}: build it with benchmarks/make_models.py", file=sys.stderr)
        return 2
    key = next(iter(inspect_model(args.model).signatures))
    steps: dict[str, list[float]] = {"read+verify": [], "edit+serialize": [], "write": []}
    totals: list[float] = []
    cpu: list[float] = []
    processes: list[float] = []
    process_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "edited.tflite"
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            editor = SignatureEditor(args.model)
            read = time.perf_counter()
            content = editor.rename(key, "classify").to_bytes()
            edited = time.perf_counter()
            editor.write(out)
            written = time.perf_counter()
            for name, seconds in zip(steps, (read - start, edited - read, written - edited)):
                steps[name].append(seconds)
            totals.append(written - start)
            cpu.append(time.process_time() - start_cpu)
            assert len(content) == out.stat().st_size
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pysig",
                    "signatures",
                    str(args.model),
                    "-o",
                    str(out),
                    "--rename",
                    f"{key}=classify",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            processes.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            process_cpu.append(
                after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            )
    size = args.model.stat().st_size / 1e6
    print(f"{args.model.name}: {size:.1f} MB, {args.runs} runs (seconds: min / median)")
    rows = [
        *steps.items(),
        ("in-process total", totals),
        ("  its CPU time", cpu),
        ("pysig signatures", processes),
        ("  its CPU time", process_cpu),
    ]
    for name, values in rows:
        print(f"  {name:<18} {min(values):.3f} / {statistics.median(values):.3f}")
    return 0 if statistics.median(totals) < args.target else 1


if __name__ == "__main__":
    sys.exit(main())
