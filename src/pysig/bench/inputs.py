"""Inputs for `pysig run` and `pysig bench`: shapes from the command line, random values per dtype."""

from __future__ import annotations

import argparse
from typing import Any, Mapping, Tuple

import numpy as np
from numpy.typing import NDArray

Shape = Tuple[int, ...]
Details = Mapping[str, Any]

# Non-quantized integer inputs are often indices or counts: small non-negative values
# stay valid for gathers, one-hot depths and the like.
SMALL_INT_HIGH = 10
_STRING_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


class BadArgument(ValueError):
    """A command-line value that does not fit the model (the CLI exits with status 2)."""


def parse_shape(text: str) -> tuple[str, Shape]:
    """``name=d0,d1,...`` (``name=`` for a scalar) -> (name, dims); for argparse ``type=``."""
    name, _, dims = text.partition("=")
    if not name or "=" not in text:
        raise argparse.ArgumentTypeError(
            f"expected name=d0,d1,... (e.g. x=1,224,224,3), got {text!r}"
        )
    try:
        shape = tuple(int(d) for d in dims.split(",")) if dims.strip() else ()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"dimensions must be integers separated by commas, got {dims!r}"
        ) from None
    if any(d < 0 for d in shape):
        raise argparse.ArgumentTypeError(f"dimensions must be >= 0, got {dims!r}")
    return name, shape


def parse_input_file(text: str) -> tuple[str, str]:
    """``name=file.npy`` -> (name, path); for argparse ``type=``."""
    name, _, path = text.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected name=file.npy, got {text!r}")
    return name, path


def check_names(
    given: Mapping[str, object], details: Mapping[str, Details], option: str, signature: str
) -> None:
    """Reject command-line names that are not inputs of the signature."""
    unknown = [name for name in given if name not in details]
    if unknown:
        valid = ", ".join(map(repr, details)) or "none"
        raise BadArgument(
            f"{option}: signature {signature!r} has no input {unknown[0]!r} (its inputs: {valid})"
        )


def resolve_shapes(
    details: Mapping[str, Details], overrides: Mapping[str, Shape], signature: str
) -> dict[str, Shape]:
    """The shape each input is run with: ``--shape`` if given, else dynamic dims -> 1."""
    check_names(overrides, details, "--shape", signature)
    shapes: dict[str, Shape] = {}
    for name, detail in details.items():
        declared = [int(d) for d in detail["shape_signature"]]
        override = overrides.get(name)
        if override is None:
            shapes[name] = tuple(1 if d < 0 else d for d in declared)
        elif len(override) != len(declared):
            raise BadArgument(
                f"--shape {name}: the input has {len(declared)} dimension(s) {declared}, "
                f"got {len(override)}"
            )
        else:
            shapes[name] = override
    return shapes


def is_quantized(detail: Details) -> bool:
    scales = detail["quantization_parameters"]["scales"]
    return len(scales) > 0 or detail["quantization"][0] != 0.0


def random_input(detail: Details, shape: Shape, rng: np.random.Generator) -> NDArray[Any]:
    """Random values a model can take: quantized integers over their whole range,
    other integers small and non-negative, floats standard normal, strings as bytes."""
    dtype = np.dtype(detail["dtype"])
    if is_string(dtype):
        return _random_strings(shape, rng)
    if dtype.kind == "b":
        return np.ascontiguousarray(rng.random(shape) < 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = (
            (int(info.min), int(info.max) + 1) if is_quantized(detail) else (0, SMALL_INT_HIGH)
        )
        return rng.integers(low, high, size=shape, dtype=dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    raise BadArgument(f"cannot generate values of dtype {dtype} for {detail['name']!r}")


def _random_strings(shape: Shape, rng: np.random.Generator) -> NDArray[Any]:
    count = int(np.prod(shape, dtype=np.int64))
    lengths = rng.integers(1, 9, size=count)
    words = [_STRING_LETTERS[rng.integers(0, 26, size=n)].tobytes() for n in lengths]
    strings = np.empty(count, dtype=object)
    strings[:] = words
    return strings.reshape(shape)


def random_inputs(
    details: Mapping[str, Details], shapes: Mapping[str, Shape], rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    return {name: random_input(detail, shapes[name], rng) for name, detail in details.items()}


def is_string(dtype: Any) -> bool:
    """String tensors: tflite_runtime reports them as ``bytes_``, pysig returns object arrays."""
    return np.dtype(dtype).kind in "OSU"


def dtype_name(dtype: Any) -> str:
    return "string" if is_string(dtype) else np.dtype(dtype).name


def describe(dtype: Any, shape: Any) -> str:
    """``float32[1,4]``; strings show as ``string``; a scalar as ``float32[]``."""
    return f"{dtype_name(dtype)}[{','.join(str(int(d)) for d in shape)}]"
