"""The ``pysig`` command: ``info``, ``run`` and ``bench`` on a model file or the demo model.

Exit status: 0 on success, 1 when the model cannot be loaded or run, 2 for bad
arguments (argparse's convention), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
import tflite_runtime

from . import _bench_plot
from ._bench import DEFAULT_DURATION, DEFAULT_WARMUP, MODES, Benchmark, BenchOptions
from ._bench_inputs import (
    BadArgument,
    check_names,
    describe,
    dtype_name,
    is_quantized,
    is_string,
    parse_input_file,
    parse_shape,
    random_input,
    resolve_shapes,
)
from ._bench_report import format_bytes, format_table
from ._resources import DEMO_MODEL_PATH
from ._version import __version__
from .errors import InvokeError, PysigError
from .interpreter import Interpreter
from .signature_runner import SignatureRunner

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEMO_BENCH_SIGNATURE = "add"
_PRINT_OPTIONS: dict[str, Any] = {
    "precision": 4,
    "suppress": True,
    "threshold": 48,
    "edgeitems": 3,
    "linewidth": 96,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except BadArgument as error:
        command: argparse.ArgumentParser = args.parser
        command.error(str(error))  # exits with status 2
    except _bench_plot.PlotUnavailable as error:
        print(f"pysig: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pysig: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    # tflite_runtime reports its own failures as ValueError or RuntimeError.
    except (PysigError, OSError, ValueError, RuntimeError) as error:
        print(f"pysig: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pysig",
        description="Inspect, run and benchmark TensorFlow Lite models by signature.",
        epilog="With no MODEL, every command uses the demo model shipped in the package "
        f"({os.path.basename(DEMO_MODEL_PATH)}). Run 'pysig COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__} (tflite-runtime {tflite_runtime.__version__}, "
        f"numpy {np.__version__}, Python {sys.version.split()[0]})",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    _add_info(commands)
    _add_run(commands)
    _add_bench(commands)
    return parser


def _add_command(
    commands: Any, name: str, handler: Callable[[argparse.Namespace], int], **kwargs: Any
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, **kwargs)
    command.set_defaults(handler=handler, parser=command)
    command.add_argument(
        "model", nargs="?", metavar="MODEL", help="a .tflite file (default: the demo model)"
    )
    return command


def _add_info(commands: Any) -> None:
    command = _add_command(
        commands,
        "info",
        _info,
        help="show signatures, input and output names, dtypes, shapes and quantization",
        description="Show each signature's inputs and outputs: name, dtype, shape, shape "
        "signature (-1 marks a dynamic dimension), quantization (scale and zero point) and "
        "the tensor behind it. A model without SignatureDefs shows the signature pysig "
        "synthesizes for it ('serving_default', named by tensor names).",
    )
    command.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_run(commands: Any) -> None:
    command = _add_command(
        commands,
        "run",
        _run,
        help="run signatures on random or given inputs and print the outputs",
        description="Run a signature once and print its inputs and outputs. Inputs not given "
        "with --input get random values of their dtype and shape: floats standard normal, "
        "quantized integers over their whole range, other integers in [0, 10), random bools, "
        "strings as random bytes. Dynamic dimensions are 1 unless --shape says otherwise.",
        epilog="Without --signature, every signature of the model runs, in order; --input and "
        "--shape then need --signature when there are several. Ctrl-C cancels the invocation "
        "in progress and exits with status 130 (the runtime checks for cancellation between "
        "graph nodes: a graph that XNNPACK runs as one node finishes first).",
    )
    command.add_argument("--signature", metavar="KEY", help="the signature to run")
    command.add_argument(
        "--input",
        action="append",
        type=parse_input_file,
        metavar="NAME=FILE.npy",
        help="take input NAME from a .npy file (repeatable)",
    )
    command.add_argument(
        "--output-dir",
        metavar="DIR",
        help="also save the inputs and outputs as DIR/SIGNATURE/{inputs,outputs}/NAME.npy "
        "(strings as numpy bytes arrays)",
    )
    _add_input_options(command)


def _add_bench(commands: Any) -> None:
    command = _add_command(
        commands,
        "bench",
        _bench,
        help="time a signature; with --compare, side by side with tflite_runtime",
        description="Time one signature call by call and print min, p50, p90, p99 and max "
        "latency, throughput and the process's peak RSS. Inputs are random values of each "
        "input's dtype and shape, as for 'pysig run'.",
        epilog="Without --signature: the model's only signature; for the demo model, 'add'. "
        "Methods: 'call' times runner(**inputs) (copies in and out); 'zero-copy' times "
        "runner.invoke() on inputs already in the tensors, outputs read in place. --compare "
        "adds tflite_runtime's SignatureRunner.__call__, its index API (set_tensor, invoke, "
        "get_tensor) and the floor, Invoke() timed in a C++ loop; all methods run in "
        "interleaved rounds in one process, and the table gives each one's median time over "
        "the floor's and over tflite_runtime's SignatureRunner's. Times include the timing "
        "loop itself (tens of nanoseconds); the garbage collector is paused while timing.",
    )
    command.add_argument(
        "--signature", metavar="KEY", help="the signature to time (see below for the default)"
    )
    amount = command.add_mutually_exclusive_group()
    amount.add_argument("--runs", type=_positive_int, metavar="N", help="timed calls per method")
    amount.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help=f"seconds of timed calls per method, at most 1e6 calls (default: {DEFAULT_DURATION:g})",
    )
    command.add_argument(
        "--warmup",
        type=_non_negative_int,
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
        "--compare", action="store_true", help="also time tflite_runtime and the C++ floor"
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
    _add_input_options(command)


def _add_input_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--shape",
        action="append",
        type=parse_shape,
        metavar="NAME=D0,D1,...",
        help="run input NAME with this shape, e.g. x=4,224,224,3 (repeatable)",
    )
    command.add_argument(
        "--seed", type=int, default=0, help="seed of the random inputs (default: 0)"
    )
    command.add_argument(
        "--num-threads", type=_positive_int, metavar="T", help="threads the runtime may use"
    )


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _load(args: argparse.Namespace) -> tuple[Interpreter, str]:
    path = DEMO_MODEL_PATH if args.model is None else args.model
    return Interpreter(path, num_threads=getattr(args, "num_threads", None)), path


def _checked_key(interpreter: Interpreter, key: str) -> str:
    keys = list(interpreter.get_signature_list())
    if key not in keys:
        raise BadArgument(
            f"--signature: the model has no signature {key!r} (its signatures: "
            f"{', '.join(map(repr, keys))})"
        )
    return key


# --- info -------------------------------------------------------------------------------


def _info(args: argparse.Namespace) -> int:
    interpreter, path = _load(args)
    with interpreter:
        description = describe_model(interpreter, path)
    if args.json:
        print(json.dumps(description, indent=2))
    else:
        print(format_info(description))
    return 0


def describe_model(interpreter: Interpreter, path: str) -> dict[str, Any]:
    """The model's signatures and tensors as JSON-ready data (``pysig info --json``)."""
    signatures = {}
    for key in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(key)
        signatures[key] = {
            "subgraph_index": runner.subgraph_index,
            # Private, but this package's own: the CLI tells users when a signature is synthesized.
            "synthesized": runner._signature.synthesized,
            "inputs": _tensors_json(runner.get_input_details()),
            "outputs": _tensors_json(runner.get_output_details()),
        }
    return {
        "model": os.path.abspath(path),
        "bytes": os.path.getsize(path),
        "signatures": signatures,
    }


