"""What a served model's signatures look like to clients: TF Serving's TensorInfo, method names,
shape checks and whether a signature can be batched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from ..pool import Pool
from .errors import InvalidArgument, NotFound

DEFAULT_SIGNATURE = "serving_default"
PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

# TensorFlow's DataType names (types.proto) for the numpy dtypes TFLite tensors have.
_TF_DTYPES = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "float16": "DT_HALF",
    "int8": "DT_INT8",
    "int16": "DT_INT16",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "uint8": "DT_UINT8",
    "uint16": "DT_UINT16",
    "uint32": "DT_UINT32",
    "uint64": "DT_UINT64",
    "bool": "DT_BOOL",
    "complex64": "DT_COMPLEX64",
    "complex128": "DT_COMPLEX128",
    "object": "DT_STRING",
}


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a signature: its dtype and shape signature (-1: any size)."""

    tensor_name: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]

    @property
    def is_string(self) -> bool:
        return self.dtype == np.dtype(object)

    @property
    def tf_dtype(self) -> str:
        return _TF_DTYPES.get(self.dtype.name, "DT_INVALID")

    def tensor_info(self) -> dict[str, Any]:
        return {
            "dtype": self.tf_dtype,
            "tensor_shape": {
                "dim": [{"size": str(size), "name": ""} for size in self.shape],
                "unknown_rank": False,
            },
            "name": self.tensor_name,
        }


@dataclass(frozen=True)
class SignatureSpec:
    key: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

    @property
    def method_name(self) -> str:
        """Which TF Serving API the signature is shaped for, by its output names as the
        SignatureDefs guide prescribes (classify: ``classes`` and/or ``scores``; regress:
        one ``outputs``); the others are predict signatures. Any signature serves predict."""
        names = set(self.outputs)
        if self.inputs and names and names <= {"classes", "scores"}:
            return CLASSIFY
        if self.inputs and names == {"outputs"}:
            return REGRESS
        return PREDICT

    @property
    def batchable(self) -> bool:
        """Whether calls can be merged along the first dimension: every input and output
        has a first dimension of any size."""
        tensors = list(self.inputs.values()) + list(self.outputs.values())
        return bool(self.inputs) and all(t.shape[:1] == (-1,) for t in tensors)

    def check_shapes(self, inputs: Mapping[str, NDArray[Any]]) -> None:
        """Refuse shapes the signature does not declare: the rank, and every dimension that
        is not -1 in the shape signature, must match."""
        for name, value in inputs.items():
            expected = self.inputs[name].shape
            if value.shape == expected:
                continue
            if len(value.shape) != len(expected) or any(
                want not in (-1, got) for want, got in zip(expected, value.shape)
            ):
                raise InvalidArgument(
                    f"input {name!r} of signature {self.key!r} has shape {list(value.shape)}, but "
                    f"the signature declares {list(expected)} (-1: any size)"
                )

    def signature_def(self) -> dict[str, Any]:
        return {
            "inputs": {name: spec.tensor_info() for name, spec in self.inputs.items()},
            "outputs": {name: spec.tensor_info() for name, spec in self.outputs.items()},
            "method_name": self.method_name,
            "defaults": {},
        }


def signature_specs(pool: Pool) -> dict[str, SignatureSpec]:
    """The signatures of a pool's model, inputs and outputs in the model's order."""
    specs = {}
    for key, names in pool.get_signature_list().items():
        inputs = pool.get_input_details(key)
        outputs = pool.get_output_details(key)
        specs[key] = SignatureSpec(
            key,
            {name: _spec(inputs[name]) for name in names["inputs"]},
            {name: _spec(outputs[name]) for name in names["outputs"]},
        )
    return specs


def _spec(details: Mapping[str, Any]) -> TensorSpec:
    dtype = np.dtype(details["dtype"])
    if dtype.kind in "SU":
        dtype = np.dtype(object)  # strings: pysig takes and gives object arrays of bytes
    shape = tuple(int(d) for d in details.get("shape_signature", details["shape"]))
    return TensorSpec(str(details["name"]), dtype, shape)


def choose_signature(specs: Mapping[str, SignatureSpec], name: Any) -> SignatureSpec:
    """The signature a request names; without a name ``serving_default``, or the only one."""
    if name is None or name == "":
        if DEFAULT_SIGNATURE in specs:
            return specs[DEFAULT_SIGNATURE]
        if len(specs) == 1:
            return next(iter(specs.values()))
        name = DEFAULT_SIGNATURE
    spec = specs.get(name)
    if spec is None:
        raise NotFound(
            f'Serving signature name: "{name}" not found in signature def (the model has: '
            f"{', '.join(map(repr, specs))})"
        )
    return spec


def metadata(model: str, version: int, specs: Mapping[str, SignatureSpec]) -> dict[str, Any]:
    """TF Serving's GetModelMetadataResponse, as its REST API writes it."""
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(version)},
        "metadata": {
            "signature_def": {
                "signature_def": {key: spec.signature_def() for key, spec in specs.items()}
            }
        },
    }
