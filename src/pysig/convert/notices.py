"""The facts about a conversion that users otherwise find out too late, in plain words:
signatures that were left out or dropped, names nobody chose, and ops that fell back to
TensorFlow (Flex) and so need TensorFlow wherever the model runs."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from ..model import inspect_model
from ..runtime.flex import flex_ops

SignatureList = Mapping[str, Mapping[str, Any]]  # tf.lite's get_signature_list() format
_POSITIONAL_OUTPUT = re.compile(r"output_\d+$")


def conversion_notices(
    *,
    available: Sequence[str],
    chosen: Sequence[str],
    functions: Mapping[str, Any],
    signatures: SignatureList,
    content: bytes,
    keras_layers: Iterable[str],
) -> list[str]:
    notices = []
    left_out = [key for key in available if key not in chosen]
    if left_out:
        notices.append(
            f"signature(s) {_names(left_out)} of the SavedModel were not converted "
            "(not asked for with --signature)"
        )
    dropped = [key for key in chosen if key not in signatures]
    if dropped:
        notices.append(f"the converter dropped signature(s) {_names(dropped)}")
    layers = set(keras_layers)
    for key, names in signatures.items():
        if key not in functions:
            continue
        function = functions[key]
        notices += _renamed(key, "inputs", list(function.structured_input_signature[1]), names)
        notices += _renamed(key, "outputs", list(function.structured_outputs), names)
        for name in names["inputs"]:
            if name.endswith("_input") and name[: -len("_input")] in layers:
                notices.append(
                    f"signature {key!r}: input {name!r} was named by Keras after the first "
                    f"layer, {name[: -len('_input')]!r}; to call it by that name, add "
                    f"--rename-input {key}:{name}={name[: -len('_input')]}"
                )
        positional = [name for name in names["outputs"] if _POSITIONAL_OUTPUT.match(name)]
        if positional:
            notices.append(
                f"signature {key!r}: outputs {_names(positional)} are numbered because the "
                "function returns tensors rather than a dict of them; return a dict to name "
                "them, or use --rename-output"
            )
    ops = flex_ops(inspect_model(content))
    if ops:
        notices.append(
            f"these ops had no TFLite builtin and fell back to TensorFlow (Flex) ops: "
            f"{', '.join(ops)}. The model then runs only where TensorFlow's kernels are: in "
            'pysig on the tflite runtime with pip install "pysig[flex]", or in tf.lite.Interpreter'
        )
    return notices


def _renamed(key: str, kind: str, tensorflow: list[str], names: Mapping[str, Any]) -> list[str]:
    tflite = list(names[kind])
    if sorted(tflite) == sorted(tensorflow):
        return []
    return [
        (
            f"signature {key!r}: the converter named its {kind} {_names(tflite)}, where the "
            f"TensorFlow function has {_names(tensorflow)}"
        )
    ]


def _names(names: Iterable[str]) -> str:
    return ", ".join(map(repr, names))
