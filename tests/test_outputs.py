"""pysig's outputs, bit for bit, against tflite_runtime's own API on every test model."""

from __future__ import annotations

import platform
from typing import Any, Callable

import numpy as np
import pytest
from _support import (
    INSTALLED_RUNTIMES,
    assert_bitwise_equal,
    model_path,
    random_value,
    reference_interpreter_class,
    reference_outputs,
    runtime_gap,
)

import pysig

RUNNABLE_MODELS = [
    "multi_signature",
    "zero_input",
    "counter",
    "dynamic",
    "quant_int8",
    "quant_uint8",
    "types",
    "keras_dense",
]
# Inputs whose values must mean something (gather indices must be in range).
FIXED_INPUTS: dict[tuple[str, str], dict[str, Any]] = {
    ("types", "strings"): {
        "s": np.array([b"zero", b"one", "two \u00e9".encode(), b""], dtype=object),
        "i": np.array([3, 0, 2, 2, 1], np.int32),
    },
}


def signature_cases() -> list[tuple[str, str]]:
    cases = [(pysig.DEMO_MODEL_PATH, key) for key in ("add", "scale", "argmax")]
    for name in RUNNABLE_MODELS:
        cases += [(name, key) for key in pysig.Interpreter(model_path(name)).get_signature_list()]
    return cases


def resolve(name: str) -> str:
    return name if name.endswith(".tflite") else model_path(name)


def inputs_for(name: str, key: str, rng: np.random.Generator, dim: int) -> dict[str, Any]:
    if (name, key) in FIXED_INPUTS:
        return FIXED_INPUTS[(name, key)]
    details = pysig.Interpreter(resolve(name)).get_signature_runner(key).get_input_details()
    return {input_name: random_value(detail, rng, dim) for input_name, detail in details.items()}


@pytest.mark.parametrize(("name", "key"), signature_cases())
def test_every_signature_matches_its_runtimes_own_api(
    name: str, key: str, rng: np.random.Generator, runtime: str
) -> None:
    path = resolve(name)
    runner = pysig.Interpreter(path).get_signature_runner(key)
    gap = runtime_gap(runtime, name, key)
    if gap is not None:
        error, message = gap
        with pytest.raises(error, match=message):
            runner(**inputs_for(name, key, rng, 3))
        return
    # One reference interpreter called in step, so stateful signatures agree too.
    tflite = reference_interpreter_class(runtime)(model_path=path)
    tflite.allocate_tensors()
    reference = tflite.get_signature_runner(key)
    for dim in (3, 1, 5, 3):  # dynamic dimensions change, then change back
        inputs = inputs_for(name, key, rng, dim)
        assert_bitwise_equal(runner(**inputs), reference(**inputs))


# Signatures whose graphs size tensors while they run (data-dependent shapes,
# strings, variables) refuse zero-copy views; the others must give call results.
VIEWLESS_MODELS = ("counter", "dynamic")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        (name, key)
        for name, key in signature_cases()
        if name not in VIEWLESS_MODELS and (name, key) != ("types", "strings")
    ],
)
def test_zero_copy_path_matches_the_dict_call(
    name: str, key: str, rng: np.random.Generator, runtime: str
) -> None:
    runner = pysig.Interpreter(resolve(name)).get_signature_runner(key)
    gap = runtime_gap(runtime, name, key)
    if gap is not None:
        with pytest.raises(gap[0], match=gap[1]):
            runner.outputs[runner.output_names[0]]
        return
    inputs = inputs_for(name, key, rng, 2)
    expected = runner(**inputs)
    for input_name, value in inputs.items():
        runner.inputs[input_name][...] = value
    runner.invoke()
    assert_bitwise_equal({k: np.array(v) for k, v in runner.outputs.items()}, expected)


@pytest.mark.parametrize(("name", "key"), [("counter", "increment"), ("types", "strings")])
def test_graphs_that_size_tensors_while_running_have_no_views(
    name: str, key: str, runtime: str
) -> None:
    runner = pysig.Interpreter(model_path(name)).get_signature_runner(key)
    numeric = [
        n for n, d in runner.get_input_details().items() if np.dtype(d["dtype"]).kind not in "SUO"
    ]
    gap = runtime_gap(runtime, name, key)
    error, message = gap or (pysig.BufferInUseError, "sizes tensors while it runs")
    with pytest.raises(error, match=message):
        runner.inputs[numeric[0]]


