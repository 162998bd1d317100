"""pysig: run TensorFlow Lite models by signature, fast, from many threads.

>>> import pysig
>>> interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
>>> add = interp.get_signature_runner("add")
>>> add(x=[[1, 2, 3, 4]], y=[[1, 1, 1, 1]])["sum"]
array([[2., 3., 4., 5.]], dtype=float32)
"""

from __future__ import annotations

from . import _float_environment  # isort: skip

with _float_environment.preserved():
    # tflite_runtime's library must be loaded before the extension that links to it.
    import tflite_runtime.interpreter  # noqa: F401  isort: skip

    from . import _pysig  # noqa: F401  isort: skip
from ._resources import DEMO_MODEL_PATH
from ._version import __version__
from .errors import (
    AbiMismatchError,
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
    UnsupportedMethodError,
    UnsupportedOpError,
    UnsupportedTypeError,
)
from .interpreter import Interpreter
from .pool import Pool
from .runtime.tflite_abi_check import verify_runtime_layout
from .signature_runner import SignatureRunner

verify_runtime_layout()

__all__ = [
    "DEMO_MODEL_PATH",
    "AbiMismatchError",
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
    "UnsupportedMethodError",
    "UnsupportedOpError",
    "UnsupportedTypeError",
    "__version__",
]
