"""What a model file says about itself: signatures, tensors, subgraphs, operators, metadata.

Everything here is read from the flatbuffer with pysig's own reader (after the
verifier has checked it), so it needs no runtime and works on models that no
installed runtime can run. Tensor details come in tf.lite's format, equal to
what tflite_runtime reports for the same tensors before any resize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from ..runtime.flex import flex_usable
from ..runtime.ops import RUNTIME_OPS, installed_runtimes
from . import schema
from .flatbuffer import Buffer, Table

SYNTHESIZED_KEY = "serving_default"

# TensorType -> the numpy type tf.lite's details give as "dtype".
_NUMPY_TYPES: dict[int, type[Any]] = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    5: np.bytes_,
    6: np.bool_,
    7: np.int16,
    8: np.complex64,
    9: np.int8,
    10: np.float64,
    11: np.complex128,
    12: np.uint64,
    13: np.object_,  # resource
    14: np.object_,  # variant
    15: np.uint32,
    16: np.uint16,
    17: np.int8,  # int4, unpacked to one value per byte by the runtime
}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as the file declares it; ``details()`` gives tf.lite's dict."""

    index: int
    name: str
    dtype: type[Any]
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    quantized_dimension: int = 0
    # The sparsity table as tf.lite reports it, in plain tuples: (traversal_order,
    # block_map, per level (format, dense_size) or (format, segments, indices)).
    sparsity: tuple[Any, ...] | None = field(default=None, repr=False)

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> TensorSpec:
        """The spec a runtime's tf.lite-format details describe (for interpreters whose
        model bytes are out of reach)."""
        params = details["quantization_parameters"]
        sparsity = details["sparsity_parameters"]
        return cls(
            int(details["index"]),
            str(details["name"]),
            details["dtype"],
            tuple(int(d) for d in details["shape"]),
            tuple(int(d) for d in details["shape_signature"]),
            tuple(float(s) for s in params["scales"]),
            tuple(int(z) for z in params["zero_points"]),
            int(params["quantized_dimension"]),
            _sparsity_from_details(sparsity) if sparsity else None,
        )

    @property
    def quantization(self) -> tuple[float, int]:
        """tf.lite's deprecated (scale, zero_point): set for per-tensor quantization only."""
        if len(self.scales) == 1 and len(self.zero_points) == 1:
            return (self.scales[0], self.zero_points[0])
        return (0.0, 0)

    @property
    def quantization_parameters(self) -> dict[str, Any]:
        return {
            "scales": np.array(self.scales, dtype=np.float32),
            "zero_points": np.array(self.zero_points, dtype=np.int32),
            "quantized_dimension": self.quantized_dimension,
        }

    @property
    def sparsity_parameters(self) -> dict[str, Any]:
        if self.sparsity is None:
            return {}
        traversal_order, block_map, levels = self.sparsity
        dim_metadata = []
        for level in levels:
            if level[0] == schema.DIM_DENSE:
                dim_metadata.append({"format": level[0], "dense_size": level[1]})
            else:
                dim_metadata.append(
                    {
                        "format": level[0],
                        "array_segments": np.array(level[1], dtype=np.int32),
                        "array_indices": np.array(level[2], dtype=np.int32),
                    }
                )
        return {
            "traversal_order": np.array(traversal_order, dtype=np.int32),
            "block_map": np.array(block_map, dtype=np.int32),
            "dim_metadata": dim_metadata,
        }

    def details(self, shape: Sequence[int] | None = None) -> dict[str, Any]:
        """tf.lite's tensor details; ``shape`` is the tensor's current shape, if resized."""
        return {
            "name": self.name,
            "index": self.index,
            "shape": np.array(self.shape if shape is None else shape, dtype=np.int32),
            "shape_signature": np.array(self.shape_signature, dtype=np.int32),
            "dtype": self.dtype,
            "quantization": self.quantization,
            "quantization_parameters": self.quantization_parameters,
            "sparsity_parameters": self.sparsity_parameters,
        }


@dataclass(frozen=True)
class SignatureSpec:
    """A signature: its names, in the order tflite_runtime reports them, and their tensors.

    ``synthesized`` marks the ``serving_default`` signature pysig makes for a
    model without SignatureDefs, from its main subgraph.
    """

    key: str
    subgraph_index: int
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    synthesized: bool = False


@dataclass(frozen=True)
class SubgraphSpec:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tensor_count: int
    operator_count: int


