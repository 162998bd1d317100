"""``pysig info``: a model's signatures, with each input's and output's tensor details."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Mapping

from ..bench.inputs import dtype_name, is_quantized
from ..bench.report import format_bytes
from ..interpreter import Interpreter
from .common import add_command, load


def add_parser(commands: Any) -> None:
    command = add_command(
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


def _info(args: argparse.Namespace) -> int:
    interpreter, path = load(args)
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
