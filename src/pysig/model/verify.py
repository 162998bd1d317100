"""Verifying a TensorFlow Lite model before the runtime sees it.

tflite-runtime 2.14 trusts the model: damaged files (truncated, bit-flipped)
take the process down while it builds the interpreter or runs it. So every
model pysig loads, from a path or from bytes, is checked here first: the
flatbuffer's structure (every offset, vtable, vector and string lies inside
the buffer) and the meaning of what the runtime dereferences (every index in
range, shapes and types sane, constant data the size the runtime will assume;
the graph-level rules are in graph.py). It reads the model's tables,
never walks constant data, and takes a few milliseconds for a MobileNet-sized
model (about 3 ms for MobileNetV2 here).
"""

from __future__ import annotations

from typing import Sequence

from ..errors import ModelLoadError
from . import schema
from .flatbuffer import Buffer, FlatbufferError, Table, Vector
from .graph import (
    GraphFacts,
    InvalidModel,
    OperatorInfo,
    SubgraphInfo,
    TensorInfo,
    arg_reductions,
    check_graphs,
)
from .value_sized import value_sized

# A tensor larger than this (2 GiB) is refused rather than allocated.
MAX_TENSOR_BYTES = (1 << 31) - 1
MAX_RANK = 64
# Unsigned offsets above this ("> 1" in the schema) locate data outside the flatbuffer.
_EXTERNAL_OFFSET_MIN = 2
OPTIONAL_TENSOR = -1


def verify_model(content: bytes, source: str) -> GraphFacts:
    """Raise ModelLoadError naming ``source`` unless ``content`` is a sound TFLite model.

    Returns facts of each subgraph for the runners: its ARG_MAX / ARG_MIN operators (for
    the shape check) and the tensors whose sizes depend on the input values.
    """
    try:
        return _ModelVerifier(content).verify()
    except (FlatbufferError, InvalidModel) as error:
        raise ModelLoadError(f"{source} is not a valid TensorFlow Lite model: {error}") from None