@dataclass(frozen=True)
class OperatorUse:
    """An operator the model uses: a builtin (``custom`` False) or a custom op by its name."""

    name: str
    custom: bool
    count: int

    @property
    def flex(self) -> bool:
        """A TensorFlow op, run by the Flex delegate (custom ops named ``Flex...``)."""
        return self.custom and self.name.startswith("Flex")


@dataclass(frozen=True)
class MetadataEntry:
    name: str
    buffer_index: int
    size: int  # bytes


class ModelFile:
    """A parsed, verified model file. Get one from :func:`inspect_model` or ``read_model``."""

    def __init__(self, content: bytes) -> None:
        self._buffer = Buffer(content)
        self._model = self._buffer.root("model")
        self._subgraph_tables = _tables(self._model, schema.MODEL_SUBGRAPHS)
        # Tensors are read when asked for: loading a model needs its signatures' only.
        self._tensor_vectors = [
            table.vector(schema.SUBGRAPH_TENSORS, 4, "tensors") for table in self._subgraph_tables
        ]
        self._tensors: dict[tuple[int, int], TensorSpec] = {}
        self.subgraphs: tuple[SubgraphSpec, ...] = tuple(
            self._subgraph(index, table) for index, table in enumerate(self._subgraph_tables)
        )
        self.signatures: dict[str, SignatureSpec] = self._signatures()

    @cached_property
    def operators(self) -> tuple[OperatorUse, ...]:
        """Each operator the model uses, with how many times, over all subgraphs."""
        return self._operators()

    @cached_property
    def metadata(self) -> tuple[MetadataEntry, ...]:
        return self._metadata()

    @cached_property
    def _buffer_tables(self) -> list[Table]:
        return _tables(self._model, schema.MODEL_BUFFERS)

    @property
    def content(self) -> bytes:
        return self._buffer.data

    @property
    def description(self) -> str:
        text = self._model.string(schema.MODEL_DESCRIPTION, "description") or b""
        return text.decode("utf-8", "replace")

    def missing_ops(self, runtime: str) -> tuple[OperatorUse, ...]:
        """The operators ``runtime`` ("tflite" or "litert") cannot run."""
        provided = RUNTIME_OPS[runtime].custom_ops
        flex = runtime == "tflite" and flex_usable()
        return tuple(
            op
            for op in self.operators
            if op.custom and op.name not in provided and not (flex and op.flex)
        )

    def missing_ops_by_runtime(self) -> dict[str, tuple[OperatorUse, ...]]:
        """For each installed runtime, the operators of this model it cannot run."""
        return {runtime: self.missing_ops(runtime) for runtime in installed_runtimes()}

    def tensors(self, subgraph_index: int = 0) -> list[TensorSpec]:
        """Every tensor of a subgraph, in index order."""
        count = self.subgraphs[subgraph_index].tensor_count
        return [self.tensor(subgraph_index, i) for i in range(count)]

    def tensor(self, subgraph_index: int, tensor_index: int) -> TensorSpec:
        key = (subgraph_index, tensor_index)
        spec = self._tensors.get(key)
        if spec is None:
            vector = self._tensor_vectors[subgraph_index]
            if vector is None or not 0 <= tensor_index < len(vector):
                raise IndexError(f"subgraph {subgraph_index} has no tensor {tensor_index}")
            spec = self._tensors[key] = _tensor(tensor_index, vector.table(tensor_index))
        return spec

    def metadata_value(self, name: str) -> bytes:
        """The bytes of the metadata entry ``name`` (KeyError if the model has none)."""
        for entry in self.metadata:
            if entry.name == name:
                return self._buffer_bytes(entry.buffer_index)
        raise KeyError(name)

    def _buffer_bytes(self, index: int) -> bytes:
        table = self._buffer_tables[index]
        data = table.vector(schema.BUFFER_DATA, 1, "data")
        if data is not None and data.length:
            return self._buffer.data[data.start : data.start + data.length]
        offset = int(table.scalar(schema.BUFFER_OFFSET, "Q"))
        size = int(table.scalar(schema.BUFFER_SIZE, "Q"))
        return self._buffer.data[offset : offset + size] if offset > 1 else b""

    def _buffer_size(self, index: int) -> int:
        table = self._buffer_tables[index]
        data = table.vector(schema.BUFFER_DATA, 1, "data")
        if data is not None and data.length:
            return data.length
        offset = int(table.scalar(schema.BUFFER_OFFSET, "Q"))
        return int(table.scalar(schema.BUFFER_SIZE, "Q")) if offset > 1 else 0

    def _subgraph(self, index: int, table: Table) -> SubgraphSpec:
        tensors = table.vector(schema.SUBGRAPH_TENSORS, 4, "tensors")
        operators = table.vector(schema.SUBGRAPH_OPERATORS, 4, "operators")
        return SubgraphSpec(
            index,
            _text(table.string(schema.SUBGRAPH_NAME, "name")),
            _indices(table, schema.SUBGRAPH_INPUTS),
            _indices(table, schema.SUBGRAPH_OUTPUTS),
            len(tensors) if tensors is not None else 0,
            len(operators) if operators is not None else 0,
        )

    def _operators(self) -> tuple[OperatorUse, ...]:
        codes = []
        for opcode in _tables(self._model, schema.MODEL_OPERATOR_CODES):
            deprecated = int(opcode.scalar(schema.OPCODE_DEPRECATED_BUILTIN, "b"))
            code = max(int(opcode.scalar(schema.OPCODE_BUILTIN, "i")), deprecated)
            if code == schema.OP_CUSTOM:
                codes.append((_text(opcode.string(schema.OPCODE_CUSTOM_CODE, "custom")), True))
            else:
                codes.append((schema.BUILTIN_OPERATOR_NAMES[code], False))
        counts: dict[tuple[str, bool], int] = {}
        for subgraph in self._subgraph_tables:
            for operator in _tables(subgraph, schema.SUBGRAPH_OPERATORS):
                use = codes[int(operator.scalar(schema.OP_OPCODE_INDEX, "I"))]
                counts[use] = counts.get(use, 0) + 1
        return tuple(OperatorUse(name, custom, n) for (name, custom), n in counts.items())

    def _metadata(self) -> tuple[MetadataEntry, ...]:
        entries = []
        for table in _tables(self._model, schema.MODEL_METADATA):
            index = int(table.scalar(schema.METADATA_BUFFER, "I"))
            name = _text(table.string(schema.METADATA_NAME, "name"))
            entries.append(MetadataEntry(name, index, self._buffer_size(index)))
        return tuple(entries)

    def _signatures(self) -> dict[str, SignatureSpec]:
        tables = _tables(self._model, schema.MODEL_SIGNATURE_DEFS)
        if not tables:
            return {SYNTHESIZED_KEY: self.synthesized_signature()}
        # As tflite_runtime reports them: keys in file order (the first of a repeated
        # key gives its subgraph, the last its names), names in byte order (a std::map).
        subgraphs: dict[str, int] = {}
        maps: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        for table in tables:
            key = _text(table.string(schema.SIGNATURE_KEY, "signature_key"))
            subgraphs.setdefault(key, int(table.scalar(schema.SIGNATURE_SUBGRAPH, "I")))
            maps[key] = (
                _tensor_map(table, schema.SIGNATURE_INPUTS),
                _tensor_map(table, schema.SIGNATURE_OUTPUTS),
            )
        return {
            key: SignatureSpec(
                key,
                subgraph,
                self._named(subgraph, maps[key][0]),
                self._named(subgraph, maps[key][1]),
            )
            for key, subgraph in subgraphs.items()
        }

    def synthesized_signature(self) -> SignatureSpec:
        """The ``serving_default`` signature pysig gives the main subgraph of a model
        without SignatureDefs (whether or not this one has some)."""
        main = self.subgraphs[0]
        tensors = {i: self.tensor(0, i) for i in (*main.inputs, *main.outputs)}
        inputs = unique_names([tensors[i].name for i in main.inputs], "input")
        outputs = unique_names([tensors[i].name for i in main.outputs], "output")
        return SignatureSpec(
            SYNTHESIZED_KEY,
            0,
            {name: tensors[i] for name, i in zip(inputs, main.inputs)},
            {name: tensors[i] for name, i in zip(outputs, main.outputs)},
            synthesized=True,
        )

    def _named(self, subgraph: int, names: Mapping[str, int]) -> dict[str, TensorSpec]:
        ordered = sorted(names, key=lambda name: name.encode("utf-8"))
        return {name: self.tensor(subgraph, names[name]) for name in ordered}


