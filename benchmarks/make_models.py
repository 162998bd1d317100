"""Build the benchmark models reproducibly, without downloading anything.

Run with TensorFlow 2.14.1 (the version matching tflite-runtime 2.14.0):

    /path/to/venv-with-tensorflow-cpu-2.14.1/bin/python benchmarks/make_models.py [--force]

The models are cached in benchmarks/.models/ (git-ignored; they are large):

- tiny.tflite: a few scalars (signature ``tiny``: a, b -> sum, product)
- io_heavy.tflite: 1x512x512x3 float32 in and out, one multiply-add (signature ``io``)
- mobilenet_v2.tflite: Keras MobileNetV2 with random weights, float32 (``serving_default``)
- mobilenet_v2_uint8.tflite: the same, fully quantized with uint8 input and output
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / ".models"
SEED = 20240214
# Enough calibration samples for stable ranges, few enough to build in about a minute.
CALIBRATION_SAMPLES = 32

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf


def _convert_saved_model(module: tf.Module, signatures: dict[str, Callable[..., object]]) -> bytes:
    # A SavedModel gives the signatures the keys we choose; a concrete function would
    # always be called "serving_default".
    with tempfile.TemporaryDirectory() as saved:
        tf.saved_model.save(module, saved, signatures=signatures)
        return tf.lite.TFLiteConverter.from_saved_model(saved).convert()


def build_tiny() -> bytes:
    class Tiny(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([], tf.float32, name="a"),
                tf.TensorSpec([], tf.float32, name="b"),
            ]
        )
        def tiny(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"sum": a + b, "product": a * b}

    module = Tiny()
    return _convert_saved_model(module, {"tiny": module.tiny})


def build_io_heavy() -> bytes:
    class IoHeavy(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 512, 512, 3], tf.float32, name="image")])
        def io(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"scaled": image * 2.0 + 1.0}

    module = IoHeavy()
    return _convert_saved_model(module, {"io": module.io})


def _mobilenet() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(SEED)
    return tf.keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))


def build_mobilenet_v2() -> bytes:
    return tf.lite.TFLiteConverter.from_keras_model(_mobilenet()).convert()


def build_mobilenet_v2_uint8() -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(_mobilenet())
    rng = np.random.default_rng(SEED)

    def representative_dataset() -> Iterator[list[np.ndarray]]:
        # MobileNetV2 expects inputs scaled to [-1, 1].
        for _ in range(CALIBRATION_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, size=(1, 224, 224, 3)).astype(np.float32)]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    return converter.convert()


BUILDERS: dict[str, Callable[[], bytes]] = {
    "tiny": build_tiny,
    "io_heavy": build_io_heavy,
    "mobilenet_v2": build_mobilenet_v2,
    "mobilenet_v2_uint8": build_mobilenet_v2_uint8,
}


def model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.tflite"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild models already cached")
    parser.add_argument(
        "models",
        nargs="*",
        metavar="NAME",
        help=f"models to build (default: all of {', '.join(BUILDERS)})",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(BUILDERS)}")
    if tf.__version__ != "2.14.1":
        print(f"warning: built with TensorFlow {tf.__version__}, not 2.14.1", file=sys.stderr)
    MODELS_DIR.mkdir(exist_ok=True)
    for name in args.models or BUILDERS:
        path = model_path(name)
        if path.exists() and not args.force:
            print(f"{path.name}: cached")
            continue
        content = BUILDERS[name]()
        path.write_bytes(content)
        digest = hashlib.sha256(content).hexdigest()[:16]
        print(f"{path.name}: {len(content)} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
