"""Turning a caller's input value into an array of exactly the tensor's dtype.

The C++ core takes C-contiguous arrays of the right dtype as they are; every
other value comes here. The rule: nothing is converted if it could change a value.
numpy arrays and scalars follow numpy's 'safe' casting. Python numbers and lists
convert when every value keeps its value in the tensor's dtype: integers exactly
(16777217 does not fit a float32), floats rounded to the nearest value of any
float dtype but never overflowing to infinity (1e300 does not fit a float32).
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
    values = _numbers(value, dtype, where)
    source, target = values.dtype.kind, dtype.kind
    refused_kind = (
        (target == "b" and source != "b")
        or (target in "iu" and source not in "biuO")
        or (source == "c" and target != "c")
    )
    if refused_kind:
        raise InputTypeError(
            f"{where} expects dtype {dtype}; {_preview(value)} does not convert to it exactly "
            f"({_kind_name(source)} values never go into a {dtype} tensor)"
        )
    if source == "O" and target in "iu":
        # numpy would wrap these (with a DeprecationWarning) rather than refuse them.
        info = np.iinfo(dtype)
        for item in values.reshape(-1).tolist():
            if not info.min <= item <= info.max:
                raise InputTypeError(
                    f"{where} expects dtype {dtype}; {_preview(item)} is out of its range"
                )
    # Overflow is detected below, so numpy's warnings about it are not the caller's.
    with np.errstate(all="ignore"):
        try:
            converted = values.astype(dtype)
        except OverflowError:  # a Python int beyond what any float holds
            converted = None
        lost = _first_lost(values, converted, dtype)
    if lost is not None:
        raise InputTypeError(f"{where} expects dtype {dtype}; {lost}")
    return converted  # type: ignore[return-value]


def _numbers(value: Any, dtype: np.dtype[Any], where: str) -> NDArray[Any]:
    """The value as numpy infers it; Python ints beyond int64 stay Python ints (object)."""
    try:
        inferred = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise InputTypeError(
            f"{where}: cannot convert {type(value).__name__} to an array of {dtype}: {error}"
        ) from error
    kind = inferred.dtype.kind
    if kind == "f" and inferred.size and not np.abs(inferred).max() < 2**63:
        # numpy infers float64 for ints past int64 beside smaller ones ([2**63, -1]),
        # rounding them; keep them as the Python ints they are.
        exact = np.asarray(value, dtype=object)
        if all(isinstance(item, int) for item in exact.reshape(-1).tolist()):
            inferred, kind = exact, "O"
    if kind == "O" and all(isinstance(item, int) for item in inferred.reshape(-1).tolist()):
        return inferred
    if kind not in "biufc":
        raise InputTypeError(
            f"{where} expects {dtype} numbers, got {type(value).__name__} of "
            f"{'mixed or non-numeric items' if kind == 'O' else inferred.dtype}"
        )
    return inferred


def _first_lost(
    values: NDArray[Any], converted: NDArray[Any] | None, dtype: np.dtype[Any]
) -> str | None:
    """What the conversion changed beyond the rule, said of its first such value, or None."""
    flat = values.reshape(-1)
    if converted is None:
        item = next(item for item in flat.tolist() if _overflows(item, dtype))
        return f"{_preview(item)} is out of its range"
    out = converted.reshape(-1)
    if values.dtype.kind in "fc":
        # Rounding is expected; a finite value turned infinite is not.
        bad = np.isfinite(flat) & ~np.isfinite(out)
    else:
        # Cast back rather than compare: int64 and float64 compare as float64, which
        # would call 2**53 + 1 equal to its rounding.
        bad = (out.real if out.dtype.kind == "c" else out).astype(values.dtype) != flat
        if dtype.kind in "iu" and values.dtype.kind in "iu":
            # Between signed and unsigned of one size the cast back undoes the wrap.
            bad |= (out < 0) != (flat < 0)
    positions = np.flatnonzero(bad)
    if not positions.size:
        return None
    at = int(positions[0])
    before, after = flat[at : at + 1].tolist()[0], out[at : at + 1].tolist()[0]
    if dtype.kind in "fc" and not np.isfinite(after):
        return f"{_preview(before)} is out of its range (it would become {after})"
    return f"{_preview(before)} does not convert to it exactly (it would become {after!r})"


def _overflows(item: int, dtype: np.dtype[Any]) -> bool:
    try:
        np.array([item], dtype=object).astype(dtype)
    except OverflowError:
        return True
    return False


def _kind_name(kind: str) -> str:
    return {"b": "bool", "i": "integer", "u": "integer", "f": "float", "c": "complex"}.get(
        kind, "these"
    )


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
