"""The litert runtime's Python glue: loading ai-edge-litert's libLiteRt.so into the
litert backend, compiling verified model bytes, and the signatures and tensor details
LiteRT reports, in tf.lite's formats.

ai_edge_litert itself is never imported (it pulls in protobuf and its own bindings);
only its installed location is looked up.
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any, Mapping, Sequence

import numpy as np

from .. import _pysig
from ..errors import FlexOpError, ModelLoadError, UnsupportedOpError, UnsupportedTypeError
from .signatures import Signature, unique_names

NAME = "litert"
VERSION = "2.3.0"
# The key LiteRT gives the one signature it makes for a model without SignatureDefs.
_PLACEHOLDER_KEY = "<placeholder signature>"
_STRING = 5  # the element type of string tensors
_READ_VARIABLE = 143  # the builtin code of READ_VARIABLE
_CUSTOM_OP = re.compile(r"unresolved custom op: (\S+?)\.?(?:\s|$)", re.IGNORECASE)


def library_path() -> str | None:
    """Where ai-edge-litert's libLiteRt.so is installed, or None."""
    try:
        spec = importlib.util.find_spec("ai_edge_litert")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "libLiteRt.so")
    return path if os.path.isfile(path) else None


def installed() -> bool:
    return library_path() is not None


def load() -> None:
    """Open LiteRT's library in the backend (the backend does it once); raises
    AbiMismatchError on a mismatch."""
    path = library_path()
    if path is None:
        raise ImportError("ai-edge-litert is not installed: pip install ai-edge-litert==2.3.0")
    _pysig.litert.load(path)


# tflite_runtime's op resolver names -> LiteRT's CPU kernel modes: "auto" and "builtin"
# apply XNNPACK as the default delegate, the others run TensorFlow Lite's own kernels.
KERNEL_MODES = {
    "auto": "",
    "builtin": "xnnpack",
    "builtin_without_default_delegates": "builtin",
    "builtin_ref": "reference",
}


def build_session(
    content: bytes, source: str, num_threads: int | None, op_resolver: str = "auto"
) -> Any:
    """Compile verified model bytes on LiteRT's CPU backend."""
    if op_resolver not in KERNEL_MODES:
        raise ValueError(f"op_resolver must be one of {sorted(KERNEL_MODES)}, not {op_resolver!r}")
    if num_threads is not None and (
        not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1
    ):
        raise ValueError(f"num_threads must be a positive int or None, not {num_threads!r}")
    load()
    try:
        return _pysig.litert.session(content, num_threads, KERNEL_MODES[op_resolver])
    except ModelLoadError as error:
        if "cannot compile" in str(error):
            raise UnsupportedOpError(
                f"{source}: LiteRT {VERSION} {error}. Custom ops and TensorFlow (Flex) ops "
                f"run only on runtime='tflite'"
            ) from error
        raise ModelLoadError(f"cannot load {source} on LiteRT {VERSION}: {error}") from error


def signatures_of(session: Any, synthesized_key: str) -> dict[str, Signature]:
    """The model's signatures; for a model without SignatureDefs, the one pysig synthesizes
    (named as on tflite: tensor names, or `input_<i>` / `output_<i>`)."""
    reported = _pysig.litert.signatures(session)
    if len(reported) == 1 and reported[0]["key"] == _PLACEHOLDER_KEY:
        only = reported[0]
        return {
            synthesized_key: Signature(
                synthesized_key,
                0,
                unique_names(only["inputs"], "input"),
                unique_names(only["outputs"], "output"),
                True,
            )
        }
    return {
        sig["key"]: Signature(
            sig["key"],
            int(sig["subgraph_index"]),
            _by_name(sig["inputs"]),
            _by_name(sig["outputs"]),
            False,
        )
        for sig in reported
    }