def _tensors_json(details: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {
        name: {
            "tensor": d["name"],
            "index": int(d["index"]),
            "dtype": dtype_name(d["dtype"]),
            "shape": [int(x) for x in d["shape"]],
            "shape_signature": [int(x) for x in d["shape_signature"]],
            "quantization": _quantization_json(d),
        }
        for name, d in details.items()
    }


def _quantization_json(detail: Mapping[str, Any]) -> dict[str, Any] | None:
    if not is_quantized(detail):
        return None
    params = detail["quantization_parameters"]
    return {
        "scales": [float(s) for s in params["scales"]],
        "zero_points": [int(z) for z in params["zero_points"]],
        "quantized_dimension": int(params["quantized_dimension"]),
    }


def format_info(description: Mapping[str, Any]) -> str:
    signatures = description["signatures"]
    size = format_bytes(description["bytes"])
    lines = [f"model: {description['model']} ({size}), {len(signatures)} signature(s)"]
    for key, signature in signatures.items():
        note = ", synthesized: the model has no SignatureDefs" if signature["synthesized"] else ""
        lines += ["", f"signature {key!r} (subgraph {signature['subgraph_index']}{note})"]
        rows = [
            [
                kind,
                name,
                t["dtype"],
                f"shape {t['shape']}",
                f"shape_signature {t['shape_signature']}",
                f"tensor {t['tensor']!r} #{t['index']}",
                _quantization_text(t["quantization"]),
            ]
            for kind, tensors in (("input", signature["inputs"]), ("output", signature["outputs"]))
            for name, t in tensors.items()
        ]
        lines += _aligned(rows, indent="  ") or ["  (no inputs or outputs)"]
    return "\n".join(lines)


def _quantization_text(quantization: Mapping[str, Any] | None) -> str:
    if quantization is None:
        return ""
    scales, zero_points = quantization["scales"], quantization["zero_points"]
    if len(scales) == 1:
        return f"quantized: scale {scales[0]:.6g}, zero point {zero_points[0]}"
    return (
        f"quantized per channel (axis {quantization['quantized_dimension']}): {len(scales)} "
        f"scales in [{min(scales):.6g}, {max(scales):.6g}], zero points in "
        f"[{min(zero_points)}, {max(zero_points)}]"
    )


def _aligned(rows: list[list[str]], indent: str) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


# --- run --------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    interpreter, _ = _load(args)
    given = dict(args.input or [])
    shapes = dict(args.shape or [])
    keys = list(interpreter.get_signature_list())
    if args.signature is not None:
        keys = [_checked_key(interpreter, args.signature)]
    elif (given or shapes) and len(keys) > 1:
        raise BadArgument(
            f"--input and --shape need --signature: the model has {len(keys)} signatures "
            f"({', '.join(map(repr, keys))})"
        )
    both = sorted(set(given) & set(shapes))
    if both:
        raise BadArgument(f"input {both[0]!r} has both --input and --shape: give one")
    rng = np.random.default_rng(args.seed)
    for position, key in enumerate(keys):
        runner = interpreter.get_signature_runner(key)
        inputs, outputs = _run_signature(runner, given, shapes, rng)
        print(("\n" if position else "") + _run_text(key, inputs, outputs, given), flush=True)
        if args.output_dir is not None:
            _save(os.path.join(args.output_dir, key), inputs, outputs)
    return 0


def _run_signature(
    runner: SignatureRunner,
    given: Mapping[str, str],
    shapes: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, np.ndarray[Any, Any]]]:
    """Inputs (read or random) and the outputs of one call."""
    details = runner.get_input_details()
    key = runner.signature_key
    check_names(given, details, "--input", key)
    resolved = resolve_shapes(details, shapes, key)
    inputs = {
        name: np.load(given[name], allow_pickle=False)
        if name in given
        else random_input(detail, resolved[name], rng)
        for name, detail in details.items()
    }
    try:
        outputs = _interruptible(functools.partial(runner, **inputs), runner.cancel)
    except InvokeError as error:
        random = [name for name in inputs if name not in given]
        if not random:
            raise
        # Random values break models that expect, say, valid indices.
        raise InvokeError(
            f"{error} (random values were used for {', '.join(map(repr, random))}; "
            "give real ones with --input NAME=FILE.npy)"
        ) from error
    return inputs, outputs