def unique_names(names: Sequence[str], kind: str) -> list[str]:
    """Tensor names as signature names; a missing or repeated one becomes ``<kind>_<i>``."""
    return [
        name if name and names.count(name) == 1 else f"{kind}_{i}" for i, name in enumerate(names)
    ]


def _text(value: bytes | None) -> str:
    """A name as the runtime reads it: a C string, so up to its first NUL."""
    if value is None:
        return ""
    return value.split(b"\0", 1)[0].decode("utf-8")


def _tables(table: Table, slot: int) -> list[Table]:
    vector = table.vector(slot, 4, "tables")
    return [vector.table(i) for i in range(len(vector))] if vector is not None else []


def _indices(table: Table, slot: int) -> tuple[int, ...]:
    vector = table.vector(slot, 4, "indices")
    return tuple(vector.scalars("i")) if vector is not None else ()


def _tensor_map(signature: Table, slot: int) -> dict[str, int]:
    result: dict[str, int] = {}
    for entry in _tables(signature, slot):
        name = _text(entry.string(schema.TENSOR_MAP_NAME, "name"))
        result[name] = int(entry.scalar(schema.TENSOR_MAP_INDEX, "I"))
    return result


def _tensor(index: int, table: Table) -> TensorSpec:
    shape = _indices(table, schema.TENSOR_SHAPE)
    signature = _indices(table, schema.TENSOR_SHAPE_SIGNATURE)
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    dimension = 0
    quantization = table.table(schema.TENSOR_QUANTIZATION, "quantization")
    if quantization is not None:
        scale_vector = quantization.vector(schema.QUANT_SCALE, 4, "scale")
        if scale_vector is not None and len(scale_vector):
            scales = tuple(float(s) for s in scale_vector.scalars("f"))
            zero_vector = quantization.vector(schema.QUANT_ZERO_POINT, 8, "zero_point")
            # The runtime keeps zero points as int32.
            zero_points = tuple(
                int(np.int64(z).astype(np.int32))
                for z in zero_vector.scalars("q")  # type: ignore[union-attr]
            )
            dimension = int(quantization.scalar(schema.QUANT_DIMENSION, "i"))
    return TensorSpec(
        index,
        _text(table.string(schema.TENSOR_NAME, "name")),
        _NUMPY_TYPES[int(table.scalar(schema.TENSOR_TYPE, "b"))],
        shape,
        signature or shape,
        scales,
        zero_points,
        dimension,
        _sparsity(table),
    )