def test_signature_list_and_details_match_tflite_runtime(runtime: str) -> None:
    for name in [pysig.DEMO_MODEL_PATH, *RUNNABLE_MODELS]:
        path = resolve(name)
        # Both runtimes report what tflite_runtime reports (its API is ai_edge_litert's too).
        tflite = reference_interpreter_class(runtime)(model_path=path)
        interp = pysig.Interpreter(path)
        assert interp.get_signature_list() == tflite.get_signature_list()
        for key in tflite.get_signature_list():
            ours, theirs = interp.get_signature_runner(key), tflite.get_signature_runner(key)
            for mine, reference in (
                (ours.get_input_details(), theirs.get_input_details()),
                (ours.get_output_details(), theirs.get_output_details()),
            ):
                assert list(mine) == list(reference)
                for tensor, detail in reference.items():
                    assert mine[tensor]["index"] == detail["index"]
                    assert mine[tensor]["dtype"] == detail["dtype"]
                    np.testing.assert_array_equal(
                        mine[tensor]["shape_signature"], detail["shape_signature"]
                    )
                    assert mine[tensor]["quantization"] == detail["quantization"]


def test_zero_input_signature(open_model: Callable[..., pysig.Interpreter], runtime: str) -> None:
    constant = open_model("zero_input").get_signature_runner("constant")
    assert constant.input_names == ()
    gap = runtime_gap(runtime, "zero_input", "constant")
    if gap is not None:  # `constant` returns a variable it has just assigned
        for call in (constant, lambda: constant.run({}), constant.invoke):
            with pytest.raises(gap[0], match=gap[1]):
                call()
        return
    np.testing.assert_array_equal(constant()["value"], np.array([1, 2, 3], np.float32))
    np.testing.assert_array_equal(constant.run({})["value"], [1, 2, 3])
    constant.invoke()
    np.testing.assert_array_equal(constant.outputs["value"], [1, 2, 3])


