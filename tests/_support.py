"""Helpers shared by the tests: the committed test models, and tflite_runtime as the reference."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray
from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

MODELS = Path(__file__).parent / "models"


def model_path(name: str) -> str:
    path = MODELS / f"{name}.tflite"
    assert path.is_file(), f"missing test model {path}; run scripts/make_test_models.py"
    return str(path)


def run_python(script: str, timeout: float = 120) -> str:
    """Run ``script`` in a child interpreter and return what it printed; a crash fails."""
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=False, timeout=timeout
    )
    assert child.returncode == 0, (
        f"the child died with status {child.returncode}: "
        + child.stderr.decode(errors="replace")[-800:]
    )
    return child.stdout.decode()


def reference_outputs(path: str, key: str, inputs: Mapping[str, Any]) -> dict[str, NDArray[Any]]:
    """What tflite_runtime's own SignatureRunner returns, used the way its docs show."""
    tflite = TfliteInterpreter(model_path=path)
    tflite.allocate_tensors()
    return dict(tflite.get_signature_runner(key)(**inputs))


def assert_bitwise_equal(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    assert set(actual) == set(expected)
    for name, value in expected.items():
        got = actual[name]
        assert isinstance(got, np.ndarray), name
        assert got.dtype == value.dtype, name
        assert got.shape == value.shape, name
        if value.dtype == object:
            assert got.tolist() == value.tolist(), name
        else:
            assert got.tobytes() == value.tobytes(), name


def random_value(detail: Mapping[str, Any], rng: np.random.Generator, dim: int = 3) -> Any:
    """A random input for a tensor: dynamic (-1) dimensions become `dim`."""
    shape = tuple(dim if d < 0 else int(d) for d in detail["shape_signature"])
    dtype = np.dtype(detail["dtype"])
    if dtype == object:
        words = [b"alpha", b"beta", b"gamma", b"", b"\xff\x00bytes"]
        return np.array(
            [words[i % len(words)] for i in range(int(np.prod(shape)))], dtype=object
        ).reshape(shape)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(
            max(info.min, -100), min(info.max, 100), size=shape, dtype=dtype, endpoint=True
        )
    return rng.standard_normal(size=shape).astype(dtype)


def import_tensorflow() -> Any:
    """TensorFlow, for the tests marked 'tensorflow' (only they may import it)."""
    with warnings.catch_warnings():
        # TensorFlow 2.14 reads a deprecated ml_dtypes name while it is imported.
        warnings.simplefilter("ignore", DeprecationWarning)
        import tensorflow as tf  # noqa: PLC0415

    return tf
