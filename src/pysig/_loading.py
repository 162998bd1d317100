"""Building a tflite_runtime interpreter from a path or bytes, with pysig's errors.

Models are always handed to the runtime as bytes, and only after pysig's own
verification (see _verify.py): the runtime crashes on damaged models, whether
it maps the file itself or is given a buffer.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple, Sequence, Union

from tflite_runtime.interpreter import Interpreter as TfliteInterpreter
from tflite_runtime.interpreter import OpResolverType

from ._verify import verify_model
from ._verify_graph import ArgReductions
from .errors import FlexOpError, ModelLoadError, ModelNotFoundError, UnsupportedOpError

PathLike = Union[str, "os.PathLike[str]"]

OP_RESOLVERS = {
    "auto": OpResolverType.AUTO,
    "builtin": OpResolverType.BUILTIN,
    "builtin_ref": OpResolverType.BUILTIN_REF,
    "builtin_without_default_delegates": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
}

# A TensorFlow Lite flatbuffer carries this identifier at bytes 4..8.
_FILE_IDENTIFIER = b"TFL3"
_CUSTOM_OP = re.compile(r"unresolved custom op: (\S+?)\.?(?:\s|$)", re.IGNORECASE)
_FLEX_HINTS = ("Select TensorFlow op", "Flex")


class Model(NamedTuple):
    content: bytes
    source: str  # a short description of where the bytes came from, for messages
    arg_reductions: ArgReductions  # from the verifier


def read_model(model_path: PathLike | None, model_content: bytes | None) -> Model:
    """Read and verify a model given by path or by bytes."""
    if (model_path is None) == (model_content is None):
        raise TypeError("give exactly one of model_path and model_content")
    if model_content is not None:
        if not isinstance(model_content, (bytes, bytearray, memoryview)):
            raise TypeError(f"model_content must be bytes, not {type(model_content).__name__}")
        content, source = bytes(model_content), "model_content"
    else:
        path = os.fspath(model_path)  # type: ignore[arg-type]
        source = repr(path)
        if not os.path.exists(path):
            raise ModelNotFoundError(f"model file {source} does not exist")
        if os.path.isdir(path):
            raise ModelLoadError(f"model path {source} is a directory, not a .tflite file")
        with open(path, "rb") as file:
            content = file.read()
    if not content:
        raise ModelLoadError(f"{source} is empty: no TensorFlow Lite model in it")
    if content[4:8] != _FILE_IDENTIFIER:
        raise ModelLoadError(
            f"{source} is not a TensorFlow Lite model (it lacks the 'TFL3' flatbuffer identifier)"
        )
    # The runtime trusts the model: a damaged one can take the process down.
    return Model(content, source, verify_model(content, source))


def build_interpreter(
    content: bytes,
    source: str,
    *,
    num_threads: int | None = None,
    delegates: Sequence[Any] | None = None,
    op_resolver: str = "auto",
) -> TfliteInterpreter:
    """Create a tflite_runtime interpreter, translating its failures into pysig errors."""
    if op_resolver not in OP_RESOLVERS:
        raise ValueError(f"op_resolver must be one of {sorted(OP_RESOLVERS)}, not {op_resolver!r}")
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"num_threads must be a positive int or None, not {num_threads!r}")
    try:
        return TfliteInterpreter(
            model_content=content,
            num_threads=num_threads,
            experimental_delegates=list(delegates) if delegates else None,
            experimental_op_resolver_type=OP_RESOLVERS[op_resolver],
        )
    except (ValueError, RuntimeError) as error:
        raise translate_load_error(str(error), source) from error


def translate_load_error(message: str, source: str) -> ModelLoadError:
    """The pysig error for a runtime message about a model that cannot be prepared."""
    details = message.strip()
    if any(hint in details for hint in _FLEX_HINTS):
        return FlexOpError(
            f"{source} needs TensorFlow ops (Select TF / Flex ops), which tflite-runtime "
            f"cannot run; convert the model with builtin ops only. Runtime said: {details}",
            ops=["Flex"],
        )
    custom = sorted(set(_CUSTOM_OP.findall(details)))
    if custom:
        return UnsupportedOpError(
            f"{source} needs custom op(s) {', '.join(custom)} that this runtime does not "
            f"have; register them with tflite_runtime's InterpreterWithCustomOps and use "
            f"pysig.Interpreter.from_tflite(). Runtime said: {details}",
            ops=custom,
        )
    return ModelLoadError(f"cannot load {source}: {details}")
