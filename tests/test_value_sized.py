"""Which outputs have sizes that depend on the input values: found from the model file, so
that LiteRT refuses them on every call rather than when a buffer happens not to fit."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
from _support import MODELS, model_path

import pysig
from pysig.model import read_model
from pysig.model.graph import OperatorInfo, SubgraphInfo, TensorInfo
from pysig.model.value_sized import value_sized_tensors
from pysig.runtime import choose
from pysig.runtime.choose import installed

needs_litert = pytest.mark.skipif(not installed("litert"), reason="LiteRT is not installed")

ADD, RESHAPE, SHAPE, WHERE, REDUCE_SUM, CUSTOM = 0, 22, 77, 109, 74, 32


def sized_outputs(path: str) -> set[tuple[str, str]]:
    model = read_model(path, None)
    return {
        (signature.key, name)
        for signature in model.file.signatures.values()
        for name, spec in signature.outputs.items()
        if spec.index in model.facts.value_sized[signature.subgraph_index]
    }


def test_on_the_test_models_only_data_dependent_outputs_are_found() -> None:
    found = {
        Path(path).stem: sized_outputs(path) for path in sorted(glob.glob(f"{MODELS}/*.tflite"))
    }
    assert {name: outputs for name, outputs in found.items() if outputs} == {
        "dynamic": {("positives", "values")},
        # Flex ops are custom ops: not looked into, so their unknown sizes count.
        "flex_encode_decode": {("encode", "encoded_result"), ("decode", "decoded_result")},
    }


def tensor(dynamic: bool = True, constant: bool = False) -> TensorInfo:
    return TensorInfo(
        type=0, shape=(1,), dynamic=dynamic, constant=constant, variable=False, nbytes=4
    )


def op(code: int, inputs: tuple[int, ...], outputs: tuple[int, ...]) -> OperatorInfo:
    return OperatorInfo(code=code, inputs=inputs, outputs=outputs, calls=frozenset(), variable=None)


def graph(tensors: list[TensorInfo], ops: list[OperatorInfo]) -> frozenset[int]:
    return value_sized_tensors(SubgraphInfo(tensors=tensors, inputs=(0,), operators=ops))


def test_a_shape_computed_from_shapes_is_not_sized_by_values() -> None:
    # x -> SHAPE -> RESHAPE(x, shape): Keras' usual reshape of a dynamic batch.
    assert (
        graph([tensor(), tensor(), tensor()], [op(SHAPE, (0,), (1,)), op(RESHAPE, (0, 1), (2,))])
        == frozenset()
    )


def test_a_shape_taken_from_the_data_is_sized_by_values() -> None:
    # RESHAPE(x, x): the new shape is the input's values.
    assert graph([tensor(), tensor()], [op(RESHAPE, (0, 0), (1,))]) == {1}


def test_where_on_data_is_sized_by_values_and_passes_it_on() -> None:
    ops = [op(WHERE, (0,), (1,)), op(ADD, (1, 2), (3,)), op(REDUCE_SUM, (3, 4), (5,))]
    tensors = [tensor(), tensor(), tensor(constant=True), tensor(), tensor(constant=True)]
    # The sum over all axes has a fixed shape signature: its size does not move.
    tensors.append(tensor(dynamic=False))
    assert graph(tensors, ops) == {1, 3}


def test_where_on_constants_is_not_sized_by_values() -> None:
    tensors = [tensor(), tensor(constant=True), tensor()]
    assert graph(tensors, [op(WHERE, (1,), (2,))]) == frozenset()


def test_custom_ops_are_not_looked_into() -> None:
    tensors = [tensor(), tensor(), tensor(dynamic=False)]
    assert graph(tensors, [op(CUSTOM, (0,), (1, 2))]) == {1}


@needs_litert
def test_litert_refuses_them_on_every_call() -> None:
    litert = pysig.Interpreter(model_path("dynamic"), runtime="litert")
    positives = litert.get_signature_runner("positives")
    # One positive fits the buffer the file's shape gives; refused all the same.
    for values in ([1.0], [5.0, -2.0, -3.0], [1.0, 2.0], [1.0]):
        with pytest.raises(pysig.UnsupportedOpError, match="'values' is sized by the input values"):
            positives(x=np.array(values, np.float32))
    reduce = litert.get_signature_runner("reduce")
    assert float(reduce(x=np.ones((2, 3), np.float32))["total"]) == 6.0


@pytest.mark.skipif(
    not (installed("litert") and installed("tflite")), reason="needs both runtimes installed"
)
def test_auto_runs_them_on_tflite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(choose.ENVIRONMENT_VARIABLE)  # the real rule, not the suite's narrowing
    interpreter = pysig.Interpreter(model_path("dynamic"))
    assert interpreter.runtime == "tflite"
    values = interpreter.get_signature_runner("positives")(x=np.array([5.0, -2.0, 3.0], np.float32))
    assert values["values"].tolist() == [5.0, 3.0]