def _sparsity(tensor: Table) -> tuple[Any, ...] | None:
    sparsity = tensor.table(schema.TENSOR_SPARSITY, "sparsity")
    if sparsity is None:
        return None
    levels: list[tuple[Any, ...]] = []
    for metadata in _tables(sparsity, schema.SPARSITY_DIM_METADATA):
        kind = int(metadata.scalar(schema.DIM_FORMAT, "b"))
        if kind == schema.DIM_DENSE:
            levels.append((kind, int(metadata.scalar(schema.DIM_DENSE_SIZE, "i"))))
        else:
            levels.append(
                (
                    kind,
                    _index_values(metadata, schema.DIM_SEGMENTS_TYPE),
                    _index_values(metadata, schema.DIM_INDICES_TYPE),
                )
            )
    return (
        _indices(sparsity, schema.SPARSITY_TRAVERSAL_ORDER),
        _indices(sparsity, schema.SPARSITY_BLOCK_MAP),
        tuple(levels),
    )


def _sparsity_from_details(sparsity: Mapping[str, Any]) -> tuple[Any, ...]:
    levels = tuple(
        (level["format"], level["dense_size"])
        if level["format"] == schema.DIM_DENSE
        else (
            level["format"],
            tuple(int(i) for i in level["array_segments"]),
            tuple(int(i) for i in level["array_indices"]),
        )
        for level in sparsity["dim_metadata"]
    )
    return (
        tuple(int(i) for i in sparsity["traversal_order"]),
        tuple(int(i) for i in sparsity["block_map"]),
        levels,
    )


def _index_values(metadata: Table, type_slot: int) -> tuple[int, ...]:
    code, size = schema.SPARSE_INDEX_VECTORS[int(metadata.scalar(type_slot, "B"))]
    table = metadata.table(type_slot + 1, "index vector")
    values = table.vector(0, size, "values") if table is not None else None
    return tuple(values.scalars(code)) if values is not None else ()
