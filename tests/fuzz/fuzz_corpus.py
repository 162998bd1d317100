"""The mutation corpus: damaged variants of the committed test models, from fixed seeds.

A case is (index, seed): everything else, the model it starts from, the kind of
damage and where it lands, follows from those two numbers, so a case is
rebuilt identically in any process. Kinds:

- truncate: the model cut at some length;
- bitflip: a few bits flipped;
- byteset: a few bytes, or aligned 32-bit words, set to values that mean
  something to a reader of offsets and indices (0, 1, -1, 0x7fffffff, ...);
- splice: the start of one model joined to the end of another (or of itself).

Flips and sets land mostly in the model's structure rather than inside large
constant buffers (weights), where damage only changes numbers.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import NamedTuple

from pysig._resources import DEMO_MODEL_PATH
from pysig.model.flatbuffer import Buffer, FlatbufferError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
KINDS = ("truncate", "bitflip", "byteset", "splice")
RESOLVERS = ("auto", "builtin_without_default_delegates")
# Constant buffers larger than this count as data, not structure.
_DATA_THRESHOLD = 64
_STRUCTURE_SHARE = 0.85
_INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x10, 0x20, 0x40)
_INTERESTING_WORDS = (
    0,
    1,
    2,
    3,
    4,
    8,
    16,
    255,
    0xFFFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0xFFFFFFFE,
)


class Case(NamedTuple):
    index: int
    seed: int


def model_paths() -> list[Path]:
    """The committed test models and the packaged demo, in a fixed order."""
    return [*sorted(MODELS_DIR.glob("*.tflite")), Path(DEMO_MODEL_PATH)]


@functools.lru_cache(maxsize=None)
def _model(path: Path) -> tuple[bytes, tuple[int, ...]]:
    """The model's bytes and the positions that hold structure rather than data."""
    content = path.read_bytes()
    excluded = bytearray(len(content))
    for start, length in _data_regions(content):
        excluded[start : start + length] = b"\x01" * length
    return content, tuple(i for i, flag in enumerate(excluded) if not flag)


def _data_regions(content: bytes) -> list[tuple[int, int]]:
    buffer = Buffer(content)
    try:
        buffers = buffer.root("model").vector(4, 4, "buffers")
        regions = []
        for i in range(len(buffers) if buffers is not None else 0):
            data = buffers.table(i).vector(0, 1, "data")  # type: ignore[union-attr]
            if data is not None and data.length > _DATA_THRESHOLD:
                regions.append((data.start, data.length))
    except FlatbufferError:
        return []
    return regions


def case_model(case: Case) -> Path:
    paths = model_paths()
    return paths[random.Random(f"{case.seed}/{case.index}/model").randrange(len(paths))]


def case_kind(case: Case) -> str:
    return KINDS[case.index % len(KINDS)]


def case_resolver(case: Case) -> str:
    """Half the cases run on the reference kernels instead of XNNPACK's."""
    return RESOLVERS[case.index // len(KINDS) % len(RESOLVERS)]


def describe(case: Case) -> str:
    return (
        f"case {case.index} (seed {case.seed}): {case_kind(case)} of {case_model(case).name}, "
        f"op_resolver={case_resolver(case)}"
    )


def build(case: Case) -> bytes:
    """The damaged model bytes of ``case``."""
    rng = random.Random(f"{case.seed}/{case.index}")
    content, structure = _model(case_model(case))
    kind = case_kind(case)
    if kind == "truncate":
        return content[: rng.randrange(len(content))]
    if kind == "splice":
        other, _ = _model(rng.choice(model_paths()))
        return content[: rng.randrange(len(content))] + other[rng.randrange(len(other)) :]
    data = bytearray(content)
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        position = _position(rng, len(data), structure)
        if kind == "bitflip":
            data[position] ^= 1 << rng.randrange(8)
        elif rng.random() < 0.5:
            data[position] = rng.choice(_INTERESTING_BYTES)
        else:
            word = position - position % 4
            value = rng.choice(_INTERESTING_WORDS)
            if rng.random() < 0.3:
                value = rng.randrange(len(data))
            data[word : word + 4] = value.to_bytes(4, "little")[: len(data) - word]
    return bytes(data)


def _position(rng: random.Random, size: int, structure: tuple[int, ...]) -> int:
    if structure and rng.random() < _STRUCTURE_SHARE:
        return rng.choice(structure)
    return rng.randrange(size)


def corpus(count: int, seed: int, start: int = 0) -> list[Case]:
    return [Case(index, seed) for index in range(start, start + count)]
