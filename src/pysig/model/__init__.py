"""The model file layer: reading, verifying and describing ``.tflite`` flatbuffers, with no
runtime."""

from .edit import SignatureEditor, TensorRef
from .file import (
    SYNTHESIZED_KEY,
    MetadataEntry,
    ModelFile,
    OperatorUse,
    SignatureSpec,
    SubgraphSpec,
    TensorSpec,
)
from .reader import Model, PathLike, inspect_model, read_model
from .verify import verify_model

__all__ = [
    "SYNTHESIZED_KEY",
    "MetadataEntry",
    "Model",
    "ModelFile",
    "OperatorUse",
    "PathLike",
    "SignatureEditor",
    "SignatureSpec",
    "SubgraphSpec",
    "TensorRef",
    "TensorSpec",
    "inspect_model",
    "read_model",
    "verify_model",
]
