"""Shared fixtures."""

from __future__ import annotations

# First, as in a program that uses only pysig: it loads tflite_runtime's library
# without the flush-to-zero mode that library sets on aarch64 (see
# test_float_environment.py), so floats behave the same on every platform here.
import pysig  # isort: skip

from typing import Any, Callable

import numpy as np
import pytest
from _support import model_path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def demo() -> pysig.Interpreter:
    return pysig.Interpreter(pysig.DEMO_MODEL_PATH)


@pytest.fixture
def open_model() -> Callable[..., pysig.Interpreter]:
    def open_(name: str, **options: Any) -> pysig.Interpreter:
        return pysig.Interpreter(model_path(name), **options)

    return open_
