"""What ``pysig convert`` converts: a SavedModel directory, a Keras file, or ``module.py:object``.

Every source becomes a SavedModel first (a Keras model or a tf.Module is saved to a
temporary directory), so that one converter path serves all of them and the parity
check runs the SavedModel's own concrete functions: the functions the .tflite file's
signatures were made from.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter

import tensorflow as tf

from ..errors import ConversionError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


class Source(NamedTuple):
    saved_model_dir: str
    notes: list[str]  # what the user should know about how the source was read
    keras_layers: frozenset[str]  # a Keras model's layer names (empty for other sources)


def load_source(text: str, workdir: Path) -> Source:
    """Read SRC into a SavedModel directory; ``workdir`` holds the ones pysig writes."""
    path = Path(text)
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ConversionError(f"{text!r} is a directory without a saved_model.pb")
        return Source(str(path), [], frozenset())
    if path.suffix in KERAS_SUFFIXES:
        if not path.is_file():
            raise ConversionError(f"Keras file {text!r} does not exist")
        try:
            model = tf.keras.models.load_model(path, compile=False)
        except (OSError, ValueError, TypeError) as error:
            raise ConversionError(f"cannot load Keras model {text!r}: {error}") from error
        return _save_keras(model, workdir)
    module_path, colon, name = text.rpartition(":")
    if colon and module_path.endswith(".py"):
        return _save_object(_object_from(Path(module_path), name), text, workdir)
    raise ConversionError(
        f"{text!r} is not a SavedModel directory, a Keras file (.keras, .h5) or "
        "module.py:object naming a tf.Module or Keras model"
    )


def _object_from(path: Path, name: str) -> Any:
    if not path.is_file():
        raise ConversionError(f"module file {str(path)!r} does not exist")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ConversionError(f"cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    # Its own imports of sibling files work as when it runs as a script.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ConversionError(f"importing {str(path)!r} failed: {error!r}") from error
    finally:
        sys.path.pop(0)
    if not hasattr(module, name):
        raise ConversionError(f"{str(path)!r} has no {name!r}")
    found = getattr(module, name)
    # A class is instantiated, as the guide does with `model = Model()`.
    return found() if isinstance(found, type) else found


def _save_object(obj: Any, text: str, workdir: Path) -> Source:
    if isinstance(obj, tf.keras.Model):
        return _save_keras(obj, workdir)
    if not isinstance(obj, tf.Module):
        raise ConversionError(
            f"{text!r} is a {type(obj).__name__}, not a tf.Module or a Keras model"
        )
    signatures, notes = {}, []
    for name in sorted(dir(obj)):
        if name.startswith("_"):
            continue
        function = getattr(obj, name, None)
        if not isinstance(function, tf.types.experimental.GenericFunction):
            continue
        if function.input_signature is None:
            notes.append(
                f"tf.function {name!r} was left out: it has no input_signature, so TensorFlow "
                "cannot trace it without example inputs (give @tf.function an input_signature)"
            )
            continue
        signatures[name] = function.get_concrete_function()
    if not signatures:
        raise ConversionError(
            f"{text!r} has no public tf.function with an input_signature to convert"
        )
    return Source(_save(obj, workdir, signatures), notes, frozenset())


def _save_keras(model: Any, workdir: Path) -> Source:
    return Source(_save(model, workdir), [], frozenset(layer.name for layer in model.layers))


def _save(obj: Any, workdir: Path, signatures: Any = None) -> str:
    directory = str(workdir / "saved_model")
    try:
        tf.saved_model.save(obj, directory, signatures=signatures)
    except Exception as error:  # tracing runs the user's code: anything can fail
        raise ConversionError(
            f"TensorFlow could not save the model as a SavedModel: {error}"
        ) from error
    return directory
