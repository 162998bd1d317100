"""Generate the small .tflite models used by pysig's tests and the packaged demo model.

Requires tensorflow-cpu==2.14.1 (the TensorFlow release matching tflite-runtime
2.14.0). Run as:

    python scripts/make_test_models.py [--out-dir tests/models] [NAME ...]

With names, only those test models are written (the demo model is "demo").

Paths are relative to the repository root, wherever the script is run from.

Writes:

- src/pysig/data/demo.tflite: signatures ``add`` (x, y -> sum), ``scale``
  (x[None, 4] -> y = 2.5 x + 1) and ``argmax`` (x -> index, max). Shipped in
  the package and used by the ABI self-check.
- <out-dir>/multi_signature.tflite: ``add`` (int32), ``mul``, ``negate``.
- <out-dir>/zero_input.tflite: ``constant`` (no inputs -> value = [1, 2, 3])
  and ``echo`` (x -> y = x + 1).
- <out-dir>/counter.tflite: ``increment``, ``read`` and ``reset`` sharing the
  int64 resource variable ``count``.
- <out-dir>/accumulator.tflite: ``add`` (x[None, 4] -> total, the float32[4] resource
  variable ``total`` plus the column sums of x, written back) and ``scaled`` (factor ->
  value = total * factor): every output is computed, none a raw variable read, so both
  runtimes run it; for variables kept across refused calls, XNNPACK's among them.
- <out-dir>/dynamic.tflite: ``reduce`` (x[None, None] -> total, row_sums) and
  ``positives`` (x[None] -> values, whose length depends on the data).
- <out-dir>/arg_reduce.tflite: ``over_dynamic_axis`` (x[1, None] -> index =
  argmax over the dynamic axis) and ``over_fixed_axis`` (x[None, 3] -> index =
  argmin over the fixed axis), for pysig's refusal of empty ARG_MAX/ARG_MIN axes.
- <out-dir>/quant_int8.tflite, quant_uint8.tflite: a fully integer-quantized
  Dense(4) + relu with int8 / uint8 input and output (``serving_default``).
- <out-dir>/types.tflite: one signature per dtype family: ``logical`` (bool),
  ``int64_add``, ``half`` (float16 in), ``strings`` (string in and out) and
  ``int8_ops`` (int8 / uint8 in and out).
- <out-dir>/no_signature.tflite: inputs a, b -> sum, product with the
  SignatureDefs removed and the tensors renamed to those short names.
- <out-dir>/mediapipe_style.tflite: a small detector laid out as MediaPipe's
  models are: no SignatureDefs, one image input ``input`` [1, 16, 16, 3], a Conv2D
  stem, two outputs ``regressors`` [1, 64, 4] and ``classificators`` [1, 64, 1], and a
  ``TFLITE_METADATA`` entry; for adding signatures to a model that has none.
- <out-dir>/custom_op.tflite: a SIN whose opcode was rewritten to the custom op
  ``PysigTestOp``, which no resolver provides.
- <out-dir>/keras_dense.tflite: the Keras example from TensorFlow's "Signatures
  in TensorFlow Lite" guide (``serving_default``: x_input -> output).
- <out-dir>/flex_encode_decode.tflite: the guide's ``encode`` / ``decode``
  module, which needs Flex (Select TF) ops that tflite-runtime lacks.
- <out-dir>/conv.tflite: a small Keras convolutional network, MobileNetV2's
  layer kinds on a 32x32x3 image (``serving_default``: image[None, 32, 32, 3] ->
  scores[None, 4]): XNNPACK takes the whole graph, and a call without the batch
  dimension is refused while the runtime re-applies it, the sequence that left
  tflite-runtime 2.14's memory plan stale (pysig's recovery tests).
- <out-dir>/half_plus_three.tflite: TF Serving's toy model, as its REST API guide uses it,
  for pysig serve: ``serving_default`` (x[None] -> y = 0.5 x + 3),
  ``tensorflow/serving/regress`` (x[None] -> outputs, the same values),
  ``tensorflow/serving/classify`` (x[None, 2] -> scores = softmax(x @ w) over three
  classes, classes = their labels, best first) and ``classify_scores`` (x[None, 2] ->
  scores only). Signature keys with a slash are set after conversion.
- <out-dir>/slow.tflite: 200 chained tanh(x @ w) on 256x256 (``serving_default``),
  for cancellation tests: about 190 ms per invoke on one thread with
  BUILTIN_WITHOUT_DEFAULT_DELEGATES (400 nodes), about 65 ms with the default
  resolver, where XNNPACK takes the whole graph as a single delegate node.
- <out-dir>/image_classifier.tflite: a MobileNetV2-shaped conv net small enough to
  commit (conv, depthwise and pointwise convs with relu6, global pooling, softmax
  over 10 classes), for batch inference tests: ``classify`` takes a fixed batch of
  one image float32[1, 96, 96, 3], ``classify_any`` any batch (float32[None, 96, 96,
  3]); both give ``probabilities`` and share their weights.

Every random value comes from a fixed seed, so rerunning gives the same weights.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

# Keep TensorFlow's start-up chatter out of the output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.core.framework import node_def_pb2
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PATH = REPO_ROOT / "src" / "pysig" / "data" / "demo.tflite"

SEED = 20240101
KERAS_SEED = 5


def spec(shape: Sequence[Any], dtype: tf.DType, name: str) -> tf.TensorSpec:
    # The TensorSpec name becomes the signature's input name.
    return tf.TensorSpec(shape, dtype, name=name)


def convert_functions(
    module: tf.Module,
    *functions: Any,
    resource_variables: bool = False,
    supported_ops: Sequence[tf.lite.OpsSet] = (tf.lite.OpsSet.TFLITE_BUILTINS,),
) -> bytes:
    """Convert tf.functions of `module`, one SignatureDef per function.

    With the module passed as the trackable object, TF 2.14 names each
    SignatureDef after the Python function (``add``, ``scale``, ...); the keys
    of the returned dicts become the output names.
    """
    concrete = [function.get_concrete_function() for function in functions]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(concrete, module)
    # Needed to keep variables that the functions write as TFLite resource
    # variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE).
    converter.experimental_enable_resource_variables = resource_variables
    converter.target_spec.supported_ops = set(supported_ops)
    return bytes(converter.convert())


# --------------------------------------------------------------------------- demo


class Demo(tf.Module):
    @tf.function(input_signature=[spec([1, 4], tf.float32, "x"), spec([1, 4], tf.float32, "y")])
    def add(self, x: tf.Tensor, y: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": x + y}

    # Dynamic batch: the first dimension is None, so callers can resize it.
    @tf.function(input_signature=[spec([None, 4], tf.float32, "x")])
    def scale(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x * 2.5 + 1.0}

    # Two outputs of different dtypes (int32 and float32).
    @tf.function(input_signature=[spec([1, 8], tf.float32, "x")])
    def argmax(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "index": tf.argmax(x, axis=1, output_type=tf.int32),
            "max": tf.reduce_max(x, axis=1),
        }


def make_demo() -> bytes:
    module = Demo()
    return convert_functions(module, module.add, module.scale, module.argmax)


# ------------------------------------------------------------- multi_signature


class MultiSignature(tf.Module):
    @tf.function(input_signature=[spec([3], tf.int32, "x"), spec([3], tf.int32, "y")])
    def add(self, x: tf.Tensor, y: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": x + y}

    @tf.function(input_signature=[spec([2, 2], tf.float32, "a"), spec([2, 2], tf.float32, "b")])
    def mul(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"product": a * b}  # elementwise, not matmul

    @tf.function(input_signature=[spec([5], tf.float32, "x")])
    def negate(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": -x}


def make_multi_signature() -> bytes:
    module = MultiSignature()
    return convert_functions(module, module.add, module.mul, module.negate)


# ------------------------------------------------------------------- zero_input


class ZeroInput(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.base = tf.Variable([0.0, 0.0, 0.0], dtype=tf.float32, name="base")

    # `constant` must run real ops. Without inputs, anything computed from
    # constants (tf.range, casts, reading a variable nobody writes) is folded
    # into a bare constant tensor and the subgraph ends up with no operators.
    # Writing the variable keeps it a resource variable, so the signature runs
    # ASSIGN_VARIABLE + READ_VARIABLE and returns [1, 2, 3] on every call.
    @tf.function(input_signature=[])
    def constant(self) -> dict[str, tf.Tensor]:
        self.base.assign(tf.constant([1.0, 2.0, 3.0]))
        return {"value": self.base.read_value()}

    @tf.function(input_signature=[spec([2], tf.float32, "x")])
    def echo(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x + 1.0}


def make_zero_input() -> bytes:
    module = ZeroInput()
    return convert_functions(module, module.constant, module.echo, resource_variables=True)


# ---------------------------------------------------------------------- counter


class Counter(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        # One resource variable shared by all three signatures: state written by
        # one signature must be visible to the others in the same interpreter.
        self.count = tf.Variable(tf.constant(0, dtype=tf.int64), name="count")

    @tf.function(input_signature=[spec([], tf.int64, "delta")])
    def increment(self, delta: tf.Tensor) -> dict[str, tf.Tensor]:
        self.count.assign_add(delta)
        return {"count": self.count.read_value()}

    @tf.function(input_signature=[])
    def read(self) -> dict[str, tf.Tensor]:
        return {"count": self.count.read_value()}

    @tf.function(input_signature=[])
    def reset(self) -> dict[str, tf.Tensor]:
        self.count.assign(tf.constant(0, dtype=tf.int64))
        return {"count": self.count.read_value()}


def make_counter() -> bytes:
    module = Counter()
    return convert_functions(
        module, module.increment, module.read, module.reset, resource_variables=True
    )


# ------------------------------------------------------------------ accumulator


class Accumulator(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.total = tf.Variable(tf.zeros([4], tf.float32), name="total")

    # The output is the sum itself (an ADD), not a read of the variable afterwards:
    # LiteRT's compiled model cannot return raw variable reads.
    @tf.function(input_signature=[spec([None, 4], tf.float32, "x")])
    def add(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        total = self.total + tf.reduce_sum(x, axis=0)
        self.total.assign(total)
        return {"total": total}

    @tf.function(input_signature=[spec([], tf.float32, "factor")])
    def scaled(self, factor: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"value": self.total * factor}


def make_accumulator() -> bytes:
    module = Accumulator()
    return convert_functions(module, module.add, module.scaled, resource_variables=True)


# ---------------------------------------------------------------------- dynamic


class Dynamic(tf.Module):
    # Fully dynamic input shape; one scalar output and one output whose length
    # follows the input's first dimension.
    @tf.function(input_signature=[spec([None, None], tf.float32, "x")])
    def reduce(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"total": tf.reduce_sum(x), "row_sums": tf.reduce_sum(x, axis=1)}

    # The output length depends on the input *values*, so TFLite can only size
    # it during invoke (a dynamically allocated tensor).
    @tf.function(input_signature=[spec([None], tf.float32, "x")])
    def positives(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"values": tf.boolean_mask(x, x > 0)}


def make_dynamic() -> bytes:
    module = Dynamic()
    return convert_functions(module, module.reduce, module.positives)


# ------------------------------------------------------------------- arg_reduce


class ArgReduce(tf.Module):
    # The reduced axis is dynamic: resizing it to 0 would crash the runtime's ARG_MAX.
    @tf.function(input_signature=[spec([1, None], tf.float32, "x")])
    def over_dynamic_axis(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"index": tf.argmax(x, axis=1, output_type=tf.int32)}

    # An empty batch leaves the reduced axis whole: ARG_MIN runs fine on it.
    @tf.function(input_signature=[spec([None, 3], tf.float32, "x")])
    def over_fixed_axis(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"index": tf.argmin(x, axis=1, output_type=tf.int32)}


def make_arg_reduce() -> bytes:
    module = ArgReduce()
    return convert_functions(module, module.over_dynamic_axis, module.over_fixed_axis)


# ------------------------------------------------------------------- quantized


class TinyDense(tf.Module):
    """Dense(4) + relu on an [1, 8] input, weights from a fixed seed."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(SEED)
        self.kernel = tf.constant(rng.normal(0.0, 0.5, size=(8, 4)).astype(np.float32))
        self.bias = tf.constant(rng.normal(0.0, 0.1, size=(4,)).astype(np.float32))

    # Named serving_default so the single SignatureDef gets the usual key.
    @tf.function(input_signature=[spec([1, 8], tf.float32, "x")])
    def serving_default(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.nn.relu(tf.matmul(x, self.kernel) + self.bias)}


