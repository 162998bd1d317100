"""The parity check: every converted signature run in TensorFlow and in pysig on the same inputs.

TensorFlow runs the SavedModel's own concrete function, pysig the converted file (with
its renamed keys and names). Inputs follow each input's dtype and shape signature: a
dynamic dimension is tried at several sizes, so a model that only works at the size it
was traced with is caught.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, NamedTuple

import numpy as np
import tensorflow as tf
from numpy.typing import NDArray

from ..bench.inputs import Details, Shape, dtype_name, is_string, random_input
from ..errors import ConversionError
from ..interpreter import Interpreter
from .rename import Origin

DYNAMIC_SIZES = (1, 3, 8)


class OutputParity(NamedTuple):
    key: str  # the signature key in the converted model
    name: str  # the output name in the converted model
    dtype: str
    shapes: tuple[Shape, ...]  # the output shapes compared, one per run
    max_abs: float  # nan for strings
    max_rel: float  # over the elements where TensorFlow's value is not 0
    mismatches: int  # elements beyond tolerance, or differing strings and shapes
    elements: int

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


def check_parity(
    content: bytes,
    functions: Mapping[str, Any],
    origins: Mapping[str, Origin],
    atol: float,
    rtol: float,
    seed: int = 0,
) -> list[OutputParity]:
    """Compare every signature of ``content`` with the TensorFlow function it came from."""
    rng = np.random.default_rng(seed)
    results = []
    with Interpreter(model_content=content) as interpreter:
        for key, origin in origins.items():
            runner = interpreter.get_signature_runner(key)
            function = functions[origin.key]
            specs = function.structured_input_signature[1]
            compared: dict[str, list[tuple[NDArray[Any], NDArray[Any]]]] = {
                name: [] for name in runner.output_names
            }
            for inputs in _input_sets(runner.get_input_details(), rng):
                mine = runner(**inputs)
                theirs = _run_tensorflow(function, origin.key, origin.inputs, specs, inputs)
                for name in runner.output_names:
                    compared[name].append((mine[name], theirs[origin.outputs[name]].numpy()))
            details = runner.get_output_details()
            results += [
                _compare(key, name, details[name], pairs, atol, rtol)
                for name, pairs in compared.items()
            ]
    return results


def _run_tensorflow(
    function: Any,
    key: str,
    names: Mapping[str, str],
    specs: Mapping[str, Any],
    inputs: Mapping[str, NDArray[Any]],
) -> Mapping[str, Any]:
    try:
        return function(  # type: ignore[no-any-return]
            **{
                names[name]: tf.constant(value, dtype=specs[names[name]].dtype)
                for name, value in inputs.items()
            }
        )
    except Exception as error:  # TensorFlow's op errors come in many types
        shapes = ", ".join(f"{name} {list(value.shape)}" for name, value in inputs.items())
        raise ConversionError(
            f"parity check: TensorFlow failed to run signature {key!r} on inputs of shapes "
            f"{shapes}: {error}"
        ) from error


def _input_sets(
    details: Mapping[str, Details], rng: np.random.Generator
) -> Iterator[dict[str, Any]]:
    dynamic = any(int(d) < 0 for detail in details.values() for d in detail["shape_signature"])
    for size in DYNAMIC_SIZES if dynamic else (1,):
        yield {
            name: _value(
                detail, tuple(size if d < 0 else int(d) for d in detail["shape_signature"]), rng
            )
            for name, detail in details.items()
        }


def _value(detail: Details, shape: Shape, rng: np.random.Generator) -> NDArray[Any]:
    if is_string(detail["dtype"]):
        # Numbers as text: strings every string op takes, including parsers such as
        # tf.strings.to_number, which refuse arbitrary words.
        count = int(np.prod(shape, dtype=np.int64))
        words = np.empty(count, dtype=object)
        words[:] = [f"{v:.6g}".encode() for v in rng.standard_normal(count) * 100]
        return words.reshape(shape)
    return random_input(detail, shape, rng)


def _compare(
    key: str,
    name: str,
    detail: Details,
    pairs: list[tuple[NDArray[Any], NDArray[Any]]],
    atol: float,
    rtol: float,
) -> OutputParity:
    shapes = tuple(tuple(int(d) for d in mine.shape) for mine, _ in pairs)
    mismatches = elements = 0
    max_abs = max_rel = 0.0
    for mine, theirs in pairs:
        elements += int(theirs.size)
        if mine.shape != theirs.shape:
            mismatches += max(int(theirs.size), 1)
            continue
        if is_string(theirs.dtype) or is_string(mine.dtype):
            mismatches += sum(
                a != b for a, b in zip(mine.ravel().tolist(), theirs.ravel().tolist())
            )
            max_abs = max_rel = float("nan")
            continue
        wide = np.result_type(mine.dtype, theirs.dtype, np.float64)
        actual, expected = mine.astype(wide), theirs.astype(wide)
        error = np.abs(actual - expected)
        mismatches += int(np.count_nonzero(~(error <= atol + rtol * np.abs(expected))))
        if error.size:
            max_abs = max(max_abs, float(error.max()))
            nonzero = expected != 0
            if nonzero.any():
                max_rel = max(max_rel, float((error[nonzero] / np.abs(expected[nonzero])).max()))
    return OutputParity(
        key, name, dtype_name(detail["dtype"]), shapes, max_abs, max_rel, mismatches, elements
    )
