"""Property tests of inputs: any value either runs, exactly as tflite_runtime runs it, or
raises a clear pysig exception. Never a crash, a hang, a silent change of values.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import assert_bitwise_equal, model_path, reference_interpreter_class, runtime_gap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pysig
from pysig.runtime import choose

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NUMERIC_DTYPES = [
    np.dtype(code)
    for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8")
]


def _runtime() -> str:
    # The runtime the `runtime` fixture makes "auto" mean (hypothesis tests take no fixtures).
    return os.environ[choose.ENVIRONMENT_VARIABLE]


def _pysig(path: str) -> pysig.Interpreter:
    return _cached_pysig(path, _runtime())


@functools.lru_cache(maxsize=None)
def _cached_pysig(path: str, runtime: str) -> pysig.Interpreter:
    return pysig.Interpreter(path, runtime=runtime)


@functools.lru_cache(maxsize=None)
def _reference(path: str, runtime: str) -> Any:
    interpreter = reference_interpreter_class(runtime)(model_path=path)
    interpreter.allocate_tensors()
    return interpreter


def _both(
    path: str, key: str, pysig_inputs: dict[str, Any], reference_inputs: dict[str, Any]
) -> None:
    """pysig's outputs for ``pysig_inputs`` equal the runtime's own API's for
    ``reference_inputs``, or both raise the runtime's known limit."""
    runtime = _runtime()
    gap = runtime_gap(runtime, Path(path).stem, key)
    if gap is not None:
        with pytest.raises(gap[0], match=gap[1]):
            _pysig(path).get_signature_runner(key)(**pysig_inputs)
        return
    if runtime == "litert" and any(0 in np.shape(v) for v in pysig_inputs.values()):
        with pytest.raises(pysig.InputShapeError, match="refuses dimensions of 0"):
            _pysig(path).get_signature_runner(key)(**pysig_inputs)
        return
    actual = _pysig(path).get_signature_runner(key)(**pysig_inputs)
    expected = _reference(path, runtime).get_signature_runner(key)(**reference_inputs)
    assert_bitwise_equal(actual, expected)


DEMO = pysig.DEMO_MODEL_PATH
ARG_REDUCE = str(model_path("arg_reduce"))
FLOAT_ROW = hnp.arrays(np.float32, (1, 4), elements=st.floats(-1e6, 1e6, width=32))


@PROPERTY_SETTINGS
@given(
    dtype=st.sampled_from(NUMERIC_DTYPES),
    data=st.data(),
)
def test_any_dtype_converts_safely_or_is_refused(dtype: np.dtype[Any], data: st.DataObject) -> None:
    x = data.draw(hnp.arrays(dtype, (1, 4), elements=hnp.from_dtype(dtype, allow_nan=False)))
    y = np.ones((1, 4), np.float32)
    if np.can_cast(dtype, np.float32, casting="safe"):
        _both(DEMO, "add", {"x": x, "y": y}, {"x": x.astype(np.float32), "y": y})
    else:
        with pytest.raises(pysig.InputTypeError, match="cannot be cast"):
            _pysig(DEMO).get_signature_runner("add")(x=x, y=y)


@PROPERTY_SETTINGS
@given(rows=st.integers(0, 6), data=st.data())
def test_dynamic_batch_sizes_including_zero(rows: int, data: st.DataObject) -> None:
    x = data.draw(hnp.arrays(np.float32, (rows, 4), elements=st.floats(-1e3, 1e3, width=32)))
    _both(DEMO, "scale", {"x": x}, {"x": x})


def _misaligned(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    raw = bytearray(array.nbytes + 1)
    view = np.frombuffer(raw, dtype=array.dtype, count=array.size, offset=1).reshape(array.shape)
    view[...] = array
    return view


LAYOUTS = {
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "transposed": lambda a: np.ascontiguousarray(a.T).T,
    "fortran": np.asfortranarray,
    "misaligned": _misaligned,
    "byte-swapped": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "read-only": lambda a: np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape),
    "0-d strides": lambda a: np.broadcast_to(a[:, :1], a.shape),
}


@PROPERTY_SETTINGS
@given(layout=st.sampled_from(sorted(LAYOUTS)), rows=st.integers(1, 5), data=st.data())
def test_memory_layouts_give_the_same_result(layout: str, rows: int, data: st.DataObject) -> None:
    x = data.draw(hnp.arrays(np.float32, (rows, 4), elements=st.floats(-1e3, 1e3, width=32)))
    unusual = LAYOUTS[layout](x)
    assert np.array_equal(unusual, x if layout != "0-d strides" else unusual)
    expected_input = np.ascontiguousarray(unusual, dtype=np.float32)
    _both(DEMO, "scale", {"x": unusual}, {"x": expected_input})


