"""Hostile models, zero-copy views under stress, cancellation and timeouts."""

from __future__ import annotations

import gc
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from _support import assert_bitwise_equal, model_path, reference_interpreter_class

import pysig
from pysig._timeout import call_with_timeout
from pysig.model.flatbuffer import Buffer, Table
from pysig.model.verify import verify_model

MODELS = sorted(Path(model_path("counter")).parent.glob("*.tflite"))
DEMO = Path(pysig.DEMO_MODEL_PATH).read_bytes()
REFERENCE_KERNELS = "builtin_without_default_delegates"

# ---------------------------------------------------------------- model verification


def _subgraph(content: bytes, index: int) -> Table:
    return Buffer(content).root("model").vector(2, 4, "subgraphs").table(index)  # type: ignore[union-attr]


def _tensor(content: bytes, subgraph: int, index: int) -> Table:
    return _subgraph(content, subgraph).vector(0, 4, "tensors").table(index)  # type: ignore[union-attr]


def _operator(content: bytes, subgraph: int, index: int) -> Table:
    return _subgraph(content, subgraph).vector(3, 4, "operators").table(index)  # type: ignore[union-attr]


def _signature(content: bytes, index: int) -> Table:
    return Buffer(content).root("model").vector(7, 4, "signatures").table(index)  # type: ignore[union-attr]


def _signature_input(index: int) -> Table:
    """Input `index` of the demo's first signature (`add`: x and y, both one letter)."""
    return _signature(DEMO, 0).vector(0, 4, "inputs").table(index)  # type: ignore[union-attr]


def _field(table: Table, slot: int, size: int = 4) -> int:
    position = table.field_position(slot, size)
    assert position, f"the model does not store field {slot} of {table.what}"
    return position


def _element(table: Table, slot: int, index: int) -> int:
    vector = table.vector(slot, 4, "vector")
    assert vector is not None
    assert index < len(vector)
    return vector.start + 4 * index


def _patch(content: bytes, position: int, value: int, layout: str = "<i") -> bytes:
    data = bytearray(content)
    struct.pack_into(layout, data, position, value)
    return bytes(data)


def _zero_input() -> bytes:
    return Path(model_path("zero_input")).read_bytes()


def _image() -> bytes:
    return Path(model_path("image_classifier")).read_bytes()


def _conv_options(content: bytes, subgraph: int, index: int) -> Table:
    options = _operator(content, subgraph, index).table(4, "options")
    assert options is not None
    return options


