"""The extension's reader of all-number predict bodies against the general path (orjson, then
numpy): on every body it takes, it gives the same tensors bit for bit; on every other body,
malformed bytes included, it says None (never crashes), so the general path decides.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysig.serve import json_tensor, numeric_body
from pysig.serve.errors import InvalidArgument
from pysig.serve.signatures import TensorSpec

SETTINGS = settings(max_examples=300, deadline=None, database=None)
DTYPES = [
    np.dtype(code)
    for code in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?", "O")
]


def _specs(names: list[str], dtype: np.dtype[Any]) -> dict[str, TensorSpec]:
    return {name: TensorSpec(name, dtype, ()) for name in names}


def _general(body: bytes, specs: Mapping[str, TensorSpec]) -> Any:
    """The general path's tensors and format, or the InvalidArgument it raises."""
    try:
        document = json_tensor.loads(body)
        has_bools = b"true" in body or b"false" in body
        return json_tensor.predict_inputs(document, specs, has_bools)
    except InvalidArgument as error:
        return error


def _fast(body: bytes, specs: Mapping[str, TensorSpec]) -> Any:
    request = numeric_body.read(body)
    if request is None:
        return None
    tensors = numeric_body.inputs(request, specs)
    return None if tensors is None else (tensors, request.fmt)


def assert_agrees(body: bytes, specs: Mapping[str, TensorSpec]) -> bool:
    """Whether the reader took the body; when it did, the general path gives the same."""
    fast = _fast(body, specs)
    if fast is None:
        return False
    general = _general(body, specs)
    assert not isinstance(general, InvalidArgument), (body[:200], general)
    (tensors, fmt), (expected, expected_fmt) = fast, general
    assert fmt is expected_fmt
    assert list(tensors) == list(expected)
    for name, value in expected.items():
        assert tensors[name].dtype == value.dtype, name
        assert tensors[name].shape == value.shape, name
        assert tensors[name].tobytes() == value.tobytes(), (body[:200], name)
    return True


def _number_text(value: float, style: int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if style == 1:
        return f"{value:.{abs(hash(value)) % 12}e}"
    if style == 2:
        return f"{value:.{abs(hash(value)) % 9}f}"
    return repr(value)


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2.0, 2.0),
    st.integers(-300, 300),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -0.0, 0.0, 1e-320, 5e-324, 3.4028235e38, 3.5e38, 65504.0, 65520.0]),
)


@st.composite
def trees(draw: Any) -> tuple[str, list[int]]:
    """JSON text of a dense tensor of numbers (scalars included), and its shape."""
    shape = draw(st.lists(st.integers(1, 3), max_size=4))
    style = draw(st.integers(0, 2))
    space = draw(st.sampled_from(["", " ", "\n\t "]))
    count = math.prod(shape)
    values = [
        _number_text(v, style) for v in draw(st.lists(NUMBERS, min_size=count, max_size=count))
    ]

    def text(level: int, offset: int) -> str:
        if level == len(shape):
            return values[offset]
        step = math.prod(shape[level + 1 :])
        items = [text(level + 1, offset + i * step) for i in range(shape[level])]
        return "[" + space + ("," + space).join(items) + space + "]"

    return text(0, 0), shape


@SETTINGS
@given(
    tree=trees(),
    dtype=st.sampled_from(DTYPES),
    form=st.sampled_from(["instances", "inputs", "named"]),
    signature=st.sampled_from([None, "", "serving_default"]),
)
def test_dense_numbers_read_as_the_general_path_reads_them(
    tree: tuple[str, list[int]], dtype: np.dtype[Any], form: str, signature: str | None
) -> None:
    text, shape = tree
    if form == "instances":
        if not shape:
            text = f"[{text}]"
        body = '{"instances": ' + text
    elif form == "inputs":
        body = '{"inputs": ' + text
    else:
        body = '{"inputs": {"b": ' + text + ', "a": ' + text + "}"
    if signature is not None:
        body += f', "signature_name": "{signature}"'
    body += "}"
    specs = _specs(["a", "b"] if form == "named" else ["a"], dtype)
    assert_agrees(body.encode(), specs)