WRONG_VALUES = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.builds(object),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.lists(
        st.one_of(st.integers(), st.text(max_size=2), st.none()), min_size=1, max_size=4
    ).filter(lambda items: not all(isinstance(i, int) for i in items)),
    st.just([[1.0, 2.0], [3.0]]),  # ragged
)


@PROPERTY_SETTINGS
@given(value=WRONG_VALUES)
def test_values_that_are_not_numbers_are_refused(value: Any) -> None:
    add = _pysig(DEMO).get_signature_runner("add")
    with pytest.raises(pysig.InputTypeError):
        add(x=value, y=np.ones((1, 4), np.float32))
    with pytest.raises(pysig.InputTypeError):
        add.run({"x": value, "y": np.ones((1, 4), np.float32)})


@PROPERTY_SETTINGS
@given(values=st.lists(st.integers(-(2**20), 2**20), min_size=4, max_size=4))
def test_python_lists_of_numbers_run_like_arrays(values: list[int]) -> None:
    row = [values]
    _both(DEMO, "add", {"x": row, "y": row}, {"x": np.float32(row), "y": np.float32(row)})


TYPES_SIGNATURES = {
    "int64_add": {"x": (np.int64, 3), "y": (np.int64, 3)},
    "int8_ops": {"u": (np.uint8, 4), "x": (np.int8, 4)},
    "logical": {"a": (np.bool_, 4), "b": (np.bool_, 4)},
    "half": {"x": (np.float16, 4)},
}


@PROPERTY_SETTINGS
@given(key=st.sampled_from(sorted(TYPES_SIGNATURES)), data=st.data())
def test_each_tensor_type_matches_tflite_runtime(key: str, data: st.DataObject) -> None:
    inputs = {}
    for name, (dtype, size) in TYPES_SIGNATURES[key].items():
        elements = hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False)
        if np.dtype(dtype).kind in "iu":
            info = np.iinfo(dtype)
            elements = st.integers(max(info.min, -100), min(info.max, 100))
        inputs[name] = data.draw(hnp.arrays(dtype, (size,), elements=elements))
    _both(model_path("types"), key, inputs, inputs)


@PROPERTY_SETTINGS
@given(
    words=st.lists(st.one_of(st.text(max_size=6), st.binary(max_size=6)), min_size=1, max_size=5)
)
def test_strings_as_str_or_bytes(words: list[Any]) -> None:
    encoded = np.array([w.encode() if isinstance(w, str) else w for w in words], dtype=object)
    indices = np.zeros(len(words), np.int32)
    path = model_path("types")
    _both(path, "strings", {"s": words, "i": indices}, {"s": encoded, "i": indices})


@PROPERTY_SETTINGS
@given(dim=st.integers(2**31, 2**62))
def test_dimensions_beyond_int32_are_refused_before_allocating(dim: int) -> None:
    scale = _pysig(DEMO).get_signature_runner("scale")
    with pytest.raises(pysig.InputShapeError, match="out of range"):
        scale.resize_input("x", [dim, 4])


def test_a_huge_broadcast_input_is_refused_without_allocating() -> None:
    scale = _pysig(DEMO).get_signature_runner("scale")
    side = math.isqrt(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))  # 16x memory
    with pytest.raises(pysig.InputShapeError, match="more than this machine's"):
        scale(x=np.broadcast_to(np.float32(1), (side, side, 4)))


