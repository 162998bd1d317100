"""Models pysig edits, loaded and run by TensorFlow 2.14's own tf.lite.Interpreter.

Marked ``tensorflow``: the suite needs no TensorFlow, so these run only where it is
installed, with ``pytest -m tensorflow`` (see the README's "Giving a model the
signatures you want").
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pytest
from _support import assert_bitwise_equal, import_tensorflow
from test_signature_edit import read, signature_inputs, with_external_buffers

import pysig
from pysig.model import SignatureEditor

pytestmark = pytest.mark.tensorflow


def tensorflow_results(content: bytes, key: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    tf = import_tensorflow()
    assert tf.__version__.startswith("2.14.")
    interpreter = tf.lite.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return dict(interpreter.get_signature_runner(key)(**inputs))


def check(original: bytes, key: str, edited: bytes, new_key: str, names: dict[str, str]) -> None:
    inputs = signature_inputs(original, key)
    expected = pysig.Interpreter(model_content=original).get_signature_runner(key)(**inputs)
    renamed = {names.get(n, n): v for n, v in inputs.items()}
    assert_bitwise_equal(tensorflow_results(edited, new_key, renamed), expected)


def test_renamed_signatures_run_in_tensorflow() -> None:
    original = read("multi_signature")
    edited = (
        SignatureEditor(original).rename("add", "plus").rename_input("plus", "x", "left").to_bytes()
    )
    check(original, "add", edited, "plus", {"x": "left"})
    check(original, "mul", edited, "mul", {})


@pytest.mark.parametrize("name", ["mediapipe_style", "no_signature"])
def test_a_signature_added_to_a_model_without_any_runs_in_tensorflow(name: str) -> None:
    original = read(name)
    edited = SignatureEditor(original).add("detect").to_bytes()
    check(original, "serving_default", edited, "detect", {})


def test_weights_outside_the_flatbuffer_run_in_tensorflow() -> None:
    original = with_external_buffers(read("keras_dense"))
    edited = SignatureEditor(original).rename("serving_default", "predict").to_bytes()
    check(read("keras_dense"), "serving_default", edited, "predict", {})
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4)).astype(np.float32)
    assert_bitwise_equal(
        tensorflow_results(edited, "predict", {"x_input": x}),
        pysig.Interpreter(model_content=edited).get_signature_runner("predict")(x_input=x),
    )
