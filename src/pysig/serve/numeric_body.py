"""Predict bodies whose tensors are all numbers, read by the extension straight into arrays.

The general path (json_tensor: orjson, then numpy) makes a Python number of every
JSON number and then an array of them: for an image that costs many times the
model's own run. The extension reads ``instances`` / ``inputs`` made of numbers,
NaN and Infinity tokens and dense nested lists of them (with an optional
``signature_name``) into float64 arrays, and says None for anything else. Those
requests, and any tensor this module cannot convert exactly as
``json_tensor.tensor`` would, take the general path, which also words the errors.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Tuple

import numpy as np
from numpy.typing import NDArray

from .. import _pysig
from .json_tensor import RequestFormat, Tensors
from .signatures import TensorSpec

# As the extension gives it: the float64 array, whether every number was an integer
# literal (of at most 15 digits: exact), and the largest finite magnitude.
Tree = Tuple[NDArray[np.float64], bool, float]


_LARGEST = {np.dtype(t): float(np.finfo(t).max) for t in (np.float16, np.float32, np.float64)}


class NumericRequest(NamedTuple):
    signature_name: str | None
    fmt: RequestFormat
    value: Tree | dict[str, Tree]


def read(body: bytes) -> NumericRequest | None:
    """The request, if the extension's reader takes it; None sends it the general way."""
    found = _pysig.read_numeric_request(body)
    if found is None:
        return None
    name, fmt, value = found
    return NumericRequest(name, RequestFormat(fmt), value)


def inputs(request: NumericRequest, specs: Mapping[str, TensorSpec]) -> Tensors | None:
    """The signature's input tensors, or None where the general path must decide."""
    if isinstance(request.value, dict):
        if request.fmt is not RequestFormat.COLUMNAR:
            return None
        tensors = {}
        for name, spec in specs.items():
            tree = request.value.get(name)
            tensor = None if tree is None else _converted(tree, spec)
            if tensor is None:
                return None
            tensors[name] = tensor
        return tensors
    if len(specs) != 1:
        return None
    ((name, spec),) = specs.items()
    tensor = _converted(request.value, spec)
    return None if tensor is None else {name: tensor}


def _converted(tree: Tree, spec: TensorSpec) -> NDArray[Any] | None:
    """The tree as the spec's dtype, exactly as the general path converts the same numbers."""
    array, integral, largest = tree
    dtype = spec.dtype
    kind = dtype.kind
    if kind == "f":
        if dtype == array.dtype:
            return array
        if largest > _LARGEST[dtype]:
            # Numbers beyond the type's range become +-inf, as the general path makes them.
            with np.errstate(over="ignore"):
                return array.astype(dtype)
        return array.astype(dtype)
    if kind in "iu" and integral:
        limits = np.iinfo(dtype)
        if array.size and (array.min() < limits.min or array.max() > limits.max):
            return None  # out of range: the general path says so
        return array.astype(dtype)
    return None  # strings, bools, complex numbers, floats for integers: the general path's
