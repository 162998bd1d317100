"""The import-time check of pysig's runtime declarations against the live runtime.

pysig reads the runtime's objects through its own declarations of their layout
(third_party/tflite_abi) and calls its functions by their exported names. Before anything else uses them, this runs the demo
model shipped in the package and compares what those declarations read with what
tflite_runtime's own API reports: every tensor's name, shape, shape signature,
dtype and byte size in every subgraph, the subgraph each signature runs, and the
values one signature computes. Any difference refuses the import.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tflite_runtime.interpreter import Interpreter as TfliteInterpreter
from tflite_runtime.interpreter import OpResolverType

from .. import _pysig
from .._convert import coerce
from .._resources import demo_model_bytes
from ..errors import AbiMismatchError
from . import tflite as _backend  # noqa: F401  (resolves the backend's functions first)


def verify_runtime_layout() -> None:
    """Raise AbiMismatchError if the declarations do not describe the installed runtime."""
    tflite = TfliteInterpreter(
        model_content=demo_model_bytes(),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    tflite.allocate_tensors()
    wrapper = tflite._interpreter
    signatures = tflite._get_full_signature_list()
    for key in signatures:
        wrapper.AllocateTensors(wrapper.GetSubgraphIndexFromSignature(key))
    handle = tflite._native_handle()
    problems: list[str] = []

    count = _pysig.tflite.subgraph_count(handle)
    expected_count = 1 + max(wrapper.GetSubgraphIndexFromSignature(key) for key in signatures)
    if not expected_count <= count < 1024:
        _refuse([f"subgraph count read as {count}, expected at least {expected_count}"])
    for key in signatures:
        actual = _pysig.tflite.signature_subgraph(handle, key)
        expected = wrapper.GetSubgraphIndexFromSignature(key)
        if actual != expected:
            problems.append(f"signature {key!r} runs subgraph {actual}, expected {expected}")
    for subgraph in range(count):
        problems += _compare_tensors(tflite, handle, subgraph)
    if problems:
        _refuse(problems)
    problems += _compare_results(tflite)
    if problems:
        _refuse(problems)


def _compare_tensors(tflite: TfliteInterpreter, handle: int, subgraph: int) -> list[str]:
    count = _pysig.tflite.tensor_count(handle, subgraph)
    expected_count = tflite._interpreter.NumTensors(subgraph)
    if count != expected_count:
        return [f"subgraph {subgraph}: {count} tensors read, {expected_count} expected"]
    problems = []
    for index in range(count):
        mine = _pysig.tflite.inspect_tensor(handle, subgraph, index)
        try:
            theirs = tflite._get_tensor_details(index, subgraph)
        except ValueError:  # tflite_runtime reports nothing for a tensor without a shape
            if mine["has_shape"]:
                problems.append(f"subgraph {subgraph} tensor {index}: read a shape, expected none")
            continue
        dtype = np.dtype(theirs["dtype"])
        expected = {
            "name": theirs["name"],
            "shape": tuple(int(d) for d in theirs["shape"]),
            "shape_signature": tuple(int(d) for d in theirs["shape_signature"]),
            "type": _pysig.element_type_of(dtype),
            "bytes": int(np.prod(theirs["shape"], dtype=np.int64)) * dtype.itemsize,
        }
        if dtype == np.dtype(object):
            del expected["bytes"]  # strings are variable-length
        for field, value in expected.items():
            if mine[field] != value:
                problems.append(
                    f"subgraph {subgraph} tensor {index} {field}: read {mine[field]!r}, expected {value!r}"
                )
    return problems


def _compare_results(tflite: TfliteInterpreter) -> list[str]:
    """Run the demo's `add` through pysig and through tflite_runtime; they must agree."""
    signature = tflite._get_full_signature_list()["add"]
    subgraph = tflite._interpreter.GetSubgraphIndexFromSignature("add")
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    y = np.full((1, 4), 0.5, dtype=np.float32)
    expected = tflite.get_signature_runner("add")(x=x, y=y)["sum"]
    session = _pysig.tflite.session(tflite, tflite._native_handle())
    runner = _pysig.Runner(
        session,
        "add",
        "add",
        subgraph,
        [(name, index, [1, 4]) for name, index in signature["inputs"].items()],
        [(name, index, [1, 4]) for name, index in signature["outputs"].items()],
        coerce,
        [],  # `add` has no ARG_MAX / ARG_MIN
        [],  # and no output sized by its values
    )
    actual: Any = runner(x=x, y=y)["sum"]
    if not np.array_equal(actual, expected):
        return [
            f"signature 'add' computed {actual!r} through pysig, {expected!r} through tflite_runtime"
        ]
    return []


def _refuse(problems: list[str]) -> None:
    raise AbiMismatchError(
        "pysig's declarations of the tflite-runtime layout do not match the installed "
        "runtime (pysig supports tflite-runtime==2.14.0 exactly); refusing to run:\n  "
        + "\n  ".join(problems[:20])
    )