# Each crashed tflite-runtime 2.14 (a double free at exit after its failed allocation,
# a read past ARG_MAX's empty axis); each runs in a child so that a crash is a failure
# rather than the end of the suite. The child prints the error it got.
_IN_CHILD = {
    "resize beyond memory": (
        """
import pysig
runner = pysig.Interpreter(pysig.DEMO_MODEL_PATH, runtime=RUNTIME).get_signature_runner("scale")
try:
    runner.resize_input("x", [2**30, 2**30])
except pysig.InputShapeError as error:
    print(error)
""",
        "more than this machine's",
    ),
    "tensors beyond memory": (
        # The input alone fits, the input and output together do not: the runtime's
        # own allocation fails, and the interpreter must be given up, not destroyed.
        """
import gc, os, pysig
interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH, runtime=RUNTIME)
runner = interp.get_signature_runner("scale")
rows = int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * 0.9) // 16
runner.resize_input("x", [rows, 4])
for attempt in (runner.allocate, runner.invoke):
    try:
        attempt()
    except pysig.OutOfMemoryError as error:
        print(error)
del runner, interp
gc.collect()
""",
        # both attempts refused, the second by the abandoned interpreter
        "create a new interpreter\nthe runtime ran out of memory",
    ),
    "empty ARG_MAX axis": (
        """
import numpy as np, pysig
runner = pysig.Interpreter(pysig.DEMO_MODEL_PATH, runtime=RUNTIME).get_signature_runner("argmax")
try:
    runner(x=np.zeros((1, 0), np.float32))
except pysig.InputShapeError as error:
    print(error)
""",
        "dimension 1 is fixed at 8",
    ),
    # The reduced axis is dynamic in the model, so only the graph tells that 0 is fatal.
    "empty dynamic ARG_MAX axis, call": (
        f"""
import numpy as np, pysig
runner = pysig.Interpreter({ARG_REDUCE!r}, runtime=RUNTIME).get_signature_runner(
    "over_dynamic_axis"
)
for _ in range(2):
    try:
        runner(x=np.zeros((1, 0), np.float32))
    except pysig.InputShapeError as error:
        print("refused:", "an empty axis (its input becomes (1, 0))" in str(error))
print("recovered:", runner(x=np.array([[1, 5, 2]], np.float32))["index"].tolist())
""",
        "refused: True\nrefused: True\nrecovered: [1]\n",
    ),
    "empty dynamic ARG_MAX axis, views": (
        f"""
import pysig
runner = pysig.Interpreter({ARG_REDUCE!r}, runtime=RUNTIME).get_signature_runner(
    "over_dynamic_axis"
)
try:
    runner.resize_input("x", [1, 0])
except pysig.InputShapeError as error:
    print("refused at resize:", "refuses dimensions of 0" in str(error))
for attempt in (runner.allocate, runner.invoke, lambda: runner.outputs["index"]):
    try:
        attempt()
    except pysig.InputShapeError as error:
        print("refused:", "an empty axis" in str(error))
""",
        "refused: True\n" * 3,
    ),
}
# What LiteRT says instead, where it differs: it refuses every dimension of 0 up front.
_IN_CHILD_LITERT = {
    "empty ARG_MAX axis": "dimension 1 would be empty, and LiteRT 2.3.0 refuses dimensions of 0",
    "empty dynamic ARG_MAX axis, call": "recovered: [1]\n",
    "empty dynamic ARG_MAX axis, views": "refused at resize: True\n",
}


def test_an_empty_batch_reaching_arg_min_still_runs() -> None:
    # (On LiteRT, _both expects the refusal of the empty dimension instead.)
    # Only an empty reduced axis is refused: ARG_MIN over a whole axis of no rows is fine.
    _both(
        ARG_REDUCE,
        "over_fixed_axis",
        {"x": np.zeros((0, 3), np.float32)},
        {"x": np.zeros((0, 3), np.float32)},
    )


@pytest.mark.parametrize("case", sorted(_IN_CHILD))
def test_input_shapes_that_crash_the_runtime_are_refused(case: str, runtime: str) -> None:
    script, expected = _IN_CHILD[case]
    if runtime == "litert":
        expected = _IN_CHILD_LITERT.get(case, expected)
    script = f"RUNTIME = {runtime!r}\n{script}"
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert child.returncode == 0, child.stderr.decode(errors="replace")[-500:]
    assert expected in child.stdout.decode()


CLOSED_CALLS = {
    "call": lambda r: r(x=np.ones((1, 4), np.float32), y=np.ones((1, 4), np.float32)),
    "run": lambda r: r.run({"x": np.ones((1, 4), np.float32), "y": np.ones((1, 4), np.float32)}),
    "run with timeout": lambda r: r.run(
        {"x": np.ones((1, 4), np.float32), "y": np.ones((1, 4), np.float32)}, timeout=5
    ),
    "invoke": lambda r: r.invoke(),
    "input view": lambda r: r.inputs["x"],
    "output view": lambda r: r.outputs["sum"],
    "resize": lambda r: r.resize_input("x", [2, 4]),
    "allocate": lambda r: r.allocate(),
    "details": lambda r: r.get_input_details(),
    "cancel": lambda r: r.cancel(),
}


@pytest.mark.parametrize("what", sorted(CLOSED_CALLS))
def test_every_use_after_close_raises_closed_error(what: str) -> None:
    interp = pysig.Interpreter(DEMO)
    runner = interp.get_signature_runner("add")
    interp.close()
    with pytest.raises(pysig.ClosedError, match="closed"):
        CLOSED_CALLS[what](runner)