def representative_dataset() -> Iterator[list[np.ndarray]]:
    # Calibration data from its own fixed seed, so quantization parameters are
    # the same on every run.
    rng = np.random.default_rng(SEED + 1)
    for _ in range(100):
        yield [rng.uniform(-1.0, 1.0, size=(1, 8)).astype(np.float32)]


def make_quantized(io_type: tf.DType) -> bytes:
    module = TinyDense()
    concrete = module.serving_default.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = io_type
    converter.inference_output_type = io_type
    return bytes(converter.convert())


# ------------------------------------------------------------------------ types


class Types(tf.Module):
    @tf.function(input_signature=[spec([4], tf.bool, "a"), spec([4], tf.bool, "b")])
    def logical(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"and": tf.logical_and(a, b), "not_a": tf.logical_not(a)}

    @tf.function(input_signature=[spec([3], tf.int64, "x"), spec([3], tf.int64, "y")])
    def int64_add(self, x: tf.Tensor, y: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": x + y}

    # float16 input, float32 output via a builtin CAST.
    @tf.function(input_signature=[spec([4], tf.float16, "x")])
    def half(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.cast(x, tf.float32)}

    # String input and output: the builtin GATHER handles string tensors.
    @tf.function(input_signature=[spec([None], tf.string, "s"), spec([None], tf.int32, "i")])
    def strings(self, s: tf.Tensor, i: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"picked": tf.gather(s, i)}

    # Plain (not quantized) int8 / uint8 tensors in and out. Casts are used
    # because most builtin kernels want quantization parameters on such
    # tensors (tf.maximum(x, 0) / tf.minimum(u, 100) here were left as Flex ops).
    @tf.function(input_signature=[spec([4], tf.int8, "x"), spec([4], tf.uint8, "u")])
    def int8_ops(self, x: tf.Tensor, u: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "sum": tf.cast(x, tf.int32) + tf.cast(u, tf.int32),
            "x_as_uint8": tf.cast(x, tf.uint8),  # wraps: -1 -> 255
            "u_as_int8": tf.cast(u, tf.int8),  # wraps: 255 -> -1
        }


def make_types() -> bytes:
    module = Types()
    return convert_functions(
        module, module.logical, module.int64_add, module.half, module.strings, module.int8_ops
    )


# ------------------------------------------------------------------ no_signature


class TwoOutputs(tf.Module):
    @tf.function(input_signature=[spec([1, 3], tf.float32, "a"), spec([1, 3], tf.float32, "b")])
    def serving_default(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": a + b, "product": a * b}


def read_model(content: bytes) -> Any:
    """The flatbuffer as a mutable object tree (schema_py_generated's ModelT)."""
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(content))


def make_no_signature() -> bytes:
    module = TwoOutputs()
    model = read_model(convert_functions(module, module.serving_default))
    (signature,) = model.signatureDefs
    subgraph = model.subgraphs[signature.subgraphIndex]
    # The converter names the tensors ``serving_default_a:0``,
    # ``PartitionedCall:1``, ...; a runtime that synthesizes a signature from
    # the subgraph goes by tensor names, so give each tensor its signature name
    # and list the inputs/outputs in a fixed, readable order.
    index = {}
    for tensor_map in list(signature.inputs) + list(signature.outputs):
        subgraph.tensors[tensor_map.tensorIndex].name = tensor_map.name
        index[tensor_map.name.decode()] = tensor_map.tensorIndex
    assert sorted(index) == ["a", "b", "product", "sum"], index
    subgraph.inputs = [index["a"], index["b"]]
    subgraph.outputs = [index["sum"], index["product"]]
    # Without SignatureDefs, runtimes see only the subgraph's inputs/outputs.
    model.signatureDefs = []
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# --------------------------------------------------------------- mediapipe_style


class Detector(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(SEED + 7)
        self.stem = tf.constant(rng.standard_normal((3, 3, 3, 8)).astype(np.float32) * 0.3)
        self.boxes = tf.constant(rng.standard_normal((8, 4)).astype(np.float32) * 0.3)
        self.scores = tf.constant(rng.standard_normal((8, 1)).astype(np.float32) * 0.3)

    @tf.function(input_signature=[spec([1, 16, 16, 3], tf.float32, "input")])
    def detect(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.nn.relu(tf.nn.conv2d(image, self.stem, strides=2, padding="SAME"))
        cells = tf.reshape(features, [1, 64, 8])
        return {
            "regressors": tf.matmul(cells, self.boxes),
            "classificators": tf.matmul(cells, self.scores),
        }


def make_mediapipe_style() -> bytes:
    module = Detector()
    model = read_model(convert_functions(module, module.detect))
    (signature,) = model.signatureDefs
    subgraph = model.subgraphs[signature.subgraphIndex]
    # MediaPipe's files name their tensors plainly and carry no SignatureDefs.
    index = {}
    for tensor_map in list(signature.inputs) + list(signature.outputs):
        subgraph.tensors[tensor_map.tensorIndex].name = tensor_map.name
        index[tensor_map.name.decode()] = tensor_map.tensorIndex
    subgraph.inputs = [index["input"]]
    subgraph.outputs = [index["regressors"], index["classificators"]]
    model.signatureDefs = []
    # A metadata entry as MediaPipe's model maker adds (its content is opaque here).
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(b"pysig test metadata", dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = b"TFLITE_METADATA"
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# --------------------------------------------------------------------- custom_op


class Sine(tf.Module):
    @tf.function(input_signature=[spec([4], tf.float32, "x")])
    def serving_default(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.math.sin(x)}


def make_custom_op() -> bytes:
    module = Sine()
    model = read_model(convert_functions(module, module.serving_default))
    # Turn the SIN opcode into the custom op `PysigTestOp`. SIN has no builtin
    # options, so the operator needs no other change; the model stays valid but
    # needs an op that no resolver registers.
    (sin_code,) = [
        code for code in model.operatorCodes if code.builtinCode == schema.BuiltinOperator.SIN
    ]
    sin_code.builtinCode = schema.BuiltinOperator.CUSTOM
    sin_code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    sin_code.customCode = "PysigTestOp"
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# ------------------------------------------------------------------- keras_dense


def convert_keras(seed: int, layers: Callable[[], list[Any]]) -> bytes:
    """A Keras Sequential model of ``layers()``, its weights drawn after seeding with
    ``seed`` (so every run gives the same), converted as Keras users do (one
    ``serving_default`` signature)."""
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(layers())
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def make_keras_dense() -> bytes:
    # The model from the "Signatures in TensorFlow Lite" guide. With many seeds both
    # output weights come out negative and the final relu returns 0 for every input;
    # with this one about 2 in 3 random inputs give a non-zero output.
    return convert_keras(
        KERAS_SEED,
        lambda: [
            tf.keras.layers.Dense(2, input_dim=4, activation="relu", name="x"),
            tf.keras.layers.Dense(1, activation="relu", name="output"),
        ],
    )


# ------------------------------------------------------------------------ conv


def make_conv() -> bytes:
    layers = tf.keras.layers
    return convert_keras(
        SEED,
        lambda: [
            tf.keras.Input((32, 32, 3), name="image"),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6"),
            layers.DepthwiseConv2D(3, padding="same", activation="relu6"),
            layers.Conv2D(16, 1, activation="relu6"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(4, activation="softmax", name="scores"),
        ],
    )


# ------------------------------------------------------------- flex_encode_decode


class EncodeDecode(tf.Module):
    # tf.strings.as_string / to_number have no builtin TFLite kernels, so the
    # converter emits Flex ops; tflite-runtime has no Flex delegate.
    @tf.function(input_signature=[spec([None], tf.float32, "x")])
    def encode(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"encoded_result": tf.strings.as_string(x)}

    @tf.function(input_signature=[spec([None], tf.string, "x")])
    def decode(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"decoded_result": tf.strings.to_number(x)}


def sort_flex_node_attrs(model: Any) -> None:
    """Re-serialize each Flex op's NodeDef with its attributes in key order.

    A Flex op's custom options are a FlexBuffer vector [op name, serialized
    NodeDef]. The converter writes the NodeDef's attr map in hash order, which
    changes from run to run; sorting it makes the file reproducible. Same
    content, so the same length: the bytes are swapped in place.
    """
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if not (code.customCode or b"").startswith(b"Flex"):
                continue
            options = bytes(op.customOptions)
            node_bytes = flexbuffers.GetRoot(options).AsVector[1].AsStringBytes
            node = node_def_pb2.NodeDef.FromString(node_bytes)
            canonical = node.SerializeToString(deterministic=True)
            assert len(canonical) == len(node_bytes)
            assert options.count(node_bytes) == 1
            op.customOptions = np.frombuffer(options.replace(node_bytes, canonical), np.uint8)


def make_flex_encode_decode() -> bytes:
    module = EncodeDecode()
    model = read_model(
        convert_functions(
            module,
            module.encode,
            module.decode,
            supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS],
        )
    )
    sort_flex_node_attrs(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# -------------------------------------------------------------------------- slow


SLOW_SIZE = 256
SLOW_STEPS = 200


class Slow(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        # One shared weight: every step reuses the same constant, so the file
        # holds it once (256 KiB) however many steps there are. Scaled so tanh
        # stays out of saturation and the values remain meaningful.
        rng = np.random.default_rng(SEED + 2)
        weight = rng.normal(0.0, 1.0 / np.sqrt(SLOW_SIZE), size=(SLOW_SIZE, SLOW_SIZE))
        self.weight = tf.constant(weight.astype(np.float32))

    # A long chain of separate nodes (no tf.while_loop): the interpreter checks
    # for cancellation between nodes, so a cancel lands mid-invoke.
    @tf.function(input_signature=[spec([SLOW_SIZE, SLOW_SIZE], tf.float32, "x")])
    def serving_default(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        for _ in range(SLOW_STEPS):
            x = tf.tanh(tf.matmul(x, self.weight))
        return {"y": x}


def make_slow() -> bytes:
    module = Slow()
    return convert_functions(module, module.serving_default)


# -------------------------------------------------------------- half_plus_three

# Signature keys as TF Serving's REST guide names them; Python names cannot hold "/".
HALF_PLUS_THREE_KEYS = {
    "regress": "tensorflow/serving/regress",
    "classify": "tensorflow/serving/classify",
}
CLASS_LABELS = ["cat", "dog", "bird"]


class HalfPlusThree(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weights = tf.constant([[1.0, -1.0, 0.5], [0.25, 2.0, -0.75]], tf.float32)
        self.labels = tf.constant(CLASS_LABELS)

    @tf.function(input_signature=[spec([None], tf.float32, "x")])
    def serving_default(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x * 0.5 + 3.0}

    @tf.function(input_signature=[spec([None], tf.float32, "x")])
    def regress(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": x * 0.5 + 3.0}

    @tf.function(input_signature=[spec([None, 2], tf.float32, "x")])
    def classify(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        best = tf.math.top_k(tf.nn.softmax(x @ self.weights), k=len(CLASS_LABELS))
        return {"scores": best.values, "classes": tf.gather(self.labels, best.indices)}

    @tf.function(input_signature=[spec([None, 2], tf.float32, "x")])
    def classify_scores(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": tf.nn.softmax(x @ self.weights)}


def make_half_plus_three() -> bytes:
    module = HalfPlusThree()
    model = read_model(
        convert_functions(
            module,
            module.serving_default,
            module.regress,
            module.classify,
            module.classify_scores,
        )
    )
    for signature in model.signatureDefs:
        key = signature.signatureKey.decode()
        signature.signatureKey = HALF_PLUS_THREE_KEYS.get(key, key).encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# ------------------------------------------------------------- image_classifier


IMAGE_SIZE = 96
IMAGE_CLASSES = 10


class ImageClassifier(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        tf.keras.utils.set_random_seed(KERAS_SEED)
        layers = tf.keras.layers
        # MobileNetV2's building blocks at a fraction of its width and depth.
        self.net = tf.keras.Sequential(
            [
                layers.Conv2D(8, 3, strides=2, padding="same"),
                layers.ReLU(6.0),
                layers.DepthwiseConv2D(3, padding="same"),
                layers.ReLU(6.0),
                layers.Conv2D(16, 1),
                layers.ReLU(6.0),
                layers.GlobalAveragePooling2D(),
                layers.Dense(IMAGE_CLASSES, activation="softmax"),
            ]
        )
        self.net.build((None, IMAGE_SIZE, IMAGE_SIZE, 3))

    @tf.function(input_signature=[spec([1, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, "image")])
    def classify(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": self.net(image)}

    @tf.function(input_signature=[spec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, "image")])
    def classify_any(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": self.net(image)}


def make_image_classifier() -> bytes:
    module = ImageClassifier()
    return convert_functions(module, module.classify, module.classify_any)


# -------------------------------------------------------------------------- main


TEST_MODELS: dict[str, Callable[[], bytes]] = {
    "multi_signature": make_multi_signature,
    "zero_input": make_zero_input,
    "counter": make_counter,
    "accumulator": make_accumulator,
    "dynamic": make_dynamic,
    "arg_reduce": make_arg_reduce,
    "quant_int8": lambda: make_quantized(tf.int8),
    "quant_uint8": lambda: make_quantized(tf.uint8),
    "types": make_types,
    "no_signature": make_no_signature,
    "mediapipe_style": make_mediapipe_style,
    "custom_op": make_custom_op,
    "keras_dense": make_keras_dense,
    "flex_encode_decode": make_flex_encode_decode,
    "slow": make_slow,
    "conv": make_conv,
    "half_plus_three": make_half_plus_three,
    "image_classifier": make_image_classifier,
}


def write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    print(f"wrote {path} ({len(content)} bytes)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "tests" / "models",
        help="where the test models go (default: tests/models in the repository)",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"models to write (default: demo and all of {', '.join(TEST_MODELS)})",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - {"demo", *TEST_MODELS})
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}")

    if not args.names or "demo" in args.names:
        write(DEMO_PATH, make_demo())
    for name, make in TEST_MODELS.items():
        if not args.names or name in args.names:
            # Keras numbers the layers it names (sequential_1...) per process, and the
            # names end up in the file: each model starts from a clean slate, as alone.
            tf.keras.backend.clear_session()
            write(args.out_dir / f"{name}.tflite", make())


if __name__ == "__main__":
    main()
