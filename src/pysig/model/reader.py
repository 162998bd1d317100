"""Reading a model from a path or bytes and verifying it before any runtime sees it.

Models are always handed to a runtime as bytes, and only after pysig's own
verification (see verify.py): the runtimes crash on damaged models, whether
they map the file themselves or are given a buffer.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Union

from ..errors import ModelLoadError, ModelNotFoundError
from . import schema
from .file import ModelFile
from .graph import GraphFacts
from .verify import verify_model

PathLike = Union[str, "os.PathLike[str]"]


class Model(NamedTuple):
    content: bytes
    source: str  # a short description of where the bytes came from, for messages
    facts: GraphFacts  # from the verifier, for the runners
    file: ModelFile  # what the file says: signatures, tensors, operators, metadata


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
    return verified_model(content, source)


def verified_model(content: bytes, source: str) -> Model:
    """Verify model bytes that came from ``source`` (a description, for messages)."""
    if not content:
        raise ModelLoadError(f"{source} is empty: no TensorFlow Lite model in it")
    if content[4:8] != schema.FILE_IDENTIFIER:
        raise ModelLoadError(
            f"{source} is not a TensorFlow Lite model (it lacks the 'TFL3' flatbuffer identifier)"
        )
    # The runtime trusts the model: a damaged one can take the process down.
    facts = verify_model(content, source)
    return Model(content, source, facts, ModelFile(content))


def inspect_model(model: PathLike | bytes) -> ModelFile:
    """Read and verify a model file (a path, or its bytes), and describe it; no runtime needed."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return read_model(None, bytes(model)).file
    return read_model(model, None).file
