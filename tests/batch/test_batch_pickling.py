"""Pickling Interpreter, Pool and SignatureRunner: model bytes and options, never a path."""

from __future__ import annotations

import pickle
from functools import partial
from typing import Any, Callable

import numpy as np
import pytest
from _support import MODELS, STATEFUL_MODELS, assert_bitwise_equal, random_value, runtime_gap

import pysig

# Every committed model that loads here (custom_op and flex_encode_decode need ops
# tflite-runtime lacks, so there is no interpreter to pickle).
UNLOADABLE = {"custom_op", "flex_encode_decode"}
LOADABLE = sorted(p.stem for p in MODELS.glob("*.tflite") if p.stem not in UNLOADABLE)


def valid_inputs(runner: pysig.SignatureRunner, rng: np.random.Generator) -> dict[str, Any]:
    inputs = {n: random_value(d, rng) for n, d in runner.get_input_details().items()}
    if runner.signature_key == "strings":
        inputs["i"] = np.arange(len(inputs["s"]), dtype=np.int32)  # GATHER's indices into s
    return inputs


def outcome(call: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """The outputs of a call, or the error it raised (a runtime's known limit)."""
    try:
        return call(**inputs)
    except pysig.PysigError as error:
        return type(error), str(error)


def assert_same_outcome(got: Any, expected: Any) -> None:
    if isinstance(expected, tuple):
        assert got == expected
    else:
        assert_bitwise_equal(got, expected)


def every_outcome(interpreter: pysig.Interpreter, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {}
    for key in interpreter.get_signature_list():
        try:
            runner = interpreter.get_signature_runner(key)
        except pysig.PysigError as error:
            results[key] = (type(error), str(error))
            continue
        results[key] = outcome(runner, valid_inputs(runner, rng))
    return results


@pytest.mark.parametrize("name", LOADABLE)
def test_interpreter_round_trip(name: str, runtime: str) -> None:
    path = MODELS / f"{name}.tflite"
    original = pysig.Interpreter(path, num_threads=1, runtime=runtime)
    data = pickle.dumps(original)
    # The bytes travel, not the path (which may not exist where it is unpickled).
    assert path.read_bytes() in data
    assert str(path).encode() not in data
    copy = pickle.loads(data)
    assert isinstance(copy, pysig.Interpreter)
    assert copy is not original
    assert copy.runtime == original.runtime == runtime
    assert copy.get_signature_list() == original.get_signature_list()
    expected = every_outcome(original, seed=3)
    got = every_outcome(copy, seed=3)
    assert set(got) == set(expected)
    for key in expected:
        assert_same_outcome(got[key], expected[key])


def test_auto_comes_back_on_the_runtime_it_chose(runtime: str) -> None:
    original = pysig.Interpreter(pysig.DEMO_MODEL_PATH)  # "auto" means the test's runtime
    assert original.runtime == runtime
    assert pickle.loads(pickle.dumps(original)).runtime == runtime


@pytest.mark.parametrize("name", LOADABLE)
def test_runner_and_pool_round_trip(name: str, runtime: str) -> None:
    interpreter = pysig.Interpreter(MODELS / f"{name}.tflite")
    rng = np.random.default_rng(5)
    with pysig.Pool(model_content=(MODELS / f"{name}.tflite").read_bytes(), size=2) as pool:
        copy_pool = pickle.loads(pickle.dumps(pool))
        assert copy_pool.size == 2
        assert copy_pool.get_signature_list() == pool.get_signature_list()
        for key in interpreter.get_signature_list():
            if runtime_gap(runtime, name, key) is not None:
                continue  # a runtime's known limit: its error is compared above
            runner = interpreter.get_signature_runner(key)
            copy = pickle.loads(pickle.dumps(runner))
            assert isinstance(copy, pysig.SignatureRunner)
            assert copy.signature_key == key
            inputs = valid_inputs(runner, rng)
            if name not in STATEFUL_MODELS:  # variables are per interpreter: compared below
                assert_same_outcome(outcome(copy, inputs), outcome(runner, inputs))
                assert_same_outcome(
                    outcome(partial(copy_pool.run, key), inputs),
                    outcome(partial(pool.run, key), inputs),
                )
        copy_pool.close()


def test_objects_pickled_together_share_one_interpreter(runtime: str) -> None:
    interpreter = pysig.Interpreter(MODELS / "counter.tflite")
    increment = interpreter.get_signature_runner("increment")
    if runtime == "litert":
        # Its raw variable reads do not run on LiteRT; the sharing shows all the same.
        copy, copy_increment = pickle.loads(pickle.dumps((interpreter, increment)))
        assert copy_increment is copy.get_signature_runner("increment")
        return
    increment(delta=np.int64(5))
    # Variables are not part of the pickle: the model's initial state comes back.
    copy, copy_increment = pickle.loads(pickle.dumps((interpreter, increment)))
    assert copy_increment is copy.get_signature_runner("increment")
    copy_increment(delta=np.int64(2))
    assert int(copy.get_signature_runner("read")()["count"]) == 2
    assert int(interpreter.get_signature_runner("read")()["count"]) == 5


def test_pool_keeps_its_options() -> None:
    pool = pysig.Pool(
        MODELS / "slow.tflite", size=1, op_resolver="builtin_without_default_delegates"
    )
    copy = pickle.loads(pickle.dumps(pool))
    recipe = copy._interpreters[0]._recipe
    assert recipe is not None
    assert recipe.options["op_resolver"] == "builtin_without_default_delegates"
    assert recipe.options["num_threads"] == 1
    pool.close()
    copy.close()


def test_what_cannot_be_pickled_says_why() -> None:
    interpreter = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    runner = interpreter.get_signature_runner("add")
    with pytest.raises(pysig.UnpicklableError, match="zero-copy views"):
        pickle.dumps(runner.inputs)
    with pytest.raises(pysig.UnpicklableError, match="zero-copy views"):
        pickle.dumps(runner.outputs)

    interpreter.close()
    with pytest.raises(pysig.ClosedError, match="cannot pickle this interpreter: it has been"):
        pickle.dumps(interpreter)
    with pytest.raises(pysig.ClosedError, match="cannot pickle the runner of signature 'add'"):
        pickle.dumps(runner)
    pool = pysig.Pool(pysig.DEMO_MODEL_PATH, size=1)
    pool.close()
    with pytest.raises(pysig.ClosedError, match="cannot pickle this pool"):
        pickle.dumps(pool)


def test_interpreters_from_tflite_refuse_to_pickle() -> None:
    # from_tflite wraps a tflite_runtime object, which only exists where it is installed.
    tflite_interpreter = pytest.importorskip("tflite_runtime.interpreter")
    tflite = tflite_interpreter.Interpreter(model_path=pysig.DEMO_MODEL_PATH)
    wrapped = pysig.Interpreter.from_tflite(tflite)
    with pytest.raises(
        pysig.UnpicklableError, match=r"from_tflite\), built with options pysig cannot know"
    ):
        pickle.dumps(wrapped)
    with pytest.raises(
        pysig.UnpicklableError, match=r"from_tflite\), built with options pysig cannot know"
    ):
        pickle.dumps(wrapped.get_signature_runner("add"))


def test_closed_copy_is_rebuilt_not_reused() -> None:
    interpreter = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    data = pickle.dumps(interpreter)
    first = pickle.loads(data)
    first.close()
    assert not pickle.loads(data).closed
