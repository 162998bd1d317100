"""The models of TensorFlow Lite's "Signatures in TensorFlow Lite" guide and of the
"Convert SavedModel to TFLite Model with Signatures" article, written for pysig's tests
(`pysig convert tests/examples/signatures_guide.py:Model` converts one of them).
Importing this module imports TensorFlow."""

from __future__ import annotations

import tensorflow as tf

KERAS_SEED = 5
WRAPPER_SEED = 7


class Model(tf.Module):
    """The guide's two tasks: numbers to text (`encode`) and back (`decode`), both of
    which need Select TF ops."""

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.float32)])
    def encode(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"encoded_result": tf.strings.as_string(x)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string)])
    def decode(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"decoded_result": tf.strings.to_number(x)}


def keras_model() -> tf.keras.Model:
    """The guide's Keras example: Dense(2) named 'x', then Dense(1) named 'output'.

    Seeded so that the relu outputs are not all zero."""
    tf.keras.utils.set_random_seed(KERAS_SEED)
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(2, input_dim=4, activation="relu", name="x"),
            tf.keras.layers.Dense(1, activation="relu", name="output"),
        ]
    )


class Wrapper(tf.Module):
    """The article's approach: a tf.Module around a Keras model with two outputs, whose
    tf.function chooses the signature's input name (x_input) and output names."""

    def __init__(self) -> None:
        super().__init__()
        tf.keras.utils.set_random_seed(WRAPPER_SEED)
        features = tf.keras.Input(shape=(4,))
        hidden = tf.keras.layers.Dense(16, activation="relu")(features)
        scores = tf.keras.layers.Dense(3, activation="softmax")(hidden)
        embedding = tf.keras.layers.Dense(2)(hidden)
        self.model = tf.keras.Model(features, [scores, embedding])

    @tf.function(input_signature=[tf.TensorSpec(shape=[None, 4], dtype=tf.float32)])
    def predict(self, x_input: tf.Tensor) -> dict[str, tf.Tensor]:
        scores, embedding = self.model(x_input)
        return {"scores": scores, "embedding": embedding}

    # No input_signature: `pysig convert` leaves it out and says why.
    @tf.function
    def untraced(self, x: tf.Tensor) -> tf.Tensor:
        return x
