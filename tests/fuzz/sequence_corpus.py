"""The call-sequence corpus: random interleavings of good and bad calls, from fixed seeds.

A case is (index, seed), as in the model-file corpus: the model (every committed
test model a runtime can load, and the packaged demo), the op resolver and the
steps all follow from those two numbers. The steps are planned in the child from
the model's signatures (``plan``), so that pysig and plain tflite_runtime run the
very same sequence. Every step that may be refused is followed by a good call on
the same signature, whose result is checked against an interpreter that only
ever saw good calls.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Tuple

import numpy as np
from fuzz_corpus import RESOLVERS, Case, model_paths

# Input name -> (shape signature, dtype), per signature key.
Spec = Dict[str, List[Tuple[str, Tuple[int, ...], np.dtype]]]

# Bad calls: each changes one input of an otherwise good call.
BAD_CALLS = ("wrong_rank", "wrong_dims", "zero_dim", "huge_dim", "wrong_dtype")
OTHER_STEPS = ("view", "drop_views", "resize", "huge_resize", "invoke", "cancel", "timeout")
# Steps whose effect on variables the reference cannot repeat (an invoke of whatever
# the input views hold, a call that a timeout may stop midway): not for stateful models.
UNREPEATABLE = frozenset({"invoke", "timeout"})
# Beyond the runtime's int32 dimensions, so never an allocation a child could attempt.
HUGE_DIMS = (2**31, 2**32 + 3, 2**40)
# More bytes than a string tensor's int32 offsets count, as references to one 64 MiB object.
HUGE_STRING_CHUNK, HUGE_STRING_COUNT = 2**26, 33
MIN_STEPS, MAX_STEPS = 4, 12
# The models no runtime here can load (a custom op, Flex ops) have no calls to make.
UNLOADABLE = frozenset({"custom_op.tflite", "flex_encode_decode.tflite"})


class Step(NamedTuple):
    op: str  # "call", or one of OTHER_STEPS
    key: str
    kind: str  # "good" or one of BAD_CALLS (for calls)
    inputs: dict[str, Any]  # for calls, timeouts, resizes (one input: name -> shape)


@functools.lru_cache(maxsize=None)
def sequence_models() -> tuple[Path, ...]:
    return tuple(path for path in model_paths() if path.name not in UNLOADABLE)


def case_model(case: Case) -> Path:
    # In turn rather than at random, so that any run of len(models) cases covers them all.
    models = sequence_models()
    return models[(case.index + case.seed) % len(models)]


def case_resolver(case: Case) -> str:
    return RESOLVERS[case.index % len(RESOLVERS)]


def describe(case: Case) -> str:
    return (
        f"sequence {case.index} (seed {case.seed}): {case_model(case).name}, "
        f"op_resolver={case_resolver(case)}"
    )


def _good_value(dtype: np.dtype, shape: tuple[int, ...], rng: np.random.Generator) -> Any:
    if dtype == np.dtype(object):
        words = [b"alpha", b"", b"gamma", b"\xff\x00bytes"]
        count = int(np.prod(shape))
        return np.array([words[i % len(words)] for i in range(count)], dtype=object).reshape(shape)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        # Small values: some inputs are indices (GATHER) into another input of length >= 2.
        return rng.integers(0, 2, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def _good_shape(signature: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(rng.integers(2, 5)) if d < 0 else d for d in signature)


def good_inputs(spec: Spec, key: str, rng: np.random.Generator) -> dict[str, Any]:
    return {name: _good_value(dtype, _good_shape(sig, rng), rng) for name, sig, dtype in spec[key]}


def _bad_inputs(spec: Spec, key: str, kind: str, rng: np.random.Generator) -> dict[str, Any]:
    inputs = good_inputs(spec, key, rng)
    if not inputs:
        return inputs
    name = list(inputs)[int(rng.integers(len(inputs)))]
    value = inputs[name]
    shape = list(value.shape)
    if kind == "wrong_dtype":
        wrong: Any = np.full(shape, 0.5) if value.dtype.kind != "f" else np.full(shape, 0.5 + 1e-12)
        if value.dtype == np.dtype(object) or value.dtype.kind == "b":
            wrong = np.full(shape, 7.25)
        inputs[name] = wrong
        return inputs
    if kind == "wrong_rank":
        shape = shape[1:] if shape and rng.random() < 0.5 else [1, *shape]
    elif shape:
        axis = int(rng.integers(len(shape)))
        if kind == "wrong_dims":
            shape[axis] += int(rng.integers(1, 4))
        elif kind == "zero_dim":
            shape[axis] = 0
        else:  # huge_dim: a broadcast view, tiny in memory
            shape[axis] = HUGE_DIMS[int(rng.integers(len(HUGE_DIMS)))]
    else:
        shape = [0] if kind == "zero_dim" else [3]
    if kind == "huge_dim" and value.dtype == np.dtype(object) and rng.random() < 0.5:
        inputs[name] = np.array([b"x" * HUGE_STRING_CHUNK] * HUGE_STRING_COUNT, dtype=object)
    elif kind == "huge_dim" and shape:
        inputs[name] = np.broadcast_to(value.reshape(-1)[:1].reshape(()), shape)
    else:
        inputs[name] = _good_value(value.dtype, tuple(shape), rng)
    return inputs


def plan(case: Case, spec: Spec, stateful: bool) -> list[Step]:
    """The steps of ``case`` for a model whose signatures are ``spec``.

    ``stateful``: the model has variables, so every step must be one a reference
    interpreter can repeat.
    """
    rng = np.random.default_rng([case.seed, case.index])
    keys = sorted(spec)
    others = [op for op in OTHER_STEPS if not (stateful and op in UNREPEATABLE)]
    steps: list[Step] = []
    for _ in range(int(rng.integers(MIN_STEPS, MAX_STEPS + 1))):
        key = keys[int(rng.integers(len(keys)))]
        roll = rng.random()
        if roll < 0.3:
            steps.append(Step("call", key, "good", good_inputs(spec, key, rng)))
            continue
        if roll < 0.65:
            kind = BAD_CALLS[int(rng.integers(len(BAD_CALLS)))]
            steps.append(Step("call", key, kind, _bad_inputs(spec, key, kind, rng)))
        else:
            op = others[int(rng.integers(len(others)))]
            inputs: dict[str, Any] = {}
            if op == "timeout":
                inputs = good_inputs(spec, key, rng)
            elif op in ("resize", "huge_resize") and spec[key]:
                name, signature, _ = spec[key][int(rng.integers(len(spec[key])))]
                shape = _good_shape(signature, rng)
                if op == "huge_resize" and shape:
                    axis = int(rng.integers(len(shape)))
                    huge = HUGE_DIMS[int(rng.integers(len(HUGE_DIMS)))]
                    shape = (*shape[:axis], huge, *shape[axis + 1 :])
                inputs = {name: shape}
            steps.append(Step(op, key, "good", inputs))
        steps.append(Step("call", key, "good", good_inputs(spec, key, rng)))
    return steps


def corpus(count: int, seed: int, skip: frozenset[str] = frozenset()) -> list[Case]:
    """``count`` cases in index order, leaving out those on the models named in ``skip``."""
    cases: list[Case] = []
    index = 0
    while len(cases) < count:
        case = Case(index, seed)
        if case_model(case).name not in skip:
            cases.append(case)
        index += 1
    return cases


def counts(outcomes: dict[int, str]) -> dict[str, int]:
    """Calls, refusals and comparisons over the finished sequences' outcome lines."""
    totals = {"sequences": 0, "calls": 0, "refusals": 0, "compared": 0}
    for outcome in outcomes.values():
        if not outcome.startswith("ran:"):
            continue  # a crash or a hang: counted by the campaign
        totals["sequences"] += 1
        for field in outcome[4:].split(","):
            name, _, value = field.partition("=")
            if name in totals and value.isdigit():
                totals[name] += int(value)
    return totals
