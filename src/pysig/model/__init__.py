"""The model file layer: reading and verifying ``.tflite`` flatbuffers, with no runtime."""

from .reader import Model, PathLike, read_model
from .verify import verify_model

__all__ = ["Model", "PathLike", "read_model", "verify_model"]
