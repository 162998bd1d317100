"""Running TensorFlow's TFLite converter on a SavedModel with the options asked for."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf

from ..bench.inputs import BadArgument
from ..errors import ConversionError
from .options import ConvertOptions


def check_tensorflow_version() -> None:
    """Refuse converters other than 2.14's: newer ones write op versions that
    tflite-runtime 2.14.0 cannot run."""
    if not tf.__version__.startswith("2.14."):
        raise ConversionError(
            f"pysig convert needs TensorFlow 2.14, the release matching tflite-runtime 2.14.0; "
            f'this is TensorFlow {tf.__version__}: pip install "pysig[convert]"'
        )


def signature_functions(saved_model_dir: str) -> Mapping[str, Any]:
    """The SavedModel's signatures: key -> its concrete function."""
    try:
        return tf.saved_model.load(saved_model_dir).signatures  # type: ignore[no-any-return]
    except Exception as error:  # TensorFlow reports a bad SavedModel in many types
        raise ConversionError(f"cannot load the SavedModel {saved_model_dir!r}: {error}") from error


def chosen_keys(available: Sequence[str], asked: Sequence[str]) -> list[str]:
    """The signatures to convert: those asked with --signature, else all of them."""
    if not available:
        raise ConversionError("the SavedModel has no signatures to convert")
    for key in asked:
        if key not in available:
            raise BadArgument(
                f"--signature: the SavedModel has no signature {key!r} (its signatures: "
                f"{', '.join(map(repr, available))})"
            )
    return list(dict.fromkeys(asked)) if asked else list(available)


def convert_saved_model(
    saved_model_dir: str,
    keys: Sequence[str],
    functions: Mapping[str, Any],
    options: ConvertOptions,
) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=list(keys))
    ops = {tf.lite.OpsSet.TFLITE_BUILTINS}
    if options.select_tf_ops:
        ops.add(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    if options.quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif options.quantize == "int8":
        if options.representative_data is None:
            raise BadArgument("--quantize int8 needs --representative-data FILE.npz")
        samples = representative_samples(options.representative_data, keys, functions)
        converter.representative_dataset = lambda: iter(samples)
    try:
        return bytes(converter.convert())
    except Exception as error:  # the converter raises many types, all meaning "failed"
        hint = ""
        if not options.select_tf_ops and "TF Select" in str(error):
            hint = " (some ops have no TFLite builtin: rerun with --select-tf-ops)"
        raise ConversionError(f"TensorFlow could not convert the model{hint}: {error}") from error


def representative_samples(
    path: str, keys: Sequence[str], functions: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Calibration samples from an .npz file, as (signature key, inputs) pairs.

    The array for input NAME of signature KEY is named ``KEY/NAME``, or just ``NAME``
    when every signature with that input takes the same data. Its first axis indexes
    the samples; each is fed with that axis kept, of length 1.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise BadArgument(f"--representative-data: cannot read {path!r}: {error}") from error
    samples: list[tuple[str, dict[str, Any]]] = []
    for key in keys:
        names = list(functions[key].structured_input_signature[1])
        chosen = {}
        for name in names:
            array = arrays.get(f"{key}/{name}", arrays.get(name))
            if array is None:
                raise BadArgument(
                    f"--representative-data: {path!r} has no array {key}/{name} or {name} "
                    f"(it has: {', '.join(arrays) or 'none'})"
                )
            chosen[name] = array
        counts = {len(a) if a.ndim else 0 for a in chosen.values()}
        if len(counts) != 1 or 0 in counts:
            raise BadArgument(
                f"--representative-data: the arrays for signature {key!r} must have the same "
                "number of samples along their first axis"
            )
        samples += _split(key, chosen, counts.pop())
    return samples


def _split(key: str, arrays: Mapping[str, Any], count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for index in range(count):
        yield key, {name: array[index : index + 1] for name, array in arrays.items()}
