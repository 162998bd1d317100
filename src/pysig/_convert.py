"""Turning a caller's input value into an array of exactly the tensor's dtype.

The C++ core takes C-contiguous arrays of the right dtype as they are; every
other value comes here. The rule: nothing is converted if it could change a value.
numpy arrays and scalars follow numpy's 'safe' casting; Python numbers and lists
may convert into any dtype that holds their values exactly (floats into any float).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InputTypeError


def coerce(value: Any, dtype: np.dtype[Any], label: str, name: str) -> NDArray[Any]:
    """Return ``value`` as a C-contiguous array of ``dtype`` or raise InputTypeError."""
    where = f"signature {label!r}: input {name!r}"
    if dtype == np.dtype(object):
        return _as_strings(value, where)
    if value is None or isinstance(value, (str, bytes)):
        raise InputTypeError(f"{where} expects {dtype} values, got {type(value).__name__}")
    if isinstance(value, (np.ndarray, np.generic)):
        return _cast_array(np.asarray(value), dtype, where)
    return _convert_python(value, dtype, where)


def _cast_array(array: NDArray[Any], dtype: np.dtype[Any], where: str) -> NDArray[Any]:
    if not np.can_cast(array.dtype, dtype, casting="safe"):
        raise InputTypeError(
            f"{where} expects dtype {dtype}; {array.dtype} cannot be cast to it without "
            f"losing values (convert it explicitly, e.g. with .astype(np.{dtype}))"
        )
    # np.ascontiguousarray would turn a 0-d array into a 1-d one.
    return np.asarray(array, dtype=dtype, order="C")


def _convert_python(value: Any, dtype: np.dtype[Any], where: str) -> NDArray[Any]:
    try:
        inferred = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise InputTypeError(
            f"{where}: cannot convert {type(value).__name__} to an array: {error}"
        ) from error
    if inferred.dtype.kind not in "biufc":
        raise InputTypeError(
            f"{where} expects {dtype} numbers, got {type(value).__name__} of {inferred.dtype}"
        )
    if not _converts_exactly(inferred, dtype):
        raise InputTypeError(
            f"{where} expects dtype {dtype}; the value {_preview(value)} does not convert to it "
            "exactly"
        )
    return np.asarray(inferred, dtype=dtype, order="C")


def _converts_exactly(values: NDArray[Any], dtype: np.dtype[Any]) -> bool:
    source, target = values.dtype.kind, dtype.kind
    if target in "fc":
        # Python floats are float64; rounding them into a narrower float is expected.
        return source in "biuf" or (source == "c" and target == "c")
    if target == "b" or source not in "biu":
        return source == target == "b"
    with np.errstate(all="ignore"):
        return bool(np.all(values.astype(dtype) == values))


def _as_strings(value: Any, where: str) -> NDArray[Any]:
    array = np.array(value, dtype=object)  # a contiguous copy: its items are replaced below
    flat = array.reshape(-1)
    for i, item in enumerate(flat):
        if isinstance(item, str):
            flat[i] = item.encode("utf-8")
        elif isinstance(item, (bytes, np.bytes_)):
            flat[i] = bytes(item)
        else:
            raise InputTypeError(
                f"{where} holds strings: expected bytes or str items, got {type(item).__name__}"
            )
    return array


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