# Each: a damaged demo (or zero_input) model and what the refusal must say.
# Demo subgraphs: 0 add (ADD), 1 argmax (ARG_MAX, REDUCE_MAX), 2 scale (MUL, ADD).
DAMAGE: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated": (lambda: DEMO[: len(DEMO) // 2], "points past the buffer"),
    "schema version": (
        lambda: _patch(DEMO, _field(Buffer(DEMO).root("model"), 0), 2, "<I"),
        "schema version 2",
    ),
    "operator code index": (
        lambda: _patch(DEMO, _field(_operator(DEMO, 2, 0), 0), 99),
        "operator code: index 99",
    ),
    "operator input index": (
        lambda: _patch(DEMO, _element(_operator(DEMO, 0, 0), 1, 1), 1000),
        "index 1000 is out of",
    ),
    "omitted input of ADD": (
        lambda: _patch(DEMO, _element(_operator(DEMO, 0, 0), 1, 0), -1),
        "omitted (-1) input",
    ),
    "input read before it is written": (
        lambda: _patch(DEMO, _element(_operator(DEMO, 2, 0), 1, 0), 4),
        "reads tensor 4",
    ),
    "tensor written twice": (
        lambda: _patch(DEMO, _element(_operator(DEMO, 1, 1), 2, 0), 2),
        "writes tensor 2",
    ),
    "buffer index": (
        lambda: _patch(DEMO, _field(_tensor(DEMO, 0, 0), 2), 10**6),
        "buffer: index 1000000",
    ),
    "constant data size": (
        lambda: _patch(DEMO, _field(_tensor(DEMO, 1, 1), 1, 1), 4, "<b"),
        "needs 8",
    ),
    "negative dimension": (
        lambda: _patch(DEMO, _element(_tensor(DEMO, 0, 0), 0, 1), -4),
        "negative dimension",
    ),
    "absurd shape": (
        lambda: _patch(DEMO, _element(_tensor(DEMO, 0, 0), 0, 1), 1 << 30),
        "larger than 2 GiB",
    ),
    "unknown tensor type": (
        lambda: _patch(DEMO, _field(_tensor(DEMO, 1, 1), 1, 1), 42, "<b"),
        "unknown tensor type",
    ),
    "shape signature": (
        lambda: _patch(DEMO, _element(_tensor(DEMO, 2, 0), 7, 1), 5),
        "does not fit shape",
    ),
    "constant subgraph input": (
        lambda: _patch(DEMO, _element(_subgraph(DEMO, 2), 1, 0), 1),
        "holds constant data",
    ),
    "non-UTF-8 name": (
        lambda: _patch(DEMO, _tensor(DEMO, 0, 0).vector(3, 1, "name").start, 0xFF, "<B"),  # type: ignore[union-attr]
        "not valid UTF-8",
    ),
    "signature subgraph index": (
        lambda: _patch(DEMO, _field(_signature(DEMO, 1), 4), 50, "<I"),
        "subgraph: index 50",
    ),
    "signature tensor index": (
        lambda: _patch(
            DEMO,
            _field(_signature(DEMO, 0).vector(0, 4, "inputs").table(0), 1),
            77,
            "<I",  # type: ignore[union-attr]
        ),
        "index 77 is out of range",
    ),
    "signature inputs sharing a tensor": (
        lambda: _patch(
            DEMO, _field(_signature_input(0), 1), _signature_input(1).scalar(1, "I"), "<I"
        ),
        "two inputs are the same tensor",
    ),
    "signature input that is not a subgraph input": (
        lambda: _patch(DEMO, _field(_signature_input(0), 1), 2, "<I"),
        "which is not an input of subgraph 0",
    ),
    "signature names used twice": (
        lambda: _patch(
            DEMO,
            _signature_input(1).vector(0, 1, "name").start,  # type: ignore[union-attr]
            DEMO[_signature_input(0).vector(0, 1, "name").start],  # type: ignore[union-attr]
            "<B",
        ),
        "two inputs are named",
    ),
    "control flow without options": (
        lambda: _patch(
            DEMO,
            _field(Buffer(DEMO).root("model").vector(1, 4, "codes").table(3), 3),  # type: ignore[union-attr]
            119,
        ),
        "WHILE without its options",
    ),
    "control flow running itself": (
        lambda: _patch(
            _zero_input(),
            _field(_operator(_zero_input(), 0, 0).table(4, "options"), 0),
            0,  # type: ignore[union-attr]
        ),
        "runs itself",
    ),
    "control flow subgraph index": (
        lambda: _patch(
            _zero_input(),
            _field(_operator(_zero_input(), 0, 0).table(4, "options"), 0),
            9,  # type: ignore[union-attr]
        ),
        "subgraph: index 9",
    ),
    # Operator 0 of image_classifier is its first CONV_2D, operator 1 a DEPTHWISE_CONV_2D,
    # operator 2 a CONV_2D whose padding (VALID) the file stores.
    "zero stride": (
        lambda: _patch(_image(), _field(_conv_options(_image(), 0, 0), 2), 0),
        "Conv2DOptions.stride_h is 0; it must be from 1 to 4096",
    ),
    # A bit flip the fuzz campaign found: tflite's kernels wrote past the output.
    "unknown padding": (
        lambda: _patch(_image(), _field(_conv_options(_image(), 0, 2), 0, 1), 2, "<b"),
        "Conv2DOptions.padding is 2; it must be SAME (0) or VALID (1)",
    ),
    "convolution without options": (
        lambda: _patch(_image(), _field(_operator(_image(), 0, 0), 3, 1), 0, "<B"),
        "needs its Conv2DOptions",
    ),
    "resource variable read larger than assigned": (
        lambda: _patch(_zero_input(), _element(_tensor(_zero_input(), 0, 2), 0, 0), 4),
        "resource variable used with shape [4]",
    ),
}


@pytest.mark.parametrize("path", [*MODELS, Path(pysig.DEMO_MODEL_PATH)], ids=lambda p: p.name)
def test_every_committed_model_verifies(path: Path) -> None:
    verify_model(path.read_bytes(), repr(str(path)))


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_model_bytes_are_refused_with_the_reason(damage: str) -> None:
    make, reason = DAMAGE[damage]
    content = make()
    with pytest.raises(pysig.ModelLoadError) as error:
        pysig.Interpreter(model_content=content)
    message = str(error.value)
    assert message.startswith("model_content is not a valid TensorFlow Lite model: "), message
    assert reason in message, message


@pytest.mark.parametrize("damage", ["truncated", "operator input index", "tensor written twice"])
def test_damaged_model_files_are_refused_naming_the_file(damage: str, tmp_path: Path) -> None:
    path = tmp_path / "damaged.tflite"
    path.write_bytes(DAMAGE[damage][0]())
    with pytest.raises(pysig.ModelLoadError, match=DAMAGE[damage][1]) as error:
        pysig.Interpreter(str(path))
    assert str(error.value).startswith(f"{str(path)!r} is not a valid TensorFlow Lite model")