class _ModelVerifier:
    def __init__(self, content: bytes) -> None:
        self.content = content
        self.buffer = Buffer(content)
        self.buffer_sizes: list[int | None] = []  # bytes of constant data, None: none
        self.buffer_data: list[Vector | None] = []  # the data when inside the flatbuffer

    def verify(self) -> GraphFacts:
        if self.buffer.size < 8:
            raise InvalidModel(f"{self.buffer.size} bytes is too short for a flatbuffer")
        model = self.buffer.root("model")
        version = model.scalar(schema.MODEL_VERSION, "I")
        if version != schema.SCHEMA_VERSION:
            raise InvalidModel(
                f"schema version {version}; the runtime reads version {schema.SCHEMA_VERSION}"
            )
        opcodes = self._opcodes(model)
        self._buffers(model)
        subgraphs = self._required(model, schema.MODEL_SUBGRAPHS, 4, "model.subgraphs")
        if not len(subgraphs):
            raise InvalidModel("the model has no subgraphs")
        infos = [
            self._subgraph(subgraphs.table(index), index, opcodes, len(subgraphs))
            for index in range(len(subgraphs))
        ]
        check_graphs(infos)
        self._metadata(model)
        self._signatures(model, infos)
        return GraphFacts(arg_reductions(infos), value_sized(infos))

    def _required(self, table: Table, slot: int, element_size: int, name: str) -> Vector:
        vector = table.vector(slot, element_size, name.rsplit(".", 1)[-1])
        if vector is None:
            raise InvalidModel(f"{name} is missing")
        return vector

    def _opcodes(self, model: Table) -> list[int]:
        """Each operator code's builtin operator, as the runtime derives it."""
        vector = model.vector(schema.MODEL_OPERATOR_CODES, 4, "operator_codes")
        codes = []
        for index in range(len(vector) if vector is not None else 0):
            opcode = vector.table(index)  # type: ignore[union-attr]
            deprecated = int(opcode.scalar(schema.OPCODE_DEPRECATED_BUILTIN, "b"))
            code = max(int(opcode.scalar(schema.OPCODE_BUILTIN, "i")), deprecated)
            if not 0 <= code <= schema.LAST_BUILTIN_OPERATOR:
                raise InvalidModel(f"operator code {index}: unknown builtin operator {code}")
            custom = opcode.string(schema.OPCODE_CUSTOM_CODE, "custom_code")
            _text(custom, f"operator code {index}: its custom code")
            if code == schema.OP_CUSTOM and custom is None:
                raise InvalidModel(f"operator code {index}: a custom operator without a name")
            codes.append(code)
        return codes

    def _buffers(self, model: Table) -> None:
        buffers = self._required(model, schema.MODEL_BUFFERS, 4, "model.buffers")
        for index in range(len(buffers)):
            table = buffers.table(index)
            data = table.vector(schema.BUFFER_DATA, 1, "data")
            size: int | None = None
            if data is not None and data.length:
                size = data.length
            else:
                data = None
                offset = int(table.scalar(schema.BUFFER_OFFSET, "Q"))
                length = int(table.scalar(schema.BUFFER_SIZE, "Q"))
                if offset >= _EXTERNAL_OFFSET_MIN and length:
                    self._external(offset, length, f"buffer {index}")
                    size = length
            self.buffer_sizes.append(size)
            self.buffer_data.append(data)

    def _external(self, offset: int, length: int, what: str) -> None:
        if offset + length > self.buffer.size:
            raise InvalidModel(
                f"{what}: its data at bytes {offset}..{offset + length} lies outside the "
                f"{self.buffer.size}-byte model"
            )

    def _subgraph(
        self, subgraph: Table, index: int, opcodes: Sequence[int], subgraph_count: int
    ) -> SubgraphInfo:
        where = f"subgraph {index}"
        _text(subgraph.string(schema.SUBGRAPH_NAME, "name"), f"{where}: its name")
        tensor_vector = self._required(subgraph, schema.SUBGRAPH_TENSORS, 4, f"{where}.tensors")
        tensors = [
            self._tensor(tensor_vector.table(i), f"{where}, tensor {i}")
            for i in range(len(tensor_vector))
        ]
        count = len(tensors)
        inputs = self._indices(subgraph, schema.SUBGRAPH_INPUTS, f"{where}.inputs", count, False)
        self._indices(subgraph, schema.SUBGRAPH_OUTPUTS, f"{where}.outputs", count, False)
        for tensor in inputs:
            if tensors[tensor].constant:
                raise InvalidModel(f"{where}: input tensor {tensor} holds constant data")
        operators = self._required(subgraph, schema.SUBGRAPH_OPERATORS, 4, f"{where}.operators")
        return SubgraphInfo(
            tensors,
            inputs,
            [
                self._operator(
                    operators.table(i), f"{where}, operator {i}", opcodes, tensors, subgraph_count
                )
                for i in range(len(operators))
            ],
        )

    def _indices(
        self, table: Table, slot: int, name: str, count: int, optional: bool
    ) -> tuple[int, ...]:
        """A required vector of tensor indices, each checked against ``count`` tensors."""
        indices = self._required(table, slot, 4, name).scalars("i")
        for index in indices:
            _check_index(index, count, name, optional=optional)
        return indices

    def _tensor(self, tensor: Table, where: str) -> TensorInfo:
        shape_vector = tensor.vector(schema.TENSOR_SHAPE, 4, "shape")
        shape = shape_vector.scalars("i") if shape_vector is not None else ()
        if len(shape) > MAX_RANK:
            raise InvalidModel(f"{where}: rank {len(shape)} exceeds {MAX_RANK}")
        if any(d < 0 for d in shape):
            raise InvalidModel(f"{where}: negative dimension in shape {list(shape)}")
        tensor_type = int(tensor.scalar(schema.TENSOR_TYPE, "b"))
        if tensor_type not in schema.ELEMENT_SIZES:
            raise InvalidModel(f"{where}: unknown tensor type {tensor_type}")
        element_size = schema.ELEMENT_SIZES[tensor_type]
        elements = extent = 1
        for dim in shape:
            elements *= dim
            extent *= max(dim, 1)
        # A zero dimension empties the tensor, but not the arrays made from its shape.
        if extent * (element_size or 1) > MAX_TENSOR_BYTES:
            raise InvalidModel(f"{where}: shape {list(shape)} is larger than 2 GiB")
        dynamic = self._shape_signature(tensor, shape, where)
        _text(tensor.string(schema.TENSOR_NAME, "name"), f"{where}: its name")
        self._quantization(tensor, len(shape), shape, where)
        self._variant_tensors(tensor, where)
        buffer_index = int(tensor.scalar(schema.TENSOR_BUFFER, "I"))
        _check_index(buffer_index, len(self.buffer_sizes), f"{where}: its buffer", optional=False)
        size = self.buffer_sizes[buffer_index]
        sparse = self._sparsity(tensor, shape, element_size, size, where)
        info = TensorInfo(
            tensor_type,
            shape,
            dynamic,
            size is not None,
            bool(tensor.scalar(schema.TENSOR_IS_VARIABLE, "B")),
            None if element_size is None else elements * element_size,
        )
        if size is None:
            return info
        if element_size is None:
            if tensor_type == schema.TYPE_STRING:
                self._string_data(buffer_index, elements, where)
            elif tensor_type != schema.TYPE_INT4:
                raise InvalidModel(f"{where}: a resource or variant tensor with constant data")
        elif not sparse and size != elements * element_size:
            raise InvalidModel(
                f"{where}: its constant data has {size} bytes; shape {list(shape)} needs "
                f"{elements * element_size}"
            )
        return info

    def _shape_signature(self, tensor: Table, shape: Sequence[int], where: str) -> bool:
        """Check the shape signature; return whether it has unknown dimensions."""
        vector = tensor.vector(schema.TENSOR_SHAPE_SIGNATURE, 4, "shape_signature")
        if vector is None or not len(vector):
            return False
        signature = vector.scalars("i")
        if len(signature) != len(shape) or any(s not in (d, -1) for s, d in zip(signature, shape)):
            raise InvalidModel(
                f"{where}: shape signature {list(signature)} does not fit shape {list(shape)}"
            )
        return -1 in signature

    def _quantization(self, tensor: Table, rank: int, shape: Sequence[int], where: str) -> None:
        quantization = tensor.table(schema.TENSOR_QUANTIZATION, "quantization")
        if quantization is None:
            return
        where = f"{where}, quantization"
        for slot, name in ((schema.QUANT_MIN, "min"), (schema.QUANT_MAX, "max")):
            quantization.vector(slot, 4, name)
        scale = quantization.vector(schema.QUANT_SCALE, 4, "scale")
        zero_point = quantization.vector(schema.QUANT_ZERO_POINT, 8, "zero_point")
        details = int(quantization.scalar(schema.QUANT_DETAILS_TYPE, "B"))
        if details:
            if details != schema.QUANT_DETAILS_CUSTOM:
                raise InvalidModel(f"{where}: unknown quantization details type {details}")
            custom = quantization.table(schema.QUANT_DETAILS, "details")
            if custom is None:
                raise InvalidModel(f"{where}: custom quantization details are missing")
            custom.vector(0, 1, "custom")
        if scale is None or not len(scale):
            return
        if zero_point is None or len(zero_point) != len(scale):
            raise InvalidModel(
                f"{where}: {len(scale)} scales but a different number of zero points"
            )
        dimension = int(quantization.scalar(schema.QUANT_DIMENSION, "i"))
        if len(scale) > 1 and (not 0 <= dimension < rank or shape[dimension] != len(scale)):
            raise InvalidModel(
                f"{where}: {len(scale)} per-channel scales do not fit dimension {dimension} "
                f"of shape {list(shape)}"
            )

    def _variant_tensors(self, tensor: Table, where: str) -> None:
        variants = tensor.vector(schema.TENSOR_VARIANT_TENSORS, 4, "variant_tensors")
        for index in range(len(variants) if variants is not None else 0):
            variant = variants.table(index)  # type: ignore[union-attr]
            variant.vector(schema.VARIANT_SHAPE, 4, "shape")
            if int(variant.scalar(schema.VARIANT_TYPE, "b")) not in schema.ELEMENT_SIZES:
                raise InvalidModel(f"{where}: variant subtype {index} has an unknown type")

    def _sparsity(
        self,
        tensor: Table,
        shape: Sequence[int],
        element_size: int | None,
        size: int | None,
        where: str,
    ) -> bool:
        """Check a sparse tensor's index metadata against its shape and data."""
        sparsity = tensor.table(schema.TENSOR_SPARSITY, "sparsity")
        if sparsity is None:
            return False
        where = f"{where}, sparsity"
        order = self._required(
            sparsity, schema.SPARSITY_TRAVERSAL_ORDER, 4, f"{where}.traversal_order"
        ).scalars("i")
        block_vector = sparsity.vector(schema.SPARSITY_BLOCK_MAP, 4, "block_map")
        block_map = block_vector.scalars("i") if block_vector is not None else ()
        levels = self._required(sparsity, schema.SPARSITY_DIM_METADATA, 4, f"{where}.dim_metadata")
        rank = len(shape)
        if sorted(order) != list(range(rank + len(block_map))) or len(levels) != len(order):
            raise InvalidModel(f"{where}: traversal order {list(order)} does not fit rank {rank}")
        if any(not 0 <= d < rank for d in block_map):
            raise InvalidModel(f"{where}: block map {list(block_map)} does not fit rank {rank}")
        if element_size is None or size is None:
            raise InvalidModel(f"{where}: only constant numeric tensors can be sparse")
        # Walk the levels in traversal order: `positions` counts the stored
        # entries at the current level, as the runtime's densify walk would.
        positions = 1
        for level in range(len(order)):
            metadata = levels.table(level)
            if int(metadata.scalar(schema.DIM_FORMAT, "b")) == schema.DIM_DENSE:
                dense = int(metadata.scalar(schema.DIM_DENSE_SIZE, "i"))
                if dense < 0:
                    raise InvalidModel(f"{where}: level {level} has dense size {dense}")
                positions *= dense
            else:
                positions = self._sparse_level(metadata, positions, f"{where}, level {level}")
            if positions * element_size > MAX_TENSOR_BYTES:
                raise InvalidModel(f"{where}: more than 2 GiB of entries")
        if positions * element_size != size:
            raise InvalidModel(
                f"{where}: the index metadata describes {positions} values, the data holds "
                f"{size} bytes"
            )
        return True

    def _sparse_level(self, metadata: Table, parents: int, where: str) -> int:
        segments = self._index_vector(metadata, schema.DIM_SEGMENTS_TYPE, "array_segments", where)
        indices = self._index_vector(metadata, schema.DIM_INDICES_TYPE, "array_indices", where)
        if len(segments) != parents + 1 or segments[0] != 0 or segments[-1] != len(indices):
            raise InvalidModel(f"{where}: its segments do not index its {len(indices)} entries")
        if any(b < a for a, b in zip(segments, segments[1:])):
            raise InvalidModel(f"{where}: its segments decrease")
        if any(i < 0 for i in indices):
            raise InvalidModel(f"{where}: negative index")
        return len(indices)

    def _index_vector(
        self, metadata: Table, type_slot: int, name: str, where: str
    ) -> tuple[int, ...]:
        kind = int(metadata.scalar(type_slot, "B"))
        if kind not in schema.SPARSE_INDEX_VECTORS:
            raise InvalidModel(f"{where}: {name} has unknown type {kind}")
        code, element_size = schema.SPARSE_INDEX_VECTORS[kind]
        table = metadata.table(type_slot + 1, name)
        values = table.vector(0, element_size, "values") if table is not None else None
        if values is None:
            raise InvalidModel(f"{where}: {name} is missing")
        return values.scalars(code)

    def _string_data(self, buffer_index: int, count: int, where: str) -> None:
        """A constant string tensor: a count, count + 1 offsets, then the bytes."""
        data = self.buffer_data[buffer_index]
        if data is None:
            raise InvalidModel(f"{where}: string data outside the flatbuffer is not supported")
        size, start = data.length, data.start
        header = 4 * (count + 2)
        if size < header or int.from_bytes(self.content[start : start + 4], "little") != count:
            raise InvalidModel(f"{where}: its constant strings do not match its {count} elements")
        offsets = Vector(self.buffer, start + 4, count + 1, 4, where).scalars("i")
        if (
            offsets[0] != header
            or offsets[-1] != size
            or any(b < a for a, b in zip(offsets, offsets[1:]))
        ):
            raise InvalidModel(f"{where}: its constant strings have invalid offsets")

    def _operator(
        self,
        operator: Table,
        where: str,
        opcodes: Sequence[int],
        tensors: Sequence[TensorInfo],
        subgraph_count: int,
    ) -> OperatorInfo:
        opcode_index = int(operator.scalar(schema.OP_OPCODE_INDEX, "I"))
        _check_index(opcode_index, len(opcodes), f"{where}: its operator code", optional=False)
        code = opcodes[opcode_index]
        count = len(tensors)
        inputs = self._indices(operator, schema.OP_INPUTS, f"{where}.inputs", count, True)
        outputs = self._indices(operator, schema.OP_OUTPUTS, f"{where}.outputs", count, False)
        for tensor in outputs:
            if tensors[tensor].constant:
                raise InvalidModel(f"{where}: output tensor {tensor} holds constant data")
        intermediates = operator.vector(schema.OP_INTERMEDIATES, 4, "intermediates")
        for tensor in intermediates.scalars("i") if intermediates is not None else ():
            _check_index(tensor, count, f"{where}: its intermediates", optional=True)
        operator.vector(schema.OP_MUTATING_VARIABLE_INPUTS, 1, "mutating_variable_inputs")
        operator.vector(schema.OP_CUSTOM_OPTIONS, 1, "custom_options")
        offset = int(operator.scalar(schema.OP_LARGE_CUSTOM_OFFSET, "Q"))
        if offset >= _EXTERNAL_OFFSET_MIN:
            self._external(offset, int(operator.scalar(schema.OP_LARGE_CUSTOM_SIZE, "Q")), where)
        options_type = int(operator.scalar(schema.OP_OPTIONS_TYPE, "B"))
        if options_type > schema.LAST_BUILTIN_OPTIONS:
            raise InvalidModel(f"{where}: unknown builtin options type {options_type}")
        options = operator.table(schema.OP_OPTIONS, "builtin_options") if options_type else None
        if options_type and options is None:
            raise InvalidModel(f"{where}: its builtin options are missing")
        strings: list[bytes] = []
        if options is not None:
            for slot, element_size in schema.OPTIONS_REFERENCES.get(options_type, ()):
                if element_size:
                    options.vector(slot, element_size, f"options field {slot}")
                else:
                    strings.append(options.string(slot, f"options field {slot}") or b"")
        if code in schema.POSITIVE_OPTIONS:
            _positive_options(code, options_type, options, where)
        variable = None
        if code == schema.OP_VAR_HANDLE and options_type == schema.VAR_HANDLE_OPTIONS:
            variable = (strings[0], strings[1])
        return OperatorInfo(
            code,
            inputs,
            outputs,
            self._calls(code, options_type, options, where, subgraph_count),
            variable,
        )

    def _calls(
        self, code: int, options_type: int, options: Table | None, where: str, count: int
    ) -> frozenset[int]:
        """The subgraphs a control-flow operator runs (none for other operators)."""
        if code not in schema.CONTROL_FLOW_OPS:
            return frozenset()
        expected, slots = schema.CONTROL_FLOW_OPS[code]
        name = schema.CONTROL_FLOW_NAMES[code]
        if options_type != expected or options is None:
            raise InvalidModel(f"{where}: {name} without its options")
        called = frozenset(int(options.scalar(slot, "i")) for slot in slots)
        for subgraph in called:
            _check_index(subgraph, count, f"{where}: {name}'s subgraph", optional=False)
        return called

    def _metadata(self, model: Table) -> None:
        buffer_count = len(self.buffer_sizes)
        indices = model.vector(schema.MODEL_METADATA_BUFFER, 4, "metadata_buffer")
        for index in indices.scalars("i") if indices is not None else ():
            _check_index(index, buffer_count, "model.metadata_buffer", optional=False)
        metadata = model.vector(schema.MODEL_METADATA, 4, "metadata")
        for i in range(len(metadata) if metadata is not None else 0):
            entry = metadata.table(i)  # type: ignore[union-attr]
            name = entry.string(schema.METADATA_NAME, "name")
            if name is None:
                raise InvalidModel(f"metadata {i} has no name")
            _text(name, f"metadata {i}: its name")
            index = int(entry.scalar(schema.METADATA_BUFFER, "I"))
            _check_index(index, buffer_count, f"metadata {i}: its buffer", optional=False)

    def _signatures(self, model: Table, subgraphs: Sequence[SubgraphInfo]) -> None:
        signatures = model.vector(schema.MODEL_SIGNATURE_DEFS, 4, "signature_defs")
        for i in range(len(signatures) if signatures is not None else 0):
            signature = signatures.table(i)  # type: ignore[union-attr]
            where = f"signature {i}"
            key = signature.string(schema.SIGNATURE_KEY, "signature_key")
            if key is None:
                raise InvalidModel(f"{where} has no key")
            _text(key, f"{where}: its key")
            index = int(signature.scalar(schema.SIGNATURE_SUBGRAPH, "I"))
            _check_index(index, len(subgraphs), f"{where}: its subgraph", optional=False)
            subgraph = subgraphs[index]
            for slot, name in (
                (schema.SIGNATURE_INPUTS, "inputs"),
                (schema.SIGNATURE_OUTPUTS, "outputs"),
            ):
                entries = self._required(signature, slot, 4, f"{where}.{name}")
                aliases: set[bytes] = set()
                tensors: set[int] = set()
                for j in range(len(entries)):
                    entry = entries.table(j)
                    alias = entry.string(schema.TENSOR_MAP_NAME, "name")
                    if alias is None:
                        raise InvalidModel(f"{where}: {name} {j} has no name")
                    _text(alias, f"{where}: the name of {name} {j}")
                    if alias in aliases:
                        raise InvalidModel(f"{where}: two {name} are named {alias.decode()!r}")
                    aliases.add(alias)
                    tensor = int(entry.scalar(schema.TENSOR_MAP_INDEX, "I"))
                    _check_index(
                        tensor, len(subgraph.tensors), f"{where}: its {name}", optional=False
                    )
                    if name == "inputs":
                        # Calls write into input tensors: a constant's memory is the model's
                        # own bytes, and two names for one tensor would overwrite each other.
                        if tensor not in subgraph.inputs:
                            raise InvalidModel(
                                f"{where}: input {j} is tensor {tensor}, which is not an input "
                                f"of subgraph {index}"
                            )
                        if tensor in tensors:
                            raise InvalidModel(f"{where}: two inputs are the same tensor {tensor}")
                        tensors.add(tensor)