def _by_name(tensors: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    # In name order, as tflite_runtime lists a signature's inputs and outputs.
    return {t["signature_name"]: int(t["index"]) for t in sorted(tensors, key=_signature_name)}


def _signature_name(tensor: Mapping[str, Any]) -> str:
    return str(tensor["signature_name"])


def prepare(session: Any, source: str) -> None:
    """Prepare every signature at load, as tflite does: unresolved operators fail here."""
    failures = _pysig.litert.prepare(session)
    if not failures:
        return
    details = "\n".join(f"{key}: {text}" for key, text in failures.items())
    custom = sorted(set(_CUSTOM_OP.findall(details)))
    if any(hint in details for hint in ("Flex", "Select TensorFlow op")):
        raise FlexOpError(
            f"{source} needs TensorFlow ops (Select TF / Flex ops), which LiteRT {VERSION} "
            f"cannot run. LiteRT said: {details}",
            ops=["Flex"],
        )
    if custom:
        raise UnsupportedOpError(
            f"{source} needs custom op(s) {', '.join(custom)} that LiteRT {VERSION} does not "
            f"have; register them with tflite_runtime's InterpreterWithCustomOps and use "
            f"pysig.Interpreter.from_tflite(). LiteRT said: {details}",
            ops=custom,
        )
    raise ModelLoadError(f"cannot prepare {source} on LiteRT {VERSION}: {details}")


def check_supported(session: Any, signatures: Mapping[str, Signature]) -> None:
    """Raise now what using the model on LiteRT would raise later, so that "auto" moves on."""
    for key, signature in signatures.items():
        facts = tensor_facts(session, key, signature.synthesized)
        for fact in facts.values():
            if int(fact["type"]) == _STRING:
                raise UnsupportedTypeError(
                    f"signature {key!r} has string tensors, which LiteRT {VERSION}'s C API "
                    "cannot carry"
                )
        for name, index in signature.outputs.items():
            if int(facts[index]["defining_op"]) == _READ_VARIABLE:
                raise UnsupportedOpError(
                    f"signature {key!r}: output {name!r} is a raw resource-variable read, "
                    f"which LiteRT {VERSION} cannot return"
                )


def tensor_facts(session: Any, key: str, synthesized: bool) -> dict[int, Mapping[str, Any]]:
    """Tensor index -> what LiteRT reports of it, for one signature."""
    reported = _pysig.litert.signatures(session)
    for sig in reported:
        if synthesized or sig["key"] == key:
            return {int(t["index"]): t for t in (*sig["inputs"], *sig["outputs"])}
    return {}


def details(facts: Mapping[str, Any], shape: Sequence[int], dtype: np.dtype[Any]) -> dict[str, Any]:
    """tf.lite's tensor details from LiteRT's facts and the tensor's current shape."""
    scales = np.array(facts["scales"], dtype=np.float32)
    zero_points = np.array(facts["zero_points"], dtype=np.int32)
    per_tensor = (float(scales[0]), int(zero_points[0])) if len(scales) == 1 else (0.0, 0)
    return {
        "name": facts["name"],
        "index": int(facts["index"]),
        "shape": np.array(shape, dtype=np.int32),
        "shape_signature": np.array(facts["shape_signature"], dtype=np.int32),
        "dtype": dtype.type,
        "quantization": per_tensor,
        "quantization_parameters": {
            "scales": scales,
            "zero_points": zero_points,
            "quantized_dimension": int(facts["quantized_dimension"]),
        },
        "sparsity_parameters": {},
    }


def describer(session: Any, signature: Signature) -> Any:
    """Tensor details of one signature's inputs and outputs, in tf.lite's format."""
    facts = tensor_facts(session, signature.key, signature.synthesized)

    def describe(name: str, index: int, runner: Any) -> dict[str, Any]:
        fact = facts[index]
        dtype = np.dtype(_pysig.numpy_dtype(int(fact["type"])))
        # tf.lite reports string tensors as bytes_ (pysig's arrays of them hold objects).
        return details(
            fact, runner._shape(name), np.dtype(np.bytes_) if dtype.kind == "O" else dtype
        )

    return describe
