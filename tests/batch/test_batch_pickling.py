"""Pickling Interpreter, Pool and SignatureRunner: model bytes and options, never a path."""

from __future__ import annotations

import importlib.util
import inspect
import pickle
from typing import Any

import numpy as np
import pytest
from _support import MODELS, assert_bitwise_equal, random_value
from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

import pysig

# Every committed model that loads here (custom_op and flex_encode_decode need ops
# tflite-runtime lacks, so there is no interpreter to pickle).
UNLOADABLE = {"custom_op", "flex_encode_decode"}
LOADABLE = sorted(p.stem for p in MODELS.glob("*.tflite") if p.stem not in UNLOADABLE)


def installed_runtime_options() -> list[dict[str, Any]]:
    """Construction options for each installed runtime pysig can be asked for by name."""
    if "runtime" not in inspect.signature(pysig.Interpreter).parameters:
        return [{}]  # one runtime, chosen without an option
    packages = {"tflite": "tflite_runtime", "litert": "ai_edge_litert"}
    return [
        {"runtime": name}
        for name, package in packages.items()
        if importlib.util.find_spec(package) is not None
    ]


RUNTIMES = installed_runtime_options()


def valid_inputs(runner: pysig.SignatureRunner, rng: np.random.Generator) -> dict[str, Any]:
    inputs = {n: random_value(d, rng) for n, d in runner.get_input_details().items()}
    if runner.signature_key == "strings":
        inputs["i"] = np.arange(len(inputs["s"]), dtype=np.int32)  # GATHER's indices into s
    return inputs


def run_every_signature(interpreter: pysig.Interpreter, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    results = {}
    for key in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(key)
        results[key] = runner(**valid_inputs(runner, rng))
    return results


@pytest.mark.parametrize("options", RUNTIMES, ids=lambda o: o.get("runtime", "default"))
@pytest.mark.parametrize("name", LOADABLE)
def test_interpreter_round_trip(name: str, options: dict[str, Any]) -> None:
    path = MODELS / f"{name}.tflite"
    original = pysig.Interpreter(path, num_threads=1, **options)
    data = pickle.dumps(original)
    # The bytes travel, not the path (which may not exist where it is unpickled).
    assert path.read_bytes() in data
    assert str(path).encode() not in data
    copy = pickle.loads(data)
    assert isinstance(copy, pysig.Interpreter)
    assert copy is not original
    assert copy.get_signature_list() == original.get_signature_list()
    if hasattr(original, "runtime"):
        assert copy.runtime == original.runtime
    expected = run_every_signature(original, seed=3)
    got = run_every_signature(copy, seed=3)
    for key in expected:
        assert_bitwise_equal(got[key], expected[key])


@pytest.mark.parametrize("name", LOADABLE)
def test_runner_and_pool_round_trip(name: str) -> None:
    interpreter = pysig.Interpreter(MODELS / f"{name}.tflite")
    rng = np.random.default_rng(5)
    with pysig.Pool(model_content=(MODELS / f"{name}.tflite").read_bytes(), size=2) as pool:
        copy_pool = pickle.loads(pickle.dumps(pool))
        assert copy_pool.size == 2
        assert copy_pool.get_signature_list() == pool.get_signature_list()
        for key in interpreter.get_signature_list():
            runner = interpreter.get_signature_runner(key)
            copy = pickle.loads(pickle.dumps(runner))
            assert isinstance(copy, pysig.SignatureRunner)
            assert copy.signature_key == key
            inputs = valid_inputs(runner, rng)
            if name != "counter":  # its variable is per interpreter: compared below
                assert_bitwise_equal(copy(**inputs), runner(**inputs))
                assert_bitwise_equal(copy_pool.run(key, **inputs), pool.run(key, **inputs))
        copy_pool.close()


def test_objects_pickled_together_share_one_interpreter() -> None:
    interpreter = pysig.Interpreter(MODELS / "counter.tflite")
    increment = interpreter.get_signature_runner("increment")
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

    tflite = TfliteInterpreter(model_path=pysig.DEMO_MODEL_PATH)
    wrapped = pysig.Interpreter.from_tflite(tflite)
    with pytest.raises(
        pysig.UnpicklableError, match=r"from_tflite\), built with options pysig cannot know"
    ):
        pickle.dumps(wrapped)
    with pytest.raises(
        pysig.UnpicklableError, match=r"from_tflite\), built with options pysig cannot know"
    ):
        pickle.dumps(wrapped.get_signature_runner("add"))

    interpreter.close()
    with pytest.raises(pysig.ClosedError, match="cannot pickle this interpreter: it has been"):
        pickle.dumps(interpreter)
    with pytest.raises(pysig.ClosedError, match="cannot pickle the runner of signature 'add'"):
        pickle.dumps(runner)
    pool = pysig.Pool(pysig.DEMO_MODEL_PATH, size=1)
    pool.close()
    with pytest.raises(pysig.ClosedError, match="cannot pickle this pool"):
        pickle.dumps(pool)


def test_closed_copy_is_rebuilt_not_reused() -> None:
    interpreter = pysig.Interpreter(pysig.DEMO_MODEL_PATH)
    data = pickle.dumps(interpreter)
    first = pickle.loads(data)
    first.close()
    assert not pickle.loads(data).closed