def _run_text(
    key: str,
    inputs: Mapping[str, np.ndarray[Any, Any]],
    outputs: Mapping[str, np.ndarray[Any, Any]],
    given: Mapping[str, str],
) -> str:
    lines = [f"signature {key!r}"]
    with np.printoptions(**_PRINT_OPTIONS):
        for name, value in inputs.items():
            source = f"from {given[name]}" if name in given else "random"
            lines += _array_lines("input", name, value, source)
        for name, value in outputs.items():
            lines += _array_lines("output", name, value, "")
    return "\n".join(lines)


def _save(
    directory: str,
    inputs: Mapping[str, np.ndarray[Any, Any]],
    outputs: Mapping[str, np.ndarray[Any, Any]],
) -> None:
    for kind, arrays in (("inputs", inputs), ("outputs", outputs)):
        os.makedirs(os.path.join(directory, kind), exist_ok=True)
        for name, value in arrays.items():
            # Object arrays would need pickle to load; strings are saved as bytes arrays.
            array = np.asarray(value.tolist(), dtype=np.bytes_) if is_string(value.dtype) else value
            path = os.path.join(directory, kind, name.replace(os.sep, "_") + ".npy")
            np.save(path, array, allow_pickle=False)


def _array_lines(kind: str, name: str, value: np.ndarray[Any, Any], note: str) -> list[str]:
    heading = f"  {kind} {name}: {describe(value.dtype, value.shape)}"
    body = np.array2string(value, prefix="    ")
    return [heading + (f" ({note})" if note else ""), "    " + body]