@pytest.mark.parametrize(
    ("body", "dtype"),
    [
        (b'{"instances": [[1.5, 2.25], [-3, 0.1]]}', "f4"),
        (b'{"inputs": {"a": 1.5, "b": [2.25]}, "signature_name": "x"}', "f4"),
        (b'{"instances": [NaN, Infinity, -Infinity, -0.0, 1e-3, 1E+3]}', "f2"),
        (b' {"inputs" : [ [ 0 , 255 ] ] } \n', "u1"),
        (b'{"inputs": [-128, 127, 999999999999999]}', "i8"),
        (b'{"inputs": [3.5e38, 0.30000000000000004, 7.325921058654785e-1]}', "f4"),
    ],
)
def test_the_common_requests_take_the_fast_path(body: bytes, dtype: str) -> None:
    specs = _specs(["a", "b"] if b'"b"' in body else ["a"], np.dtype(dtype))
    assert assert_agrees(body, specs)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1, 2], [3]]}',  # ragged
        b'{"instances": [[1, 2], 3]}',
        b'{"instances": [1, [2]]}',
        b'{"instances": []}',
        b'{"instances": 1}',
        b'{"inputs": [1, 2], "instances": [1]}',
        b'{"inputs": [1, true]}',
        b'{"inputs": [1, null]}',
        b'{"inputs": ["a"]}',
        b'{"inputs": [01]}',
        b'{"inputs": [1.]}',
        b'{"inputs": [.5]}',
        b'{"inputs": [+1]}',
        b'{"inputs": [1e]}',
        b'{"inputs": [-NaN]}',
        b'{"inputs": [nan]}',
        b'{"inputs": [1e400]}',
        b'{"inputs": [1234567890123456]}',  # 16 digits: a double may not hold it exactly
        b'{"inputs": {"a": 1, "a": 2}}',
        b'{"inputs": {}}',
        b'{"inputs": 1, "other": 2}',
        b'{"inputs": 1}}',
        b'{"inputs": 1',
        b'{"inputs": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}',  # 17 dimensions
        b'{"signature_name": "\\u0041", "inputs": 1}',
        b"",
        b"[1]",
    ],
)
def test_other_bodies_are_left_to_the_general_path(body: bytes) -> None:
    for dtype in ("f4", "i4"):
        assert _fast(body, _specs(["a"], np.dtype(dtype))) is None


def test_numbers_out_of_an_integer_range_are_left_to_the_general_path() -> None:
    body = b'{"inputs": [1, 300]}'
    assert _fast(body, _specs(["a"], np.dtype("u1"))) is None
    assert "outside the range" in str(_general(body, _specs(["a"], np.dtype("u1"))))
    assert assert_agrees(body, _specs(["a"], np.dtype("i2")))


VALID = [
    b'{"instances": [[1.5, 2.25], [-3, 0.1]], "signature_name": "s"}',
    b'{"inputs": {"a": [1, 2, 3], "b": -0.5e-3}}',
    b'{"inputs": [[NaN, Infinity], [-Infinity, 0]]}',
]


@SETTINGS
@given(
    base=st.sampled_from(VALID),
    edits=st.lists(st.tuples(st.integers(0, 200), st.binary(max_size=3), st.integers(0, 3))),
    dtype=st.sampled_from(DTYPES),
)
def test_damaged_bodies_never_crash_and_never_disagree(
    base: bytes, edits: list[tuple[int, bytes, int]], dtype: np.dtype[Any]
) -> None:
    body = bytearray(base)
    for where, inserted, removed in edits:
        position = where % (len(body) + 1)
        body[position : position + removed] = inserted
    assert_agrees(bytes(body), _specs(["a", "b"] if b'"b"' in body else ["a"], dtype))


@SETTINGS
@given(body=st.binary(max_size=64))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    assert_agrees(body, _specs(["a"], np.dtype("f4")))


def test_a_large_image_reads_as_the_general_path_reads_it() -> None:
    image = np.random.default_rng(5).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    body = orjson.dumps({"instances": image.tolist()})
    assert assert_agrees(body, _specs(["a"], np.dtype("f4")))
    (tensors, _) = _fast(body, _specs(["a"], np.dtype("f4")))
    assert tensors["a"].tobytes() == image.tobytes()
