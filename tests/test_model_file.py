"""The model file API: what pysig reads from a .tflite equals what tflite_runtime reports
(or ai_edge_litert's Interpreter, where tflite_runtime is not installed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _support import (
    INSTALLED_RUNTIMES,
    MODELS,
    REFERENCE_RUNTIME,
    model_path,
    reference_interpreter_class,
    runtime_gap,
)

import pysig
from pysig.model import OperatorUse, inspect_model

ALL_MODELS = sorted(p.stem for p in MODELS.glob("*.tflite"))
# tflite_runtime's Interpreter, or ai_edge_litert's (the same API) where it is not installed.
TfliteInterpreter = reference_interpreter_class(REFERENCE_RUNTIME)
# Models that load in tflite_runtime but cannot run: their ops are missing.
CANNOT_RUN = {"custom_op", "flex_encode_decode"}


def assert_same_details(mine: Any, theirs: Any, where: str = "") -> None:
    """Equal values of equal types, arrays of equal dtype: tf.lite's details exactly."""
    assert type(mine) is type(theirs), (where, mine, theirs)
    if isinstance(theirs, dict):
        assert list(mine) == list(theirs), where
        for key in theirs:
            assert_same_details(mine[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, (list, tuple)):
        assert len(mine) == len(theirs), where
        for i, (a, b) in enumerate(zip(mine, theirs)):
            assert_same_details(a, b, f"{where}[{i}]")
    elif isinstance(theirs, np.ndarray):
        assert mine.dtype == theirs.dtype, where
        assert np.array_equal(mine, theirs), where
    else:
        assert mine == theirs, (where, mine, theirs)


def as_tflite_runtime_reports(details: Any) -> Any:
    """Details in tflite-runtime 2.14's format, which pysig reports: ai_edge_litert's newer
    tf.lite API adds a ``block_size`` key to every ``quantization_parameters``."""
    if isinstance(details, dict):
        return {
            key: as_tflite_runtime_reports(value)
            for key, value in details.items()
            if key != "block_size" or "scales" not in details
        }
    if isinstance(details, list):
        return [as_tflite_runtime_reports(item) for item in details]
    return details


def listed(file: pysig.model.ModelFile) -> dict[str, dict[str, list[str]]]:
    return {
        key: {"inputs": list(s.inputs), "outputs": list(s.outputs)}
        for key, s in file.signatures.items()
    }


@pytest.mark.parametrize("name", ALL_MODELS)
def test_file_facts_equal_tflite_runtime(name: str) -> None:
    path = model_path(name)
    file = inspect_model(path)
    tflite = TfliteInterpreter(model_path=path)
    reported = tflite.get_signature_list()
    if reported:
        assert listed(file) == reported
    else:
        assert list(file.signatures) == ["serving_default"]
        assert file.signatures["serving_default"].synthesized
    # Before allocation the runtime's tensors are the file's, one for one.
    assert_same_details(
        [t.details() for t in file.tensors(0)],
        as_tflite_runtime_reports(tflite.get_tensor_details()),
    )
    for key, signature in file.signatures.items():
        if signature.synthesized:
            continue
        runner = tflite.get_signature_runner(key)
        assert signature.subgraph_index == tflite._interpreter.GetSubgraphIndexFromSignature(key)
        for mine, theirs in (
            (signature.inputs, runner.get_input_details()),
            (signature.outputs, runner.get_output_details()),
        ):
            assert_same_details(
                {n: t.details() for n, t in mine.items()}, as_tflite_runtime_reports(theirs)
            )


@pytest.mark.parametrize("name", sorted(set(ALL_MODELS) - CANNOT_RUN))
def test_interpreter_details_equal_tflite_runtime(name: str) -> None:
    path = model_path(name)
    tflite = TfliteInterpreter(model_path=path)
    # ai_edge_litert's kernels rewrite some per-tensor scales as per-channel ones while
    # allocating, so where it is the reference the tensors are compared before that.
    tensors = tflite.get_tensor_details()
    tflite.allocate_tensors()
    if REFERENCE_RUNTIME == "tflite":
        tensors = tflite.get_tensor_details()
    interpreter = pysig.Interpreter(path)
    assert interpreter.get_signature_list() == listed(inspect_model(path))
    for mine, theirs in (
        (interpreter.get_input_details(), tflite.get_input_details()),
        (interpreter.get_output_details(), tflite.get_output_details()),
        # The runtime appends its own temporaries after the file's tensors.
        (interpreter.get_tensor_details(), tensors[: len(inspect_model(path).tensors(0))]),
    ):
        assert_same_details(mine, as_tflite_runtime_reports(theirs))
    for key in tflite.get_signature_list():
        runner, reference = interpreter.get_signature_runner(key), tflite.get_signature_runner(key)
        for mine, theirs in (
            (runner.get_input_details(), reference.get_input_details()),
            (runner.get_output_details(), reference.get_output_details()),
        ):
            assert_same_details(mine, as_tflite_runtime_reports(theirs))


def test_details_show_the_current_shape_after_a_resize() -> None:
    interpreter = pysig.Interpreter(model_path("keras_dense"))
    runner = interpreter.get_signature_runner()
    name = runner.input_names[0]
    detail = runner.get_input_details()[name]
    shape = [2, *detail["shape"][1:]]
    runner.resize_input(name, shape)
    runner.allocate()
    assert runner.get_input_details()[name]["shape"].tolist() == shape
    assert interpreter.get_input_details()[0]["shape"].tolist() == shape
    assert runner.get_input_details()[name]["shape_signature"].tolist() == (
        detail["shape_signature"].tolist()
    )


def test_from_tflite_reads_the_same_signatures_either_way() -> None:
    pytest.importorskip("tflite_runtime", reason="from_tflite wraps tflite_runtime interpreters")
    path = model_path("types")
    with open(path, "rb") as file:
        content = file.read()
    from_bytes = pysig.Interpreter.from_tflite(TfliteInterpreter(model_content=content))
    from_path = pysig.Interpreter.from_tflite(TfliteInterpreter(model_path=path))
    expected = pysig.Interpreter(path)
    assert from_bytes.get_signature_list() == expected.get_signature_list()
    assert from_path.get_signature_list() == expected.get_signature_list()
    for key in expected.get_signature_list():
        assert_same_details(
            from_path.get_signature_runner(key).get_input_details(),
            expected.get_signature_runner(key).get_input_details(),
        )
    for interpreter in (from_bytes, from_path):
        assert_same_details(interpreter.get_input_details(), expected.get_input_details())
        assert_same_details(interpreter.get_output_details(), expected.get_output_details())
        count = len(expected.get_tensor_details())
        assert_same_details(interpreter.get_tensor_details()[:count], expected.get_tensor_details())


@pytest.mark.parametrize(
    ("method", "hint"),
    [
        ("set_tensor", "runner(name=value)"),
        ("get_tensor", "runner.outputs[name]"),
        ("invoke", "get_signature_runner(key)(**inputs)"),
        ("allocate_tensors", "runner.allocate()"),
        ("resize_tensor_input", "runner.resize_input(name, shape)"),
        ("tensor", "zero-copy"),
        ("reset_all_variables", "new pysig.Interpreter"),
    ],
)
def test_tflite_methods_pysig_does_not_offer_say_what_to_use(method: str, hint: str) -> None:
    interpreter = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    with pytest.raises(pysig.UnsupportedMethodError, match=f"{method}\\(\\)") as error:
        getattr(interpreter, method)
    assert hint in str(error.value)
    assert isinstance(error.value, AttributeError)
    assert not hasattr(interpreter, method)
    with pytest.raises(AttributeError, match="no attribute 'not_a_method'"):
        interpreter.not_a_method  # noqa: B018


def test_operators_metadata_and_what_each_runtime_misses() -> None:
    flex = inspect_model(model_path("flex_encode_decode"))
    assert {op for op in flex.operators if op.custom} == {
        OperatorUse("FlexStringToNumber", True, 1),
        OperatorUse("FlexAsString", True, 1),
    }
    assert all(op.flex for op in flex.missing_ops("tflite"))
    custom = inspect_model(model_path("custom_op"))
    assert [op.name for op in custom.missing_ops("tflite")] == ["PysigTestOp"]
    assert not custom.missing_ops("tflite")[0].flex
    assert set(custom.missing_ops_by_runtime()) == set(INSTALLED_RUNTIMES)
    demo = inspect_model(pysig.DEMO_MODEL_PATH)
    assert demo.missing_ops("tflite") == demo.missing_ops("litert") == ()
    assert all(not op.custom for op in demo.operators)
    assert sum(op.count for op in demo.operators) == sum(s.operator_count for s in demo.subgraphs)
    version = demo.metadata_value("min_runtime_version")
    assert version.rstrip(b"\0")[:1].isdigit()
    assert {m.name for m in demo.metadata} >= {"min_runtime_version"}
    with pytest.raises(KeyError):
        demo.metadata_value("no such entry")


@pytest.mark.parametrize("name", sorted(CANNOT_RUN))
def test_what_the_file_says_is_missing_is_what_the_runtime_refuses(name: str) -> None:
    missing = inspect_model(model_path(name)).missing_ops("tflite")
    with pytest.raises(pysig.UnsupportedOpError) as error:
        pysig.Interpreter(model_path(name))
    if all(op.flex for op in missing):
        assert isinstance(error.value, pysig.FlexOpError)
    else:
        assert [op.name for op in missing] == list(error.value.ops)


def test_inspect_model_takes_bytes_and_refuses_damaged_ones() -> None:
    with open(pysig.DEMO_MODEL_PATH, "rb") as file:
        content = file.read()
    assert listed(inspect_model(content)) == listed(inspect_model(pysig.DEMO_MODEL_PATH))
    with pytest.raises(pysig.ModelLoadError, match="not a valid TensorFlow Lite model"):
        inspect_model(content[: len(content) // 2])


def test_empty_string_batch_after_a_string_call(runtime: str) -> None:
    # The runtime drops a string tensor's shape signature once a string is written;
    # the runner checks empty dimensions against the file's, which stays.
    runner = pysig.Interpreter(model_path("types")).get_signature_runner("strings")
    gap = runtime_gap(runtime, "types", "strings")
    if gap is not None:
        with pytest.raises(gap[0], match=gap[1]):
            runner(s=[b"a", b"b"], i=[1, 0])
        assert runner.get_input_details()["s"]["shape_signature"].tolist() == [-1]
        return
    assert runner(s=[b"a", b"b"], i=[1, 0])["picked"].tolist() == [b"b", b"a"]
    empty = runner(s=np.array([], dtype=object), i=np.array([], dtype=np.int32))
    assert empty["picked"].shape == (0,)
    assert runner.get_input_details()["s"]["shape_signature"].tolist() == [-1]
    assert runner(s=[b"c"], i=[0])["picked"].tolist() == [b"c"]