def _positive_options(code: int, options_type: int, options: Table | None, where: str) -> None:
    name, expected, fields = schema.POSITIVE_OPTIONS[code]
    if options is None or options_type != expected:
        raise InvalidModel(f"{where}: operator code {code} needs its {name}")
    for slot, default, field in fields:
        value = int(options.scalar(slot, "i", default))
        if not 0 < value <= schema.OPTION_LIMIT:
            raise InvalidModel(
                f"{where}: {name}.{field} is {value}; it must be from 1 to {schema.OPTION_LIMIT}"
            )
    # tflite's kernels work out sizes and offsets for SAME or VALID only; with another
    # value they wrote past their output (a SIGSEGV the fuzz campaign found).
    padding = int(options.scalar(schema.OPTIONS_PADDING, "b", 0))
    if padding not in schema.PADDINGS:
        raise InvalidModel(
            f"{where}: {name}.padding is {padding}; it must be SAME (0) or VALID (1)"
        )


def _check_index(index: int, count: int, what: str, *, optional: bool) -> None:
    if 0 <= index < count or (optional and index == OPTIONAL_TENSOR):
        return
    raise InvalidModel(f"{what}: index {index} is out of range (there are {count})")


def _text(value: bytes | None, what: str) -> None:
    """Names reach Python as str: they must decode as UTF-8."""
    if value is None:
        return
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidModel(f"{what} is not valid UTF-8") from None
