"""``pysig bench``: time one signature call by call; ``--compare`` adds the runtime's own APIs."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from ..bench import plot
from ..bench.core import DEFAULT_DURATION, DEFAULT_WARMUP, MODES, Benchmark, BenchOptions
from ..bench.report import format_table
from .common import (
    add_command,
    add_input_options,
    interruptible,
    load,
    non_negative_int,
    positive_float,
    positive_int,
    several_signatures,
    signature_keys,
)

DEMO_BENCH_SIGNATURE = "add"


def add_parser(commands: Any) -> None:
    command = add_command(
        commands,
        "bench",
        _bench,
        help="time a signature; with --compare, side by side with the runtimes' own APIs",
        description="Time one signature call by call and print min, p50, p90, p99 and max "
        "latency, throughput and the process's peak RSS. Inputs are random values of each "
        "input's dtype and shape, as for 'pysig run'.",
        epilog="Without --signature: the model's only signature; for the demo model, 'add'. "
        "Methods: 'call' times runner(**inputs) (copies in and out); 'zero-copy' times "
        "runner.invoke() on inputs already in the tensors, outputs read in place. --compare "
        "adds pysig on every other installed runtime, tflite_runtime's SignatureRunner.__call__ "
        "and index API (set_tensor, invoke, get_tensor), ai_edge_litert's SignatureRunner and "
        "CompiledModel (write the input buffers, run_by_index, read the outputs), and each "
        "runtime's floor, its run call timed in a C++ loop; all methods run in interleaved "
        "rounds in one process, and the table gives each one's median time over its "
        "runtime's floor's and over each runtime's SignatureRunner's. Times include the timing "
        "loop itself (tens of nanoseconds); the garbage collector is paused while timing.",
    )
    command.add_argument(
        "--signature", metavar="KEY", help="the signature to time (see below for the default)"
    )
    amount = command.add_mutually_exclusive_group()
    amount.add_argument("--runs", type=positive_int, metavar="N", help="timed calls per method")
    amount.add_argument(
        "--duration",
        type=positive_float,
        metavar="S",
        help=f"seconds of timed calls per method, at most 1e6 calls (default: {DEFAULT_DURATION:g})",
    )
    command.add_argument(
        "--warmup",
        type=non_negative_int,
        default=DEFAULT_WARMUP,
        metavar="N",
        help=f"untimed calls per method first (default: {DEFAULT_WARMUP})",
    )
    command.add_argument(
        "--mode",
        choices=list(MODES),
        default="both",
        help="pysig call paths to time (default: both)",
    )
    command.add_argument(
        "--compare",
        action="store_true",
        help="also time pysig on each installed runtime, the runtimes' own APIs and the floors",
    )
    command.add_argument(
        "--json",
        metavar="FILE",
        help="write every figure, the machine, versions and options as JSON to FILE "
        "('-': to stdout, instead of the table)",
    )
    command.add_argument(
        "--plot",
        metavar="FILE",
        help="write a PNG of each method's latency distribution (needs matplotlib: "
        "pip install 'pysig[plot]')",
    )
    add_input_options(command)


def _bench(args: argparse.Namespace) -> int:
    if args.plot is not None:
        plot.check_available()
    interpreter, path = load(args)
    keys = signature_keys(args, interpreter)
    if len(keys) == 1:
        key = keys[0]
    elif args.model is None:
        key = DEMO_BENCH_SIGNATURE
    else:
        raise several_signatures(keys, "choose one with --signature")
    options = BenchOptions(
        runs=args.runs,
        duration=args.duration,
        warmup=args.warmup,
        num_threads=args.num_threads,
        mode=args.mode,
        compare=args.compare,
        shapes=dict(args.shape or []),
        seed=args.seed,
    )
    benchmark = Benchmark(interpreter, path, key, options)
    with _progress_bar(args.json is None and sys.stdout.isatty()) as bar:
        report = interruptible(functools.partial(benchmark.run, bar), benchmark.cancel)
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    if args.json not in (None, "-"):
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2)
    if args.plot is not None:
        title = f"{os.path.basename(path)}: signature {key!r}"
        plot.write_plot(args.plot, [report], [title])
    return 0


@contextlib.contextmanager
def _progress_bar(shown: bool) -> Iterator[Callable[[float], None] | None]:
    """A progress bar on stderr, or None. It redraws only when its percentage changes,
    from the benchmark's own thread: no refresh thread competes with the timed calls."""
    if not shown:
        yield None
        return
    columns = (TextColumn("benchmarking"), BarColumn(), TaskProgressColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, auto_refresh=False, transient=True) as progress:
        task = progress.add_task("benchmarking", total=100)
        shown_percent = [-1]

        def update(fraction: float) -> None:
            percent = int(fraction * 100)
            if percent != shown_percent[0]:
                shown_percent[0] = percent
                progress.update(task, completed=percent, refresh=True)

        yield update
