"""Renames of a model's signature keys, input names and output names, as asked for."""

from __future__ import annotations

from typing import NamedTuple


class Renames(NamedTuple):
    keys: dict[str, str]  # signature key -> new key
    inputs: dict[tuple[str, str], str]  # (signature key, input name) -> new name
    outputs: dict[tuple[str, str], str]  # (signature key, output name) -> new name

    def __bool__(self) -> bool:
        return bool(self.keys or self.inputs or self.outputs)
