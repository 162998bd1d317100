"""Keep the caller's floating-point environment across loading tflite_runtime's library.

On aarch64 the tflite-runtime 2.14 library switches the thread that loads it to flush
subnormal numbers to zero (a fast-math start-up routine sets FPCR.FZ), so after a plain
``import tflite_runtime`` numpy on that thread computes 1e-40 * 1 as 0. pysig loads the
library inside ``preserved()``, which puts the environment back as it found it.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from typing import Iterator

# Larger than fenv_t on every glibc platform (8 bytes on aarch64, 32 on x86_64).
_FENV_BYTES = 256
# glibc's soname, on every platform tflite-runtime has wheels for; ctypes.util.find_library
# would cost a subprocess and 30 ms of every import.
_LIBM = "libm.so.6"


def _libm() -> ctypes.CDLL | None:
    try:
        libm = ctypes.CDLL(_LIBM)
        libm.fegetenv, libm.fesetenv  # noqa: B018  both must exist
    except (OSError, AttributeError):
        return None
    return libm


@contextmanager
def preserved() -> Iterator[None]:
    """Restore the calling thread's floating-point environment when the block ends.

    Where the C library offers no fegetenv/fesetenv, the block runs unguarded.
    """
    libm = _libm()
    saved = ctypes.create_string_buffer(_FENV_BYTES)
    if libm is None or libm.fegetenv(saved) != 0:
        yield
        return
    try:
        yield
    finally:
        libm.fesetenv(saved)
