"""A signature as both runtimes' glue describes it to the runner."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence


class Signature(NamedTuple):
    """One signature: names mapped to tensor indices in its subgraph."""

    key: str
    subgraph_index: int
    inputs: dict[str, int]
    outputs: dict[str, int]
    synthesized: bool


def unique_names(details: Sequence[Mapping[str, Any]], kind: str) -> dict[str, int]:
    """Tensor names as signature names; a missing or repeated one becomes `<kind>_<i>`."""
    names = [d["name"] for d in details]
    return {
        (name if name and names.count(name) == 1 else f"{kind}_{i}"): int(d["index"])
        for i, (name, d) in enumerate(zip(names, details))
    }
