"""Every misuse gives a pysig exception that says what was expected, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from _support import model_path, runtime_gap

import pysig

ONES = np.ones((1, 4), np.float32)


def test_unknown_signature_lists_the_valid_keys(demo: pysig.Interpreter) -> None:
    with pytest.raises(pysig.SignatureNotFoundError, match="'add', 'argmax', 'scale'") as info:
        demo.get_signature_runner("nope")
    assert isinstance(info.value, KeyError)
    assert "no signature 'nope'" in str(info.value)


def test_key_is_required_when_there_are_several_signatures(demo: pysig.Interpreter) -> None:
    with pytest.raises(pysig.SignatureNotFoundError, match="3 signatures"):
        demo.get_signature_runner()


def test_unknown_input_name_lists_the_valid_ones(demo: pysig.Interpreter) -> None:
    add = demo.get_signature_runner("add")
    with pytest.raises(pysig.InputNameError, match=r"unknown input\(s\) 'z'.*'x', 'y'"):
        add(x=ONES, y=ONES, z=ONES)


def test_missing_inputs_are_named(demo: pysig.Interpreter) -> None:
    add = demo.get_signature_runner("add")
    with pytest.raises(pysig.InputNameError, match=r"signature 'add': missing input\(s\) 'y'"):
        add(x=ONES)
    with pytest.raises(
        pysig.InputNameError, match=r"missing input\(s\) 'y'; unknown input\(s\) 'w'"
    ):
        add(x=ONES, w=ONES)


def test_positional_inputs_are_refused(demo: pysig.Interpreter) -> None:
    with pytest.raises(TypeError, match="by name"):
        demo.get_signature_runner("add")(ONES, ONES)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.ones((1, 4), np.float64), "float64 cannot be cast"),
        (np.ones((1, 4), np.int64), "int64 cannot be cast"),
        (np.ones((1, 4), np.complex64), "complex64 cannot be cast"),
        (None, "got NoneType"),
        ("1234", "got str"),
        ([[object()] * 4], "does not convert|expects float32 numbers"),
        ([[1j, 2, 3, 4]], "does not convert"),
    ],
)
def test_values_that_would_change_are_refused(
    demo: pysig.Interpreter, value: Any, message: str
) -> None:
    add = demo.get_signature_runner("add")
    with pytest.raises(pysig.InputTypeError, match=message) as info:
        add(x=value, y=ONES)
    assert isinstance(info.value, TypeError)
    assert "signature 'add': input 'x'" in str(info.value)


def test_safe_conversions_are_accepted(demo: pysig.Interpreter) -> None:
    add = demo.get_signature_runner("add")
    expected = np.array([[2, 3, 4, 5]], np.float32)
    for x in (
        np.array([[1, 2, 3, 4]], np.int16),  # safe cast
        np.array([[1, 2, 3, 4]], np.float16),
        [[1, 2, 3, 4]],  # Python ints
        [[1.0, 2.0, 3.0, 4.0]],  # Python floats into float32
        np.array([[1, 2, 3, 4]], ">f4"),  # byte-swapped
        np.array([[1, 9, 2, 9, 3, 9, 4, 9]], np.float32)[:, ::2],  # not contiguous
    ):
        assert add(x=x, y=ONES)["sum"].tobytes() == expected.tobytes()


def test_python_ints_must_fit_the_integer_dtype(
    open_model: Callable[..., pysig.Interpreter],
) -> None:
    add = open_model("multi_signature").get_signature_runner("add")
    assert add(x=[0, 2, 3], y=[2**31 - 1, 0, -5])["sum"].tolist() == [2**31 - 1, 2, -2]
    with pytest.raises(pysig.InputTypeError, match="does not convert"):
        add(x=[1, 2, 3], y=[2**31, 0, 0])
    with pytest.raises(pysig.InputTypeError, match="does not convert"):
        add(x=[1.5, 2, 3], y=[0, 0, 0])


# What each runtime says about ADD's inputs of shapes (2, 4) and (3, 4).
SHAPE_REASONS = {"tflite": "not broadcastable", "litert": "XNNPack delegate failed to reshape"}


def test_impossible_shape_reports_the_runtime_reason(demo: pysig.Interpreter, runtime: str) -> None:
    add = demo.get_signature_runner("add")
    with pytest.raises(
        pysig.InputShapeError, match=rf"x=\(2, 4\), y=\(3, 4\).*{SHAPE_REASONS[runtime]}"
    ) as info:
        add(x=np.ones((2, 4), np.float32), y=np.ones((3, 4), np.float32))
    assert isinstance(info.value, ValueError)
    # The runner recovers as soon as it gets shapes it can run.
    assert add(x=ONES, y=ONES)["sum"].tolist() == [[2, 2, 2, 2]]


def test_strict_resize_only_changes_dynamic_dimensions(demo: pysig.Interpreter) -> None:
    scale = demo.get_signature_runner("scale")
    scale.resize_input("x", [7, 4], strict=True)
    with pytest.raises(pysig.InputShapeError, match="cannot resize input 'x' to \\(7, 5\\)"):
        scale.resize_input("x", [7, 5], strict=True)
    with pytest.raises(pysig.InputShapeError, match="out of range"):
        scale.resize_input("x", [-1, 4])
    with pytest.raises(pysig.NameNotFoundError, match="its inputs: 'x'"):
        scale.resize_input("nope", [1, 4])


def test_out_buffers_must_fit(demo: pysig.Interpreter) -> None:
    add = demo.get_signature_runner("add")
    inputs = {"x": ONES, "y": ONES}
    with pytest.raises(pysig.OutputBufferError, match="dtype float32"):
        add.run(inputs, out={"sum": np.empty((1, 4), np.float64)})
    with pytest.raises(pysig.OutputBufferError, match=r"shape \(1, 4\)"):
        add.run(inputs, out={"sum": np.empty((4,), np.float32)})
    with pytest.raises(pysig.OutputBufferError, match="writeable"):
        add.run(inputs, out={"sum": np.empty((1, 8), np.float32)[:, ::2]})
    with pytest.raises(pysig.NameNotFoundError, match="its outputs: 'sum'"):
        add.run(inputs, out={"total": np.empty((1, 4), np.float32)})
    buffer = np.empty((1, 4), np.float32)
    result = add.run(inputs, out={"sum": buffer})
    assert result["sum"] is buffer
    np.testing.assert_array_equal(buffer, 2 * ONES)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(pysig.ModelNotFoundError, match="does not exist") as info:
        pysig.Interpreter(tmp_path / "absent.tflite")
    assert isinstance(info.value, FileNotFoundError)


def test_empty_model_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    with pytest.raises(pysig.ModelLoadError, match="empty"):
        pysig.Interpreter(path)
    with pytest.raises(pysig.ModelLoadError, match="empty"):
        pysig.Interpreter(model_content=b"")


def test_not_a_tflite_file(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"PK\x03\x04 this is a zip file, not a model" * 10)
    with pytest.raises(pysig.ModelLoadError, match="not a TensorFlow Lite model"):
        pysig.Interpreter(path)
    with pytest.raises(pysig.ModelLoadError, match="is a directory"):
        pysig.Interpreter(tmp_path)


def test_model_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="exactly one"):
        pysig.Interpreter()
    with pytest.raises(TypeError, match="exactly one"):
        pysig.Interpreter(pysig.DEMO_MODEL_PATH, model_content=b"x")
    with pytest.raises(ValueError, match="op_resolver must be one of"):
        pysig.Interpreter(pysig.DEMO_MODEL_PATH, op_resolver="fast")
    with pytest.raises(ValueError, match="num_threads"):
        pysig.Interpreter(pysig.DEMO_MODEL_PATH, num_threads=0)


def test_unresolved_custom_op_is_named() -> None:
    with pytest.raises(pysig.UnsupportedOpError, match="PysigTestOp") as info:
        pysig.Interpreter(model_path("custom_op"))
    assert info.value.ops == ("PysigTestOp",)


def test_flex_model_says_it_needs_tensorflow_ops() -> None:
    with pytest.raises(
        pysig.FlexOpError, match=r"needs TensorFlow \(Select TF / Flex\) ops"
    ) as info:
        pysig.Interpreter(model_path("flex_encode_decode"))
    assert isinstance(info.value, pysig.UnsupportedOpError)
    assert info.value.ops == ("FlexAsString", "FlexStringToNumber")


def test_string_tensors_have_no_views(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    strings = open_model("types").get_signature_runner("strings")
    error, message = runtime_gap(runtime, "types", "strings") or (
        pysig.InputTypeError,
        "holds strings",
    )
    with pytest.raises(error, match=message):
        strings.inputs["s"]


def test_string_inputs_must_be_bytes_or_str(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    strings = open_model("types").get_signature_runner("strings")
    error, message = runtime_gap(runtime, "types", "strings") or (
        pysig.InputTypeError,
        "bytes or str",
    )
    with pytest.raises(error, match=message):
        strings(s=np.array([1, 2]), i=np.array([0], np.int32))