def _interruptible(work: Callable[[], T], cancel: Callable[[], None]) -> T:
    """Run ``work`` in a worker thread so that Ctrl-C reaches the main thread at once;
    on Ctrl-C, ``cancel()`` stops the work, the worker is waited for, and
    KeyboardInterrupt propagates."""
    result: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            result.append(work())
        except BaseException as error:  # noqa: BLE001  (re-raised in the main thread)
            failure.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=target, name="pysig-cli-worker")
    worker.start()
    # Waiting on an Event, not on Thread.join(): before Python 3.13, a join() interrupted
    # by Ctrl-C marks the thread as finished although it is still running.
    try:
        done.wait()
    except KeyboardInterrupt:
        cancel()
        done.wait()
        raise
    finally:
        worker.join()
    if failure:
        raise failure[0]
    return result[0]


# --- bench ------------------------------------------------------------------------------


def _bench(args: argparse.Namespace) -> int:
    if args.plot is not None:
        _bench_plot.check_available()
    interpreter, path = _load(args)
    keys = list(interpreter.get_signature_list())
    if args.signature is not None:
        key = _checked_key(interpreter, args.signature)
    elif args.model is None:
        key = DEMO_BENCH_SIGNATURE
    elif len(keys) == 1:
        key = keys[0]
    else:
        raise BadArgument(
            f"the model has {len(keys)} signatures: choose one with --signature "
            f"({', '.join(map(repr, keys))})"
        )
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
    bar = _ProgressBar() if args.json is None and sys.stdout.isatty() else None
    try:
        report = _interruptible(functools.partial(benchmark.run, bar), benchmark.cancel)
    finally:
        if bar is not None:
            bar.close()
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    if args.json not in (None, "-"):
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2)
    if args.plot is not None:
        title = f"{os.path.basename(path)}: signature {key!r}"
        _bench_plot.write_plot(args.plot, [report], [title])
    return 0


class _ProgressBar:
    """A one-line progress bar on stderr, redrawn in place."""

    WIDTH = 30

    def __init__(self) -> None:
        self._shown = -1

    def __call__(self, fraction: float) -> None:
        filled = int(fraction * self.WIDTH)
        if filled == self._shown:
            return
        self._shown = filled
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        sys.stderr.write(f"\rbenchmarking [{bar}] {fraction:4.0%}")
        sys.stderr.flush()

    def close(self) -> None:
        if self._shown >= 0:
            sys.stderr.write("\r" + " " * (self.WIDTH + 20) + "\r")
            sys.stderr.flush()
