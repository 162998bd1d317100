"""``pysig info``: what a model file holds, read from the file itself (no runtime needed):
signatures with each input's and output's tensor details, subgraphs, operators, metadata,
and what each installed runtime would lack to run it."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Mapping

from .._resources import DEMO_MODEL_PATH
from ..bench.inputs import dtype_name, is_quantized
from ..bench.report import format_bytes
from ..model import ModelFile, OperatorUse, TensorSpec, inspect_model
from .common import add_command

# Metadata entries small enough, and textual, to show their value.
_SHOWN_METADATA = ("min_runtime_version",)


def add_parser(commands: Any) -> None:
    command = add_command(
        commands,
        "info",
        _info,
        help="show signatures, tensors, operators and metadata, and what the model needs",
        description="Show each signature's inputs and outputs (name, dtype, shape, shape "
        "signature (-1 marks a dynamic dimension), quantization and the tensor behind it), "
        "the operators the model uses, its metadata, and which operators each installed "
        "runtime lacks (Flex ops, custom ops). Read from the file: it works on any valid "
        "model, including ones no runtime here can run. A model without SignatureDefs shows "
        "the signature pysig synthesizes for it ('serving_default', named by tensor names).",
    )
    command.add_argument("--json", action="store_true", help="print JSON instead of text")


def _info(args: argparse.Namespace) -> int:
    path = DEMO_MODEL_PATH if args.model is None else args.model
    description = describe_model(inspect_model(path), path)
    if args.json:
        print(json.dumps(description, indent=2))
    else:
        print(format_info(description))
    return 0


def describe_model(file: ModelFile, path: str) -> dict[str, Any]:
    """The model file as JSON-ready data (``pysig info --json``)."""
    metadata = []
    for entry in file.metadata:
        item: dict[str, Any] = {
            "name": entry.name,
            "buffer": entry.buffer_index,
            "bytes": entry.size,
        }
        value = file.metadata_value(entry.name).rstrip(b"\0")
        if entry.name in _SHOWN_METADATA and value:
            item["value"] = value.decode("utf-8", "replace")
        metadata.append(item)
    return {
        "model": os.path.abspath(path),
        "bytes": os.path.getsize(path),
        "description": file.description,
        "signatures": {
            key: {
                "subgraph_index": signature.subgraph_index,
                "synthesized": signature.synthesized,
                "inputs": _tensors_json(signature.inputs),
                "outputs": _tensors_json(signature.outputs),
            }
            for key, signature in file.signatures.items()
        },
        "subgraphs": [
            {
                "index": s.index,
                "name": s.name,
                "inputs": list(s.inputs),
                "outputs": list(s.outputs),
                "tensors": s.tensor_count,
                "operators": s.operator_count,
            }
            for s in file.subgraphs
        ],
        "operators": [_operator_json(op) for op in file.operators],
        "metadata": metadata,
        "missing_ops": {
            runtime: [_operator_json(op) for op in missing]
            for runtime, missing in file.missing_ops_by_runtime().items()
        },
    }


def _operator_json(op: OperatorUse) -> dict[str, Any]:
    return {"name": op.name, "custom": op.custom, "flex": op.flex, "count": op.count}


def _tensors_json(tensors: Mapping[str, TensorSpec]) -> dict[str, Any]:
    return {
        name: {
            "tensor": t.name,
            "index": t.index,
            "dtype": dtype_name(t.dtype),
            "shape": list(t.shape),
            "shape_signature": list(t.shape_signature),
            "quantization": _quantization_json(t.details()),
        }
        for name, t in tensors.items()
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
    lines += ["", _operators_text(description["operators"], len(description["subgraphs"]))]
    for runtime, missing in description["missing_ops"].items():
        lines.append(f"{runtime}: {_needs_text(missing)}")
    if description["metadata"]:
        entries = [
            f"{m['name']} ({m['value']!r})"
            if "value" in m
            else f"{m['name']} ({format_bytes(m['bytes'])})"
            for m in description["metadata"]
        ]
        lines.append(f"metadata: {', '.join(entries)}")
    return "\n".join(lines)


def _operators_text(operators: list[Mapping[str, Any]], subgraphs: int) -> str:
    uses = ", ".join(
        f"{op['name']}{' (custom)' if op['custom'] else ''} x{op['count']}" for op in operators
    )
    return f"operators in {subgraphs} subgraph(s): {uses or 'none'}"


def _needs_text(missing: list[Mapping[str, Any]]) -> str:
    """What a runtime lacks to run the model, said as what the model needs."""
    if not missing:
        return "has every operator the model uses"
    flex = [op["name"] for op in missing if op["flex"]]
    custom = [op["name"] for op in missing if not op["flex"]]
    needs = []
    if flex:
        needs.append(f"TensorFlow (Flex) ops it lacks: {', '.join(flex)}")
    if custom:
        needs.append(f"custom ops it lacks: {', '.join(custom)}")
    return "cannot run this model; it needs " + "; and ".join(needs)


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
