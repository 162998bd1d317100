"""Property tests of the conversion rule for Python values (README, "Types"): integers
convert only when exact, floats round into any float dtype but never overflow to
infinity, and nothing else changes a value. No numpy warning escapes (the suite turns
warnings into errors).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysig
from pysig._convert import coerce

NUMERIC = [
    np.dtype(code)
    for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8")
]
SETTINGS = settings(max_examples=200, deadline=None, database=None)
# Python ints of every size: around each dtype's limits and far past int64.
INTS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-(2**2000), 2**2000),
    st.sampled_from([2**24 + 1, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 65505, 2049]),
)


def _convert(value: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    return coerce(value, dtype, "sig", "x")


def _int_fits(value: int, dtype: np.dtype[Any]) -> bool:
    """The rule's oracle for a Python int: the dtype holds exactly this value."""
    if dtype.kind == "b":
        return False
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return bool(info.min <= value <= info.max)
    try:
        as_float = float(value)
    except OverflowError:
        return False
    with np.errstate(over="ignore"):
        narrowed = dtype.type(as_float)
    return bool(np.isfinite(narrowed)) and int(narrowed.real) == value


@SETTINGS
@given(value=INTS, dtype=st.sampled_from(NUMERIC), nested=st.booleans())
def test_python_ints_convert_exactly_or_are_refused(
    value: int, dtype: np.dtype[Any], nested: bool
) -> None:
    given_value: Any = [[value, 0]] if nested else value
    if not _int_fits(value, dtype):
        with pytest.raises(pysig.InputTypeError, match="expects dtype"):
            _convert(given_value, dtype)
        return
    result = _convert(given_value, dtype)
    assert result.dtype == dtype
    assert result.flags.c_contiguous
    assert result.reshape(-1)[0].item() == value


@SETTINGS
@given(value=st.floats(allow_nan=True, allow_infinity=True), dtype=st.sampled_from(NUMERIC))
def test_python_floats_round_but_never_overflow(value: float, dtype: np.dtype[Any]) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        expected = np.asarray([value]).astype(dtype)
    if dtype.kind not in "fc":
        with pytest.raises(pysig.InputTypeError, match="never go into"):
            _convert([value], dtype)
    elif math.isfinite(value) and not np.isfinite(expected[0]):
        with pytest.raises(pysig.InputTypeError, match="out of its range"):
            _convert([value], dtype)
    else:
        assert np.array_equal(_convert([value], dtype), expected, equal_nan=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[16777217, 0, 0, 0]], "16777217 does not convert to it exactly"),
        (1e300, r"1e\+300 is out of its range \(it would become inf\)"),
        (2**200, "is out of its range"),
        ([[2**2000, 0, 0, 0]], "is out of its range"),
        ([[None, 1, 2, 3]], "mixed or non-numeric items"),
        ([[1j, 0, 0, 0]], "complex values never go into a float32 tensor"),
    ],
)
def test_values_the_readme_names_are_refused_clearly(value: Any, message: str) -> None:
    add = pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_runner("add")
    with pytest.raises(pysig.InputTypeError, match=message):
        add(x=value, y=np.ones((1, 4), np.float32))
    # The refusal leaves the runner as it was.
    assert add(x=[[1, 2, 3, 4]], y=[[0.5, 0.5, 0.5, 0.5]])["sum"].tolist() == [[1.5, 2.5, 3.5, 4.5]]


def test_exact_integers_and_rounded_floats_run() -> None:
    add = pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_runner("add")
    out = add(x=[[16777216, 2**63, 0.1, -3]], y=[[0, 0, 0, 0]])["sum"]
    assert out.tolist() == np.float32([[16777216, 2**63, 0.1, -3]]).tolist()
