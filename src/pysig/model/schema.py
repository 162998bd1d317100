"""Facts of the TensorFlow Lite schema (version 3, as tflite-runtime 2.14.0 reads it).

Field slots are the fields' positions in their table's declaration, counted
from 0; a union field takes two slots, its type then its value.
"""

from __future__ import annotations

SCHEMA_VERSION = 3
# A TensorFlow Lite flatbuffer carries this identifier at bytes 4..8.
FILE_IDENTIFIER = b"TFL3"

# Model
MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION = range(4)
MODEL_BUFFERS, MODEL_METADATA_BUFFER, MODEL_METADATA, MODEL_SIGNATURE_DEFS = 4, 5, 6, 7
# SubGraph
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME = range(5)
# Tensor
TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANTIZATION = range(5)
TENSOR_IS_VARIABLE, TENSOR_SPARSITY, TENSOR_SHAPE_SIGNATURE, TENSOR_HAS_RANK = 5, 6, 7, 8
TENSOR_VARIANT_TENSORS = 9
# VariantSubType
VARIANT_SHAPE, VARIANT_TYPE = 0, 1
# QuantizationParameters
QUANT_MIN, QUANT_MAX, QUANT_SCALE, QUANT_ZERO_POINT = range(4)
QUANT_DETAILS_TYPE, QUANT_DETAILS, QUANT_DIMENSION = 4, 5, 6
QUANT_DETAILS_CUSTOM = 1  # CustomQuantization { custom: [ubyte] }
# SparsityParameters / DimensionMetadata / the index vector tables
SPARSITY_TRAVERSAL_ORDER, SPARSITY_BLOCK_MAP, SPARSITY_DIM_METADATA = range(3)
DIM_FORMAT, DIM_DENSE_SIZE = 0, 1
DIM_SEGMENTS_TYPE, DIM_SEGMENTS, DIM_INDICES_TYPE, DIM_INDICES = 2, 3, 4, 5
DIM_DENSE, DIM_SPARSE_CSR = 0, 1
# SparseIndexVector union member -> (struct code, element size) of its `values` vector.
SPARSE_INDEX_VECTORS = {1: ("i", 4), 2: ("H", 2), 3: ("B", 1)}
# OperatorCode
OPCODE_DEPRECATED_BUILTIN, OPCODE_CUSTOM_CODE, OPCODE_VERSION, OPCODE_BUILTIN = range(4)
# Operator
OP_OPCODE_INDEX, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS_TYPE, OP_OPTIONS = range(5)
OP_CUSTOM_OPTIONS, OP_MUTATING_VARIABLE_INPUTS, OP_INTERMEDIATES = 5, 7, 8
OP_LARGE_CUSTOM_OFFSET, OP_LARGE_CUSTOM_SIZE = 9, 10
# Buffer
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = range(3)
# Metadata
METADATA_NAME, METADATA_BUFFER = range(2)
# SignatureDef / TensorMap
SIGNATURE_INPUTS, SIGNATURE_OUTPUTS, SIGNATURE_KEY, SIGNATURE_SUBGRAPH = 0, 1, 2, 4
TENSOR_MAP_NAME, TENSOR_MAP_INDEX = range(2)

# TensorType -> bytes per element; None: the size is not a function of the shape.
ELEMENT_SIZES: dict[int, int | None] = {
    0: 4,  # FLOAT32
    1: 2,  # FLOAT16
    2: 4,  # INT32
    3: 1,  # UINT8
    4: 8,  # INT64
    5: None,  # STRING
    6: 1,  # BOOL
    7: 2,  # INT16
    8: 8,  # COMPLEX64
    9: 1,  # INT8
    10: 8,  # FLOAT64
    11: 16,  # COMPLEX128
    12: 8,  # UINT64
    13: None,  # RESOURCE
    14: None,  # VARIANT
    15: 4,  # UINT32
    16: 2,  # UINT16
    17: None,  # INT4: packed two to a byte in files, which the runtime checks itself
}
TYPE_STRING = 5
TYPE_INT4 = 17

# BuiltinOperator: the runtime's schema ends at RIGHT_SHIFT.
LAST_BUILTIN_OPERATOR = 161
OP_CUSTOM = 32
OP_VAR_HANDLE = 142
VAR_HANDLE_OPTIONS = 111  # VarHandleOptions { container: string, shared_name: string }
# The union BuiltinOptions: the runtime's schema ends at RightShiftOptions.
LAST_BUILTIN_OPTIONS = 126

# Ops that run other subgraphs: op code -> (options union type, slots of the
# subgraph indices in that options table). Without options the runtime would
# use subgraph 0 for each.
CONTROL_FLOW_OPS: dict[int, tuple[int, tuple[int, ...]]] = {
    31: (16, (0,)),  # CALL: CallOptions.subgraph
    118: (92, (0, 1)),  # IF: IfOptions.then_subgraph_index, else_subgraph_index
    119: (93, (0, 1)),  # WHILE: WhileOptions.cond_subgraph_index, body_subgraph_index
    129: (103, (0,)),  # CALL_ONCE: CallOnceOptions.init_subgraph_index
}
CONTROL_FLOW_NAMES = {31: "CALL", 118: "IF", 119: "WHILE", 129: "CALL_ONCE"}

# Ops whose kernels divide by option fields (strides, dilations, filter sizes): a zero
# there, or options missing (the runtime then reads zeros), kills the process with
# SIGFPE, and so did huge ones (32769, 2**30 + 2, from bit flips). No model comes near
# OPTION_LIMIT. Op code -> (name, options union type, [(slot, default, field name)]).
OPTION_LIMIT = 4096
# Every options table of POSITIVE_OPTIONS has its Padding enum (SAME, VALID) in slot 0.
OPTIONS_PADDING = 0
PADDINGS = (0, 1)
_STRIDES = ((1, 0, "stride_w"), (2, 0, "stride_h"))
_POOL = ("Pool2DOptions", 5, (*_STRIDES, (3, 0, "filter_width"), (4, 0, "filter_height")))
POSITIVE_OPTIONS: dict[int, tuple[str, int, tuple[tuple[int, int, str], ...]]] = {
    3: ("Conv2DOptions", 1, (*_STRIDES, (4, 1, "dilation_w_factor"), (5, 1, "dilation_h_factor"))),
    4: (
        "DepthwiseConv2DOptions",
        2,
        (*_STRIDES, (5, 1, "dilation_w_factor"), (6, 1, "dilation_h_factor")),
    ),
    1: _POOL,  # AVERAGE_POOL_2D
    12: _POOL,  # L2_POOL_2D
    17: _POOL,  # MAX_POOL_2D
    67: ("TransposeConvOptions", 49, _STRIDES),
}

# Options tables with vectors or strings in them (the rest hold scalars only):
# union type -> [(slot, element size; 0 for a string)].
OPTIONS_REFERENCES: dict[int, tuple[tuple[int, int], ...]] = {
    3: ((1, 4), (2, 4)),  # ConcatEmbeddingsOptions: per-channel [int] vectors
    17: ((0, 4),),  # ReshapeOptions.new_shape
    30: ((0, 4),),  # SqueezeOptions.squeeze_dims
    111: ((0, 0), (1, 0)),  # VarHandleOptions.container, shared_name
    115: ((0, 4),),  # BucketizeOptions.boundaries
}

# BuiltinOperator names by code, up to RIGHT_SHIFT (LAST_BUILTIN_OPERATOR).
BUILTIN_OPERATOR_NAMES = (
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
)