_LOAD_IN_CHILD = """
import sys
from tflite_runtime.interpreter import Interpreter
interpreter = Interpreter(model_content=open(sys.argv[1], "rb").read())
interpreter.allocate_tensors()
for key in interpreter.get_signature_list():
    interpreter.get_signature_runner(key)()
"""


def test_a_model_that_crashes_tflite_runtime_is_refused(tmp_path: Path, runtime: str) -> None:
    # A READ_VARIABLE declared far larger than the value assigned: the runtime
    # copies the declared size out of the variable and reads far past it.
    content = _patch(_zero_input(), _element(_tensor(_zero_input(), 0, 2), 0, 0), 1 << 28)
    path = tmp_path / "read_past.tflite"
    path.write_bytes(content)
    # pysig refuses it before any runtime sees it, on every runtime.
    with pytest.raises(pysig.ModelLoadError, match="resource variable"):
        pysig.Interpreter(str(path))
    if runtime == "tflite":
        child = subprocess.run(
            [sys.executable, "-c", _LOAD_IN_CHILD, str(path)], capture_output=True, check=False
        )
        assert child.returncode < 0, "tflite_runtime was expected to die on this model"


# ---------------------------------------------------------------- zero-copy views


def test_views_survive_resize_attempts_and_see_the_same_memory() -> None:
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    scale = interp.get_signature_runner("scale")
    x = scale.inputs["x"]
    y = scale.outputs["y"]
    row = x[0]  # derived arrays hold the view, and so the tensor memory, too
    del x
    for shape in ([3, 4], [1, 4, 1]):
        with pytest.raises(pysig.BufferInUseError):
            scale.resize_input("x", shape)
        with pytest.raises(pysig.BufferInUseError):
            scale(x=np.ones(shape, np.float32))
    row[...] = [1, 2, 3, 4]
    scale.invoke()
    np.testing.assert_array_equal(y, [[3.5, 6.0, 8.5, 11.0]])
    del row, y
    gc.collect()
    np.testing.assert_array_equal(scale(x=np.ones((3, 4), np.float32))["y"], np.full((3, 4), 3.5))


def test_close_is_refused_while_views_live_and_allowed_after() -> None:
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    add = interp.get_signature_runner("add")
    scale = interp.get_signature_runner("scale")
    views = [add.inputs["x"], scale.outputs["y"]]
    with pytest.raises(pysig.BufferInUseError, match="2 zero-copy view"):
        interp.close()
    assert not interp.closed
    views[0][...] = 1  # still valid memory
    views.pop()
    with pytest.raises(pysig.BufferInUseError, match="1 zero-copy view"):
        interp.close()
    views.clear()
    interp.close()
    assert interp.closed
    with pytest.raises(pysig.ClosedError):
        add(x=np.ones((1, 4), np.float32), y=np.ones((1, 4), np.float32))
    with pytest.raises(pysig.ClosedError):
        add.inputs["x"]
    interp.close()  # closing twice is harmless


def test_views_outlive_the_interpreter_and_its_runners(rng: np.random.Generator) -> None:
    def make_views() -> tuple[list[np.ndarray[Any, Any]], Callable[[], None]]:
        interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
        add = interp.get_signature_runner("add")
        return [add.inputs["x"], add.inputs["y"], add.outputs["sum"]], add.invoke

    (x, y, total), invoke = make_views()
    gc.collect()
    # Churn the allocator: memory of a freed interpreter would be reused by now.
    garbage = [pysig.Interpreter(pysig.DEMO_MODEL_PATH) for _ in range(5)]
    del garbage
    gc.collect()
    a, b = rng.standard_normal((2, 1, 4)).astype(np.float32)
    x[...] = a
    y[...] = b
    invoke()
    np.testing.assert_array_equal(total, a + b)


# ---------------------------------------------------------------- cancellation


@pytest.fixture(scope="module")
def slow_input() -> np.ndarray[Any, Any]:
    return np.random.default_rng(7).standard_normal((256, 256)).astype(np.float32)