def test_resource_variables_are_shared_between_signatures(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    interp = open_model("counter")
    gap = runtime_gap(runtime, "counter", "read")
    if gap is not None:  # every signature of counter returns the variable it reads
        for key in ("increment", "read", "reset"):
            runner = interp.get_signature_runner(key)
            with pytest.raises(gap[0], match=gap[1]):
                runner(**({"delta": np.int64(1)} if key == "increment" else {}))
        return
    increment = interp.get_signature_runner("increment")
    read = interp.get_signature_runner("read")
    assert int(read()["count"]) == 0
    assert int(increment(delta=np.int64(5))["count"]) == 5
    assert int(increment(delta=np.int64(-2))["count"]) == 3
    assert int(read()["count"]) == 3
    assert int(interp.get_signature_runner("reset")()["count"]) == 0
    # Another interpreter of the same model has its own variables.
    assert int(open_model("counter").get_signature_runner("read")()["count"]) == 0


def test_dynamic_shapes_resize_only_when_shapes_change(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    reduce = open_model("dynamic").get_signature_runner("reduce")
    shapes = [(2, 3), (2, 3), (7, 1), (1, 9), (0, 4), (2, 3)]
    if runtime == "litert":
        with pytest.raises(pysig.InputShapeError, match="refuses dimensions of 0"):
            reduce(x=np.zeros((0, 4), np.float32))
        shapes.remove((0, 4))
    for shape in shapes:
        x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        outputs = reduce(x=x)
        assert outputs["row_sums"].shape == (shape[0],)
        np.testing.assert_allclose(outputs["row_sums"], x.sum(axis=1))
        np.testing.assert_allclose(outputs["total"], x.sum())


def test_data_dependent_output_sizes(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    interp = open_model("dynamic")
    positives = interp.get_signature_runner("positives")
    path = model_path("dynamic")
    gap = runtime_gap(runtime, "dynamic", "positives")
    if gap is not None:
        # Every call, whatever the values and whatever ran before: a buffer sized before
        # the run fits one positive (the file's shape), but the runtime cannot know that.
        for x in ([1.0], [1.0, -1.0, 2.0], [5.0, -2.0, -3.0], [-1.0]):
            with pytest.raises(gap[0], match=gap[1]):
                positives(x=np.array(x, np.float32))
        # The refused run leaves the interpreter as usable as before.
        total = interp.get_signature_runner("reduce")(x=np.ones((2, 2), np.float32))
        assert float(total["total"]) == 4.0
        return
    for x in ([1.0, -1.0, 2.0], [-1.0, -2.0], [3.0, 4.0, 5.0, 6.0, -7.0]):
        value = np.array(x, np.float32)
        result = positives(x=value)
        assert_bitwise_equal(result, reference_outputs(path, "positives", {"x": value}))
    for views in (positives.outputs, positives.inputs):
        # The whole graph's memory may move while it runs, not only the output's.
        with pytest.raises(pysig.BufferInUseError, match="sizes tensors while it runs"):
            views[next(iter(views))]


def test_quantized_models_keep_their_integer_dtypes(
    open_model: Callable[..., pysig.Interpreter],
) -> None:
    for name, dtype in (("quant_int8", np.int8), ("quant_uint8", np.uint8)):
        runner = open_model(name).get_signature_runner()
        details = runner.get_input_details()["x"]
        assert details["dtype"] == dtype
        scale, zero_point = details["quantization"]
        assert scale > 0
        x = np.full(details["shape"], zero_point, dtype)
        assert runner(x=x)["y"].dtype == dtype
        with pytest.raises(pysig.InputTypeError, match="float32 cannot be cast"):
            runner(x=x.astype(np.float32))


def test_strings_are_bytes_in_and_bytes_out(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    strings = open_model("types").get_signature_runner("strings")
    gap = runtime_gap(runtime, "types", "strings")
    if gap is not None:
        with pytest.raises(gap[0], match=gap[1]):
            strings(s=["zero"], i=np.array([0], np.int32))
        return
    picked = strings(s=["zero", b"one", "two"], i=np.array([2, 0], np.int32))["picked"]
    assert picked.dtype == object
    assert picked.tolist() == [b"two", b"zero"]


def test_model_without_signatures_gets_a_synthesized_one(
    rng: np.random.Generator, runtime: str
) -> None:
    path = model_path("no_signature")
    tflite = reference_interpreter_class(runtime)(model_path=path)
    tflite.allocate_tensors()
    assert tflite.get_signature_list() == {}
    interp = pysig.Interpreter(path)
    expected_inputs = [d["name"] for d in tflite.get_input_details()]
    expected_outputs = [d["name"] for d in tflite.get_output_details()]
    assert interp.get_signature_list() == {
        "serving_default": {"inputs": expected_inputs, "outputs": expected_outputs}
    }
    runner = interp.get_signature_runner()
    assert runner.signature_key == "serving_default"
    inputs = {d["name"]: random_value(d, rng) for d in tflite.get_input_details()}
    for detail in tflite.get_input_details():
        tflite.set_tensor(detail["index"], inputs[detail["name"]])
    tflite.invoke()
    expected = {d["name"]: tflite.get_tensor(d["index"]) for d in tflite.get_output_details()}
    assert_bitwise_equal(runner(**inputs), expected)


def test_keras_example_from_the_signatures_guide(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    interp = open_model("keras_dense")
    assert interp.get_signature_list() == {
        "serving_default": {"inputs": ["x_input"], "outputs": ["output"]}
    }
    runner = interp.get_signature_runner()
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    assert_bitwise_equal(
        runner(x_input=x),
        reference_outputs(model_path("keras_dense"), "serving_default", {"x_input": x}, runtime),
    )


def test_from_tflite_wraps_an_existing_interpreter() -> None:
    if "tflite" not in INSTALLED_RUNTIMES:
        with pytest.raises(pysig.PysigError, match="from_tflite needs tflite-runtime"):
            pysig.Interpreter.from_tflite(object())  # type: ignore[arg-type]
        return
    from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

    tflite = TfliteInterpreter(model_path=pysig.DEMO_MODEL_PATH, num_threads=1)
    interp = pysig.Interpreter.from_tflite(tflite)
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(interp.get_signature_runner("add")(x=x, y=x)["sum"], 2 * x)
    with pytest.raises(TypeError, match="tflite_runtime Interpreter"):
        pysig.Interpreter.from_tflite(object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "op_resolver", ["auto", "builtin", "builtin_ref", "builtin_without_default_delegates"]
)
def test_op_resolvers_and_threads(op_resolver: str) -> None:
    with open(pysig.DEMO_MODEL_PATH, "rb") as file:
        content = file.read()
    interp = pysig.Interpreter(model_content=content, num_threads=2, op_resolver=op_resolver)
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    np.testing.assert_array_equal(interp.get_signature_runner("add")(x=x, y=x)["sum"], 2 * x)


@pytest.mark.skipif(
    platform.machine() == "aarch64",
    reason="ai_edge_litert's SignatureRunner, which this compares with, dies there",
)
def test_the_reference_for_0_d_inputs_on_aarch64_is_the_signature_runners_result() -> None:
    # reference_outputs() takes this path on aarch64, where ai_edge_litert's SignatureRunner
    # dies resizing a 0-d input; elsewhere both run, and must agree.
    pytest.importorskip("ai_edge_litert")
    from _support import _without_resizing_scalars

    def fresh(key: str) -> tuple[Any, Any]:
        interpreter = reference_interpreter_class("litert")(model_path=model_path("accumulator"))
        interpreter.allocate_tensors()
        # The variable starts at zero: add to it first, so that scaled reads something.
        interpreter.get_signature_runner("add")(x=np.array([1.0, 2.0, 3.0, 4.0], np.float32))
        return interpreter, interpreter.get_signature_runner(key)

    for key, inputs in (
        ("add", {"x": np.array([1.5, -2.0, 3.0, 0.25], np.float32)}),
        ("scaled", {"factor": np.float32(-2.5)}),
    ):
        expected = dict(fresh(key)[1](**inputs))
        interpreter, runner = fresh(key)
        assert_bitwise_equal(_without_resizing_scalars(interpreter, runner, key, inputs), expected)
