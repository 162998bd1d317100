"""Which runtime runs a model: the one asked for, or for "auto" the one that runs it
correctly and fastest.

The rule for "auto", from measurements side by side (benchmarks/RESULTS.md): LiteRT
2.3.0 where it is installed, because its kernels are as fast or faster everywhere
(MobileNetV2 uint8 about 20x, float32 about 1.15x); tflite-runtime 2.14.0 when the
model or the options need something only it has:

- options only tflite_runtime takes: ``delegates`` objects (and ``Interpreter.from_tflite``);
  ``op_resolver`` works on both (on LiteRT it picks the CPU kernels: XNNPACK, TensorFlow
  Lite's builtin ones or its reference ones);
- operators LiteRT cannot compile (custom ops, TensorFlow "Flex" ops): tried on
  LiteRT first, then on tflite;
- string tensors in a signature (LiteRT's C API has no string buffers);
- a signature output that is a raw resource-variable read (LiteRT returns it wrong);
- a signature output sized by the input values (LiteRT runs on buffers sized before).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from ..errors import AbiMismatchError, PysigError
from .ops import installed_runtimes

RUNTIMES = ("auto", "tflite", "litert")
ENVIRONMENT_VARIABLE = "PYSIG_RUNTIME"
# What "auto" tries, in order, among the installed runtimes.
AUTO_ORDER = ("litert", "tflite")
# Runtimes whose import-time check failed, with its error.
_refused: dict[str, AbiMismatchError] = {}


def refuse(runtime: str, error: AbiMismatchError) -> None:
    _refused[runtime] = error


def check_runtime(runtime: object) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(
            f"runtime must be one of {', '.join(map(repr, RUNTIMES))}, not {runtime!r}"
        )
    return str(runtime)


def tflite_only_options(delegates: Sequence[Any] | None) -> list[str]:
    """The options given that only the tflite runtime takes."""
    return ["delegates"] if delegates else []


def installed(runtime: str) -> bool:
    """Whether the runtime's package is installed (without importing it)."""
    return runtime in installed_runtimes()


def candidates(runtime: object, delegates: Sequence[Any] | None) -> list[str]:
    """The runtimes to try, in order: the one asked for, or for "auto" per the rule above.

    The environment variable PYSIG_RUNTIME ("tflite" or "litert"), when set, is what
    "auto" means, for a whole deployment or test run.
    """
    requested = check_runtime(runtime)
    if requested == "auto" and os.environ.get(ENVIRONMENT_VARIABLE):
        requested = os.environ[ENVIRONMENT_VARIABLE]
        if requested not in RUNTIMES:
            raise ValueError(
                f"{ENVIRONMENT_VARIABLE} must be one of {', '.join(map(repr, RUNTIMES))}, "
                f"not {requested!r}"
            )
    tflite_only = tflite_only_options(delegates)
    if requested == "litert" and tflite_only:
        raise ValueError(
            "delegates only apply to runtime='tflite' (tflite_runtime's delegate objects); "
            "LiteRT takes num_threads and op_resolver"
        )
    if requested != "auto":
        if not installed(requested):
            raise PysigError(f"runtime={requested!r} is not installed: {_HOW[requested]}")
        if requested in _refused:
            raise _refused[requested]
        return [requested]
    if tflite_only:
        if not installed("tflite"):
            raise PysigError(f"{' and '.join(tflite_only)} need tflite-runtime: {_HOW['tflite']}")
        if "tflite" in _refused:
            raise _refused["tflite"]
        return ["tflite"]
    found = [name for name in AUTO_ORDER if installed(name) and name not in _refused]
    if not found:
        if _refused:
            raise next(iter(_refused.values()))
        raise PysigError(f"no runtime is installed: {_HOW['litert']} (or {_HOW['tflite']})")
    return found


_HOW = {
    "tflite": "pip install tflite-runtime==2.14.0 (CPython 3.8-3.11, numpy<2)",
    "litert": "pip install ai-edge-litert==2.3.0 (CPython 3.10-3.14)",
}
