"""``pysig run``: run signatures once on random or given inputs and print the outputs."""

from __future__ import annotations

import argparse
import functools
import os
from typing import Any, Mapping

import numpy as np

from ..bench.inputs import (
    BadArgument,
    check_names,
    describe,
    is_string,
    parse_input_file,
    random_input,
    resolve_shapes,
)
from ..errors import InvokeError
from ..signature_runner import SignatureRunner
from .common import (
    add_command,
    add_input_options,
    interruptible,
    load,
    several_signatures,
    signature_keys,
)

_PRINT_OPTIONS: dict[str, Any] = {
    "precision": 4,
    "suppress": True,
    "threshold": 48,
    "edgeitems": 3,
    "linewidth": 96,
}


def add_parser(commands: Any) -> None:
    command = add_command(
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
    add_input_options(command)


def _run(args: argparse.Namespace) -> int:
    interpreter, _ = load(args)
    given = dict(args.input or [])
    shapes = dict(args.shape or [])
    keys = signature_keys(args, interpreter)
    if (given or shapes) and len(keys) > 1:
        raise several_signatures(keys, "--input and --shape need --signature")
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
        outputs = interruptible(functools.partial(runner, **inputs), runner.cancel)
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
