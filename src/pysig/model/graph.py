"""Checks of a model's graphs as a whole, once every table has been read and checked.

The runtime's kernels assume a well-formed graph: each operator reads tensors
that exist by the time it runs, control flow never re-enters the subgraph
running it, and a resource variable is read with the shape it was assigned.
A damaged model breaks these and crashes the runtime, so they are checked.
"""

from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple

VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE = 142, 143, 144
# The runtime's ARG_MAX and ARG_MIN read past an empty input.
EMPTY_INPUT_CRASHES = frozenset({56, 79})
# Builtin operators whose kernels accept omitted (-1) inputs: biases of the
# convolutions and of FULLY_CONNECTED, the optional tensors of the recurrent
# ops (peepholes, projections, auxiliary inputs). Custom ops decide for themselves.
OPTIONAL_INPUT_OPS = frozenset({3, 4, 9, 16, 24, 27, 32, 35, 44, 46, 52, 67, 132, 141})


class InvalidModel(ValueError):
    """What is wrong with the model, and where."""


class TensorInfo(NamedTuple):
    type: int
    shape: tuple[int, ...]
    dynamic: bool  # its shape signature has unknown (-1) dimensions
    constant: bool
    variable: bool
    nbytes: int | None  # None: not a function of the shape (strings, resources)


class OperatorInfo(NamedTuple):
    code: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    calls: frozenset[int]  # subgraphs that a control-flow op runs
    variable: tuple[bytes, bytes] | None  # VAR_HANDLE: (container, shared_name)


class SubgraphInfo(NamedTuple):
    tensors: Sequence[TensorInfo]
    inputs: tuple[int, ...]
    operators: Sequence[OperatorInfo]


# Per subgraph, its ARG_MAX / ARG_MIN operators as (data tensor, axis tensor), the
# axis -1 when it is not a constant: the runner refuses shapes that empty their axis.
ArgReductions = List[Tuple[Tuple[int, int], ...]]


class GraphFacts(NamedTuple):
    """What the runners need to know of the model's subgraphs, found by the verifier."""

    arg_reductions: ArgReductions
    value_sized: list[frozenset[int]]  # per subgraph: tensors sized by the input values


def arg_reductions(subgraphs: Sequence[SubgraphInfo]) -> ArgReductions:
    def axis(op: OperatorInfo, tensors: Sequence[TensorInfo]) -> int:
        return op.inputs[1] if len(op.inputs) > 1 and tensors[op.inputs[1]].constant else -1

    return [
        tuple(
            (op.inputs[0], axis(op, subgraph.tensors))
            for op in subgraph.operators
            if op.code in EMPTY_INPUT_CRASHES and op.inputs and op.inputs[0] >= 0
        )
        for subgraph in subgraphs
    ]


def check_graphs(subgraphs: Sequence[SubgraphInfo]) -> None:
    for index, subgraph in enumerate(subgraphs):
        _check_dataflow(subgraph, f"subgraph {index}")
    _check_acyclic([frozenset().union(*(op.calls for op in s.operators)) for s in subgraphs])
    _check_variables(subgraphs)


def _check_dataflow(subgraph: SubgraphInfo, where: str) -> None:
    """Operators run in order; each reads tensors that hold values by then, and
    each tensor gets its value from one place only (an input, a constant or
    one operator): kernels size and allocate their outputs themselves."""
    ready = [t.constant or t.variable for t in subgraph.tensors]
    for tensor in subgraph.inputs:
        ready[tensor] = True
    for index, op in enumerate(subgraph.operators):
        if op.inputs.count(-1) and op.code not in OPTIONAL_INPUT_OPS:
            raise InvalidModel(f"{where}, operator {index}: an omitted (-1) input it needs")
        if (
            op.code in EMPTY_INPUT_CRASHES
            and op.inputs
            and 0 in subgraph.tensors[op.inputs[0]].shape
        ):
            raise InvalidModel(f"{where}, operator {index}: ARG_MAX or ARG_MIN of an empty tensor")
        for tensor in op.inputs:
            if tensor >= 0 and not ready[tensor]:
                raise InvalidModel(
                    f"{where}, operator {index}: reads tensor {tensor}, which no input, "
                    "constant or earlier operator provides"
                )
        for tensor in op.outputs:
            if ready[tensor]:
                raise InvalidModel(
                    f"{where}, operator {index}: writes tensor {tensor}, which already has "
                    "a value from an input, a constant or another operator"
                )
            ready[tensor] = True


def _check_acyclic(calls: Sequence[frozenset[int]]) -> None:
    """Control-flow ops must not run, directly or not, the subgraph they are in."""
    state = [0] * len(calls)  # 0: unseen, 1: on the current path, 2: done
    for start in range(len(calls)):
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(sorted(calls[start])))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state[child] == 1:
                raise InvalidModel(f"subgraph {child} runs itself through control-flow ops")
            elif state[child] == 0:
                state[child] = 1
                stack.append((child, iter(sorted(calls[child]))))


def _check_variables(subgraphs: Sequence[SubgraphInfo]) -> None:
    """Every value assigned to a resource variable, and every read of it, must agree.

    The runtime's READ_VARIABLE copies as many bytes as its output declares
    from whatever the variable holds, so a read larger than the value assigned
    reads past it. Values of one variable must therefore have one static shape
    and type, and reads must declare exactly that.
    """
    seen: dict[tuple[bytes, bytes], tuple[TensorInfo, str]] = {}
    for index, subgraph in enumerate(subgraphs):
        handles = {
            op.outputs[0]: op.variable
            for op in subgraph.operators
            if op.code == VAR_HANDLE and op.variable is not None and op.outputs
        }
        for op_index, op in enumerate(subgraph.operators):
            if op.code == ASSIGN_VARIABLE and len(op.inputs) >= 2:
                value = op.inputs[1]
            elif op.code == READ_VARIABLE and op.outputs:
                value = op.outputs[0]
            else:
                continue
            where = f"subgraph {index}, operator {op_index}"
            key = handles.get(op.inputs[0]) if op.inputs else None
            if key is None:
                # The handle comes from outside this subgraph: the variable is
                # unknown here, so only a fixed size keeps the copy in bounds.
                key = (b"", b"\0" + where.encode())
            info = subgraph.tensors[value] if value >= 0 else None
            if info is None or info.dynamic or info.nbytes is None:
                raise InvalidModel(f"{where}: a resource variable's value needs a fixed shape")
            first = seen.setdefault(key, (info, where))
            if (first[0].type, first[0].shape) != (info.type, info.shape):
                raise InvalidModel(
                    f"{where}: a resource variable used with shape {list(info.shape)} here and "
                    f"{list(first[0].shape)} at {first[1]}"
                )