def _reference(x: np.ndarray[Any, Any], runtime: str) -> dict[str, Any]:
    """The slow model's output from the runtime's own API, without XNNPACK."""
    interpreter_class = reference_interpreter_class(runtime)
    resolver = sys.modules[interpreter_class.__module__].OpResolverType
    tflite = interpreter_class(
        model_path=model_path("slow"),
        experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    tflite.allocate_tensors()
    return dict(tflite.get_signature_runner()(x=x))


def _cancel_until_done(
    runner: pysig.SignatureRunner, x: np.ndarray[Any, Any]
) -> BaseException | None:
    """Call the runner in a thread and cancel it, again and again, until it returns."""
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            runner(x=x)
            outcome.append(None)
        except pysig.PysigError as error:
            outcome.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    while worker.is_alive():
        runner.cancel()
        worker.join(0.001)
    return outcome[0]


def test_cancel_from_another_thread_stops_between_nodes(
    slow_input: np.ndarray[Any, Any], runtime: str
) -> None:
    interp = pysig.Interpreter(model_path("slow"), op_resolver=REFERENCE_KERNELS)
    runner = interp.get_signature_runner()
    error = _cancel_until_done(runner, slow_input)
    assert isinstance(error, pysig.InvokeCancelledError), error
    assert "cancelled" in str(error)
    # Still usable, and exactly right.
    expected = _reference(slow_input, runtime)
    assert_bitwise_equal(runner(x=slow_input), expected)
    assert_bitwise_equal(runner.run({"x": slow_input}, timeout=600), expected)


def test_cancel_with_xnnpack_taking_the_whole_graph(
    slow_input: np.ndarray[Any, Any], runtime: str
) -> None:
    # XNNPACK runs this graph as one delegate node: a cancel landing while it
    # runs is only seen before the next node, and there is none. The call then
    # completes normally; either way the interpreter stays right. (LiteRT polls
    # its cancellation function before the node too.)
    interp = pysig.Interpreter(model_path("slow"))
    runner = interp.get_signature_runner()
    error = _cancel_until_done(runner, slow_input)
    assert error is None or isinstance(error, pysig.InvokeCancelledError), error
    reference = reference_interpreter_class(runtime)(model_path=model_path("slow"))
    reference.allocate_tensors()
    expected = dict(reference.get_signature_runner()(x=slow_input))
    assert_bitwise_equal(runner(x=slow_input), expected)
    assert_bitwise_equal(runner.run({"x": slow_input}, timeout=600), expected)


def test_a_cancel_with_nothing_running_does_not_cancel_the_next_call() -> None:
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH, op_resolver=REFERENCE_KERNELS)
    add = interp.get_signature_runner("add")
    scale = interp.get_signature_runner("scale")
    ones = np.ones((1, 4), np.float32)
    for _ in range(3):
        add.cancel()
        scale.cancel()
    # The runtime resets the flag when an invocation starts: SignatureRunner::Invoke
    # for signatures, Interpreter::Invoke for a model without any.
    np.testing.assert_array_equal(add(x=ones, y=ones)["sum"], 2 * ones)
    np.testing.assert_array_equal(scale.run({"x": ones})["y"], 3.5 * ones)
    plain = pysig.Interpreter(model_path("no_signature")).get_signature_runner()
    plain.cancel()
    row = np.ones((1, 3), np.float32)
    np.testing.assert_array_equal(plain(a=row, b=row)["sum"], 2 * row)


def test_timeout_cancels_a_long_call(slow_input: np.ndarray[Any, Any], runtime: str) -> None:
    interp = pysig.Interpreter(model_path("slow"), op_resolver=REFERENCE_KERNELS)
    runner = interp.get_signature_runner()
    with pytest.raises(pysig.InvokeCancelledError, match=r"cancelled after its 0\.001 s timeout"):
        runner.run({"x": slow_input}, timeout=0.001)
    expected = _reference(slow_input, runtime)
    assert_bitwise_equal(runner(x=slow_input), expected)


def test_short_timers_never_cancel_the_calls_that_follow() -> None:
    interp = pysig.Interpreter(pysig.DEMO_MODEL_PATH, op_resolver=REFERENCE_KERNELS)
    add = interp.get_signature_runner("add")
    ones = np.ones((1, 4), np.float32)
    # Timers this short often expire just as their call returns (on a slow or
    # emulated machine, before): whichever way a timed call ends, its timer
    # must not cancel the untimed call that follows.
    for _ in range(300):
        try:
            timed = add.run({"x": ones, "y": ones}, timeout=1e-4)
        except pysig.InvokeCancelledError:
            pass
        else:
            np.testing.assert_array_equal(timed["sum"], 2 * ones)
        np.testing.assert_array_equal(add(x=ones, y=ones)["sum"], 2 * ones)


def test_a_timer_never_fires_after_its_call_returned() -> None:
    cancels: list[int] = []
    fired = threading.Event()
    assert call_with_timeout(lambda: 42, lambda: cancels.append(1), 0.01, "test") == 42
    fired.wait(0.05)
    assert cancels == []


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_invalid_timeouts_are_refused(timeout: float) -> None:
    add = pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_runner("add")
    ones = np.ones((1, 4), np.float32)
    with pytest.raises(ValueError, match="timeout must be a positive, finite number"):
        add.run({"x": ones, "y": ones}, timeout=timeout)
    with pytest.raises(TypeError, match="timeout must be a number"):
        add.run({"x": ones, "y": ones}, timeout="1")  # type: ignore[arg-type]
