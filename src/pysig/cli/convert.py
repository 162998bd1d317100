"""``pysig convert``: a TensorFlow model to .tflite with the signatures asked for, checked
against TensorFlow. Needs the ``pysig[convert]`` extra; TensorFlow is imported only here,
when the command runs."""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..convert.options import QUANTIZATIONS, ConvertOptions
from ..errors import ConversionError
from ..model import read_model
from .common import EXIT_FAILURE
from .edits import add_rename_options, rename_step

if TYPE_CHECKING:
    from ..convert.parity import OutputParity

_INSTALL = 'pip install "pysig[convert]"'


def add_parser(commands: Any) -> None:
    command: argparse.ArgumentParser = commands.add_parser(
        "convert",
        help="convert a SavedModel, Keras file or tf.Module to .tflite, and check it",
        description="Convert SRC with TensorFlow's TFLite converter, give the signatures the "
        "keys and names asked for, then run every signature in TensorFlow and in pysig on "
        "the same generated inputs and compare. Exit status 0 when every output agrees "
        f"within --atol/--rtol, 1 otherwise. Needs TensorFlow 2.14: {_INSTALL}.",
    )
    command.set_defaults(handler=_convert, parser=command)
    command.add_argument(
        "source",
        metavar="SRC",
        help="a SavedModel directory, a Keras file (.keras, .h5), or module.py:object naming "
        "a tf.Module (its tf.functions with an input_signature become signatures) or a "
        "Keras model",
    )
    command.add_argument(
        "-o", "--output", required=True, metavar="OUT.tflite", help="where to write the model"
    )
    command.add_argument(
        "--signature",
        action="append",
        default=[],
        metavar="KEY",
        help="convert this SavedModel signature (repeatable; default: all of them)",
    )
    add_rename_options(
        command,
        command.add_argument_group(
            "renames (each may repeat; they apply in order, to the keys as renamed so far)"
        ),
    )
    command.add_argument(
        "--select-tf-ops",
        action="store_true",
        help="let ops without a TFLite builtin run as TensorFlow (Flex) ops",
    )
    command.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        help="float16 weights, dynamic-range int8 weights, or int8 weights and activations "
        "(with float fallback; needs --representative-data)",
    )
    command.add_argument(
        "--representative-data",
        metavar="FILE.npz",
        help="calibration inputs for --quantize int8: an array per input, named NAME or "
        "KEY/NAME, whose first axis indexes the samples",
    )
    command.add_argument(
        "--atol",
        type=_non_negative_float,
        help="absolute tolerance of the parity check (default: by --quantize)",
    )
    command.add_argument(
        "--rtol",
        type=_non_negative_float,
        help="relative tolerance of the parity check (default: by --quantize)",
    )
    command.add_argument(
        "--seed", type=int, default=0, help="seed of the parity check's inputs (default: 0)"
    )


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _convert(args: argparse.Namespace) -> int:
    if args.representative_data and args.quantize != "int8":
        args.parser.error("--representative-data is for --quantize int8")
    if args.quantize == "int8" and not args.representative_data:
        args.parser.error("--quantize int8 needs --representative-data FILE.npz")
    options = ConvertOptions(
        tuple(args.signature),
        tuple(rename_step(option, value) for option, value in args.edits),
        args.select_tf_ops,
        args.quantize,
        args.representative_data,
    )
    if importlib.util.find_spec("tensorflow") is None:
        raise ConversionError(f"pysig convert needs TensorFlow 2.14: {_INSTALL}")
    # Imported here: every other command runs without TensorFlow.
    from ..convert.pipeline import convert, parity

    # The SavedModel pysig writes for a Keras or tf.Module source lives as long as the check.
    with tempfile.TemporaryDirectory(prefix="pysig-convert-") as workdir:
        result = convert(args.source, options, Path(workdir))
        _write(args.output, result.content)
        print(f"wrote {args.output} ({len(result.content)} bytes)")
        for key, names in result.signatures.items():
            print(f"  signature {key!r}: inputs {names['inputs']}, outputs {names['outputs']}")
        for notice in result.notices:
            print(f"note: {notice}")
        default_atol, default_rtol = options.tolerances()
        atol = default_atol if args.atol is None else args.atol
        rtol = default_rtol if args.rtol is None else args.rtol
        outcomes = parity(result, atol, rtol, args.seed)
    print(f"parity with TensorFlow (atol {atol:g}, rtol {rtol:g}):")
    for outcome in outcomes:
        print(f"  {_describe(outcome)}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(
            f"pysig: error: {len(failed)} output(s) differ from TensorFlow beyond the tolerances",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return 0


def _describe(outcome: OutputParity) -> str:
    shapes = ", ".join(str(list(shape)) for shape in sorted(set(outcome.shapes)))
    errors = (
        "strings compared exactly"
        if math.isnan(outcome.max_abs)
        else f"max abs error {outcome.max_abs:.3g}, max rel error {outcome.max_rel:.3g}"
    )
    verdict = "ok" if outcome.ok else f"MISMATCH in {outcome.mismatches} of {outcome.elements}"
    return f"{outcome.key}.{outcome.name} ({outcome.dtype}, shapes {shapes}): {errors}: {verdict}"


def _write(path: str, content: bytes) -> None:
    """Written whole or not at all, after pysig's verifier accepted it."""
    read_model(None, content)
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=directory, delete=False, suffix=".tmp") as file:
        file.write(content)
    os.replace(file.name, path)
