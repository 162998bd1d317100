"""Which tensors have sizes that depend on the input *values*, not only on the input shapes.

A runtime that runs on buffers sized before the run (LiteRT's compiled model) cannot write
such an output: its size is known only once the kernels have seen the data. Found by
following values through each subgraph in operator order (the verifier has checked that
order): a tensor's values are constant, known from the input shapes alone (SHAPE and what
is computed from it), or data; an operator sizes its outputs by values when it is one of
the kernels whose output size is a count of the data (WHERE, UNIQUE, NON_MAX_SUPPRESSION),
or when an operand it takes a shape, size, padding or count from holds data; and a size that
depends on values passes on to what is computed from it. A tensor whose shape signature is
fixed keeps its size whatever the values. Control flow and custom ops are not looked into:
their outputs of unknown size count as sized by values.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .graph import SubgraphInfo

CONSTANT, FROM_SHAPES, DATA = 0, 1, 2

SHAPE, RANK = 77, 110
SIZED_BY_COUNT = frozenset({103, 109, 120, 121})  # UNIQUE, WHERE, NON_MAX_SUPPRESSION_V4/V5
# Operators that take a shape, size, padding, axis or count from the operands listed.
SIZE_OPERANDS: Mapping[int, tuple[int, ...]] = {
    22: (1,),  # RESHAPE
    23: (1,),  # RESIZE_BILINEAR
    34: (1,),  # PAD
    37: (1, 2),  # BATCH_TO_SPACE_ND
    38: (1, 2),  # SPACE_TO_BATCH_ND
    39: (1,),  # TRANSPOSE
    40: (1,),  # MEAN
    45: (1, 2, 3),  # STRIDED_SLICE
    49: (0,),  # SPLIT
    60: (1,),  # PADV2
    65: (1, 2),  # SLICE
    67: (0,),  # TRANSPOSE_CONV
    69: (1,),  # TILE
    70: (1,),  # EXPAND_DIMS
    74: (1,),  # SUM
    81: (1,),  # REDUCE_PROD
    82: (1,),  # REDUCE_MAX
    85: (1,),  # ONE_HOT
    89: (1,),  # REDUCE_MIN
    91: (1,),  # REDUCE_ANY
    94: (0,),  # FILL
    96: (0, 1, 2),  # RANGE
    97: (1,),  # RESIZE_NEAREST_NEIGHBOR
    100: (1,),  # MIRROR_PAD
    102: (1, 2),  # SPLIT_V
    122: (2,),  # SCATTER_ND
    125: (1,),  # SEGMENT_SUM
    130: (1,),  # BROADCAST_TO
    140: (1,),  # REDUCE_ALL
    146: (0,),  # RANDOM_STANDARD_NORMAL
    148: (0,),  # RANDOM_UNIFORM
    149: (1,),  # MULTINOMIAL
    153: (2,),  # UNSORTED_SEGMENT_PROD
    154: (2,),  # UNSORTED_SEGMENT_MAX
    155: (2,),  # UNSORTED_SEGMENT_SUM
    157: (2,),  # UNSORTED_SEGMENT_MIN
}
NOT_LOOKED_INTO = frozenset({32, 118, 119, 129})  # CUSTOM, IF, WHILE, CALL_ONCE
# Values that come from neither the inputs nor constants: variables and random numbers.
MAKES_DATA = frozenset({143, 146, 148, 149})  # READ_VARIABLE, RANDOM_*, MULTINOMIAL


def value_sized_tensors(subgraph: SubgraphInfo) -> frozenset[int]:
    tensors = subgraph.tensors
    kind = [CONSTANT if t.constant else DATA for t in tensors]
    for tensor in subgraph.inputs:
        kind[tensor] = DATA
    sized: set[int] = set()
    for op in subgraph.operators:
        inputs = [t for t in op.inputs if t >= 0]
        if op.code in (SHAPE, RANK):
            for tensor in op.outputs:
                kind[tensor] = FROM_SHAPES
            continue
        by_values = (
            any(t in sized for t in inputs)
            or op.code in NOT_LOOKED_INTO
            or (op.code in SIZED_BY_COUNT and any(kind[t] == DATA for t in inputs))
            or any(
                kind[op.inputs[position]] == DATA
                for position in SIZE_OPERANDS.get(op.code, ())
                if position < len(op.inputs) and op.inputs[position] >= 0
            )
        )
        value_kind = (
            DATA
            if op.code in MAKES_DATA or op.code in NOT_LOOKED_INTO
            else max((kind[t] for t in inputs), default=CONSTANT)
        )
        for tensor in op.outputs:
            kind[tensor] = value_kind
            if by_values and tensors[tensor].dynamic:
                sized.add(tensor)
    return frozenset(sized)


def value_sized(subgraphs: Sequence[SubgraphInfo]) -> list[frozenset[int]]:
    """Per subgraph, the tensors whose sizes depend on the input values."""
    return [value_sized_tensors(subgraph) for subgraph in subgraphs]
