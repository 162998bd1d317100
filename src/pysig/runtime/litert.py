"""The litert runtime's Python glue: loading ai-edge-litert's libLiteRt.so into the
litert backend, compiling verified model bytes, preparing them, and telling "auto"
what LiteRT cannot run. Names and tensor details come from the model file, as on tflite.

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
from ..model import ModelFile, SignatureSpec
from .messages import as_sentences

NAME = "litert"
VERSION = "2.3.0"
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


def refuse_partial_signatures(file: ModelFile, source: str) -> None:
    """LiteRT's model loader refuses a whole file in which a signature leaves out inputs
    or outputs of its subgraph (tflite_runtime takes it); say so before it does."""
    for signature in file.signatures.values():
        subgraph = file.subgraphs[signature.subgraph_index]
        given = (len(signature.inputs), len(signature.outputs))
        if given != (len(subgraph.inputs), len(subgraph.outputs)):
            raise ModelLoadError(
                f"cannot load {source} on LiteRT {VERSION}: signature {signature.key!r} gives "
                f"{given[0]} of {len(subgraph.inputs)} inputs and {given[1]} of "
                f"{len(subgraph.outputs)} outputs of subgraph {signature.subgraph_index}, and "
                "LiteRT loads only models whose signatures give all of them; use "
                "runtime='tflite', or rewrite the signature with pysig signatures"
            )


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


def prepare(session: Any, source: str) -> None:
    """Prepare every signature at load, as tflite does: unresolved operators fail here."""
    failures = _pysig.litert.prepare(session)
    if not failures:
        return
    details = " ".join(f"{key}: {as_sentences(text)}" for key, text in failures.items())
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


def check_supported(
    session: Any, signatures: Mapping[str, SignatureSpec], value_sized: Sequence[frozenset[int]]
) -> None:
    """Raise now what using the model on LiteRT would raise later, so that "auto" moves on."""
    reported = _pysig.litert.signatures(session)
    for signature in signatures.values():
        sized = [
            name
            for name, spec in signature.outputs.items()
            if spec.index in value_sized[signature.subgraph_index]
        ]
        if sized:
            raise UnsupportedOpError(
                f"signature {signature.key!r}: output {sized[0]!r} is sized by the input "
                f"values, which LiteRT {VERSION} cannot write into buffers sized before the run"
            )
        tensors = [*signature.inputs.values(), *signature.outputs.values()]
        if any(np.dtype(spec.dtype).kind in "OSU" for spec in tensors):
            raise UnsupportedTypeError(
                f"signature {signature.key!r} has string tensors, which LiteRT {VERSION}'s C "
                "API cannot carry"
            )
    for sig in reported:
        for output in sig["outputs"]:
            if int(output["defining_op"]) == _READ_VARIABLE:
                raise UnsupportedOpError(
                    f"signature {sig['key']!r}: output {output['signature_name']!r} is a raw "
                    f"resource-variable read, which LiteRT {VERSION} cannot return"
                )
