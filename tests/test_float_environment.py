"""Importing pysig leaves the process's floating-point semantics alone.

On aarch64 tflite-runtime's library turns on flush-to-zero in the thread that
loads it; pysig loads it inside _float_environment.preserved(). On x86_64 the
library changes nothing, so there the first test checks that nothing else in
pysig's import does, and the second checks the mechanism itself.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SUBNORMALS_SURVIVE = """
import threading
import numpy as np
import pysig

def subnormals_survive():
    return bool(np.float32(1e-40) * np.float32(1) != 0 and np.float64(5e-324) * 1.0 != 0)

assert subnormals_survive(), "after import pysig"
add = pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_runner("add")
add(x=np.full((1, 4), 1e-40, np.float32), y=np.zeros((1, 4), np.float32))
assert subnormals_survive(), "after a call"
seen = []
worker = threading.Thread(target=lambda: seen.append(subnormals_survive()))
worker.start()
worker.join()
assert seen == [True], "in a new thread"
with pysig.Pool(pysig.DEMO_MODEL_PATH, size=1) as pool:
    pool.run("add", x=np.ones((1, 4), np.float32), y=np.ones((1, 4), np.float32))
assert subnormals_survive(), "after a pool"
"""

# FE_INVALID is 1 on both x86_64 and aarch64 glibc; an environment includes its flags.
_RESTORES_A_CHANGED_ENVIRONMENT = """
import ctypes
from pysig import _float_environment

libm = ctypes.CDLL(_float_environment._LIBM)
FE_INVALID = 1
libm.feclearexcept(FE_INVALID)
with _float_environment.preserved():
    libm.feraiseexcept(FE_INVALID)
    assert libm.fetestexcept(FE_INVALID), "raised inside the block"
assert not libm.fetestexcept(FE_INVALID), "restored after the block"
"""


def _run(script: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr


def test_import_and_calls_keep_subnormal_numbers() -> None:
    _run(_SUBNORMALS_SURVIVE)


def test_preserved_restores_the_environment_changed_inside() -> None:
    _run(_RESTORES_A_CHANGED_ENVIRONMENT)
