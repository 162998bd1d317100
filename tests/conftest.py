"""Shared fixtures."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from _support import model_path

import pysig


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
