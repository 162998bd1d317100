"""pysig: run TensorFlow Lite models by signature, fast, from many threads.

>>> import pysig
>>> interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
>>> add = interp.get_signature_runner("add")
>>> add(x=[[1, 2, 3, 4]], y=[[1, 1, 1, 1]])["sum"]
array([[2., 3., 4., 5.]], dtype=float32)
"""

from __future__ import annotations

from . import _pysig  # noqa: F401  isort: skip
from ._resources import DEMO_MODEL_PATH
from ._version import __version__
from .batch import BatchPredictor
from .errors import (
    AbiMismatchError,
    BatchColumnError,
    BatchRowError,
    BufferInUseError,
    ClosedError,
    ConversionError,
    FlexOpError,
    InputNameError,
    InputShapeError,
    InputTypeError,
    InvokeCancelledError,
    InvokeError,
    ModelLoadError,
    ModelNotFoundError,
    ModelWriteError,
    NameNotFoundError,
    OutOfMemoryError,
    OutputBufferError,
    PysigError,
    SignatureEditError,
    SignatureNotFoundError,
    UnpicklableError,
    UnsupportedMethodError,
    UnsupportedOpError,
    UnsupportedTypeError,
)
from .interpreter import Interpreter
from .pool import Pool
from .runtime.startup import check_installed_runtimes
from .signature_runner import SignatureRunner

check_installed_runtimes()

__all__ = [
    "DEMO_MODEL_PATH",
    "AbiMismatchError",
    "BatchColumnError",
    "BatchPredictor",
    "BatchRowError",
    "BufferInUseError",
    "ClosedError",
    "ConversionError",
    "FlexOpError",
    "InputNameError",
    "InputShapeError",
    "InputTypeError",
    "Interpreter",
    "InvokeCancelledError",
    "InvokeError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelWriteError",
    "NameNotFoundError",
    "OutOfMemoryError",
    "OutputBufferError",
    "Pool",
    "PysigError",
    "SignatureEditError",
    "SignatureNotFoundError",
    "SignatureRunner",
    "UnpicklableError",
    "UnsupportedMethodError",
    "UnsupportedOpError",
    "UnsupportedTypeError",
    "__version__",
]
