"""Select TensorFlow ("Flex") ops on the tflite runtime, through TensorFlow 2.14's own library.

tflite-runtime 2.14.0 has no Flex kernels, but when it builds an interpreter for a model
with Flex ops it looks for ``TF_AcquireFlexDelegate`` by opening
``_pywrap_tensorflow_internal.so``; a library of that name already in the process is
found by its SONAME. So loading TensorFlow's library (not importing TensorFlow) before
the interpreter is built is enough. This is sound only when TensorFlow was built from the
same TFLite sources as the runtime, TensorFlow 2.14.x, and only with ``RTLD_LOCAL``: with
``RTLD_GLOBAL`` TensorFlow's copies of thousands of TFLite symbols would replace the
runtime's. The library is loaded once, on the first model that needs it.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import platform
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .._float_environment import preserved
from ..errors import FlexOpError

if TYPE_CHECKING:  # the model layer asks this module whether Flex ops can run
    from ..model import ModelFile

TENSORFLOW_SERIES = "2.14"
_SERIES = re.compile(r"2\.14(\.|$)")
# Distribution names that install the `tensorflow` package on Linux.
_DISTRIBUTIONS = ("tensorflow-cpu", "tensorflow", "tensorflow-intel", "tensorflow-cpu-aws")
_LIBRARY = Path("python") / "_pywrap_tensorflow_internal.so"
_INSTALL = 'pip install "pysig[flex]"'

_lock = threading.Lock()
_library: ctypes.CDLL | None = None


def flex_ops(model: ModelFile) -> list[str]:
    """The Flex ops a model uses (``FlexAsString``, ...), from its operator codes."""
    return sorted(op.name for op in model.operators if op.flex)


def prepare_flex(model: ModelFile, source: str) -> list[str]:
    """Make the tflite runtime able to run the model's Flex ops, if it has any; return them.

    Raises FlexOpError, naming the ops and what to install, when TensorFlow 2.14.x is
    not there to provide them. A model without Flex ops costs nothing more.
    """
    ops = flex_ops(model)
    if ops:
        _load_tensorflow_library(ops, source)
    return ops


def refuse_flex_off_tflite(model: ModelFile, source: str, runtime: str) -> None:
    """Raise FlexOpError if the model needs Flex ops: only the tflite runtime has them."""
    ops = flex_ops(model)
    if ops:
        raise FlexOpError(
            f"{source} needs TensorFlow (Select TF / Flex) ops {', '.join(ops)}, which the "
            f'{runtime} runtime cannot run: Flex ops need runtime="tflite" '
            f"(with {_INSTALL})",
            ops=ops,
        )


def flex_usable() -> bool:
    """Whether the tflite runtime can run Flex ops here (TensorFlow 2.14.x is installed)."""
    try:
        _tensorflow_library()
    except _Unusable:
        return False
    return True


class _Unusable(Exception):
    """Why TensorFlow cannot provide the Flex ops here."""


def _load_tensorflow_library(ops: Sequence[str], source: str) -> None:
    global _library  # noqa: PLW0603  one library per process, loaded on first need
    with _lock:
        if _library is not None:
            return
        try:
            path = _tensorflow_library()
        except _Unusable as reason:
            raise _needs_tensorflow(ops, source, str(reason)) from None
        try:
            # Its start-up code must not change the caller's floating-point environment.
            with preserved():
                _library = ctypes.CDLL(str(path), mode=os.RTLD_LOCAL)
        except OSError as error:
            raise _needs_tensorflow(
                ops, source, f"TensorFlow's library {path} could not be loaded ({error})"
            ) from error


def _tensorflow_library() -> Path:
    """The path of TensorFlow 2.14.x's library, checked against what is installed and imported."""
    imported = sys.modules.get("tensorflow")
    if imported is not None:
        imported_version = str(getattr(imported, "__version__", "unknown"))
        if not _SERIES.match(imported_version):
            raise _Unusable(
                f"TensorFlow {imported_version} is already imported in this process, and only "
                f"TensorFlow {TENSORFLOW_SERIES}.x matches tflite-runtime 2.14.0"
            )
    spec = importlib.util.find_spec("tensorflow")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise _Unusable("TensorFlow is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    version = _installed_version(package)
    if version is None:
        raise _Unusable(f"the TensorFlow package at {package} has no installed distribution")
    if not _SERIES.match(version):
        raise _Unusable(
            f"TensorFlow {version} is installed, and only TensorFlow {TENSORFLOW_SERIES}.x "
            "matches tflite-runtime 2.14.0"
        )
    library = package / _LIBRARY
    if not library.is_file():
        raise _Unusable(f"TensorFlow {version} lacks its library {library}")
    return library


def _installed_version(package: Path) -> str | None:
    """The version of the distribution that installed ``package`` (the one Python imports)."""
    for name in _DISTRIBUTIONS:
        for distribution in importlib.metadata.distributions(name=name):
            located = Path(str(distribution.locate_file("tensorflow")))
            if located.resolve() == package.resolve():
                return distribution.version
    return None


def _needs_tensorflow(ops: Sequence[str], source: str, reason: str) -> FlexOpError:
    return FlexOpError(
        f"{source} needs TensorFlow (Select TF / Flex) ops {', '.join(ops)}, which the tflite "
        f"runtime runs only with TensorFlow {TENSORFLOW_SERIES}.x installed; {reason}. "
        f"Install it with: {_INSTALL} ({_tensorflow_requirement()})",
        ops=ops,
    )


def _tensorflow_requirement() -> str:
    """What the extra installs here, in words."""
    if not (3, 9) <= sys.version_info[:2] <= (3, 11):
        return (
            f"TensorFlow {TENSORFLOW_SERIES} has wheels for CPython 3.9-3.11 only, not "
            f"{platform.python_version()}"
        )
    if platform.machine() == "aarch64":
        return "that is tensorflow==2.14.1"
    return "that is tensorflow-cpu==2.14.1"
