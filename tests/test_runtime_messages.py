"""Errors that quote the runtime read as sentences: none run together, none twice."""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pytest
from _support import model_path, runtime_gap

import pysig
from pysig.runtime.messages import as_sentences

# A message of the runtime glued to the next one: "(3 != 4)Node", "prepare.Encountered".
# (A capitalised word and a space: not a dotted name such as pysig.Interpreter.from_tflite.)
RUN_TOGETHER = re.compile(r"[.)\]](?:[A-Z][a-z]* |/)|[a-z]Node number")


def assert_reads_as_sentences(message: str) -> None:
    assert "\n" not in message
    assert not RUN_TOGETHER.search(message), message
    sentences = re.split(r"(?<=[.!?])\s+", message)
    repeated = {s for s in sentences if sentences.count(s) > 1}
    assert not repeated, message


# Runtime text as the runtime reports it, and as pysig's errors quote it.
SENTENCES = {
    "a check glued to the node": (
        (
            "/lite/kernels/conv.cc:344 input->dims->size != 4 (2 != 4)Node number 0 "
            "(CONV_2D) failed to prepare."
        ),
        (
            "/lite/kernels/conv.cc:344 input->dims->size != 4 (2 != 4). Node number 0 "
            "(CONV_2D) failed to prepare."
        ),
    ),
    "a message reported twice": (
        (
            "Node number 3 (PysigTestOp) failed to prepare.Encountered unresolved custom op: "
            "PysigTestOp.\nSee instructions: https://example.org/ops_custom Node number 3 "
            "(PysigTestOp) failed to prepare."
        ),
        (
            "Node number 3 (PysigTestOp) failed to prepare. Encountered unresolved custom op: "
            "PysigTestOp. See instructions: https://example.org/ops_custom."
        ),
    ),
    "no full stop": (
        "Input tensor 5 lacks dataNode number 2 (ADD) failed to invoke.\n",
        "Input tensor 5 lacks data. Node number 2 (ADD) failed to invoke.",
    ),
    "nothing": ("  \n", ""),
}


@pytest.mark.parametrize("case", sorted(SENTENCES))
def test_runtime_text_becomes_sentences(case: str) -> None:
    text, expected = SENTENCES[case]
    assert as_sentences(text) == expected


def _conv_without_batch() -> None:
    runner = pysig.Interpreter(model_path("conv")).get_signature_runner()
    runner(image=np.zeros((32, 32, 3), np.float32))


def _shapes_that_do_not_broadcast() -> None:
    runner = pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_runner("add")
    runner(x=np.ones((1, 3), np.float32), y=np.ones((1, 4), np.float32))


def _strict_resize() -> None:
    runner = pysig.Interpreter(model_path("keras_dense")).get_signature_runner()
    runner.resize_input("x_input", [2, 5], strict=True)


def _flex_model() -> None:
    pysig.Interpreter(model_path("flex_encode_decode"))


def _custom_op_model() -> None:
    pysig.Interpreter(model_path("custom_op"))


def _gather_out_of_range() -> None:
    runner = pysig.Interpreter(model_path("types")).get_signature_runner("strings")
    runner(s=[b"a", b"b"], i=np.array([7], np.int32))


REFUSALS: dict[str, tuple[Callable[[], None], type[pysig.PysigError]]] = {
    "shape refused while preparing": (_conv_without_batch, pysig.InputShapeError),
    "shapes that do not broadcast": (_shapes_that_do_not_broadcast, pysig.InputShapeError),
    "strict resize": (_strict_resize, pysig.InputShapeError),
    "flex ops": (_flex_model, pysig.FlexOpError),
    "custom op": (_custom_op_model, pysig.UnsupportedOpError),
    "invoke error": (_gather_out_of_range, pysig.InvokeError),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_every_error_quoting_the_runtime_reads_as_sentences(case: str, runtime: str) -> None:
    attempt, error_class = REFUSALS[case]
    gap = runtime_gap(runtime, "types", "strings") if case == "invoke error" else None
    if gap:  # LiteRT refuses the string model before running it, in a sentence of its own
        error_class = gap[0]
    with pytest.raises(error_class) as info:
        attempt()
    assert_reads_as_sentences(str(info.value))
