"""Giving the converted model's signatures the keys and names the user asked for, with
pysig's signature editor, and keeping track of which TensorFlow names they stand for."""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

from ..bench.inputs import BadArgument
from ..errors import SignatureEditError
from ..model import SignatureEditor, SignatureSpec

Edit = Callable[[SignatureEditor], None]


class Origin(NamedTuple):
    """What a signature of the edited model was called before the edits."""

    key: str
    inputs: dict[str, str]  # name now -> name before
    outputs: dict[str, str]


def apply_edits(content: bytes, edits: Sequence[Edit]) -> tuple[bytes, dict[str, Origin]]:
    """The edited model, and each of its signature keys' origin; bad edits are usage errors."""
    editor = SignatureEditor(content)
    try:
        for edit in edits:
            edit(editor)
        edited = editor.to_bytes()
    except SignatureEditError as error:
        raise BadArgument(str(error)) from None
    before = {spec.subgraph_index: spec for spec in editor.file.signatures.values()}
    return edited, {
        key: _origin(spec, before[spec.subgraph_index]) for key, spec in editor.signatures.items()
    }


def _origin(now: SignatureSpec, before: SignatureSpec) -> Origin:
    # Renames keep every name on its tensor: the tensor index ties a new name to its old one.
    def names(new: dict[str, int], old: dict[str, int]) -> dict[str, str]:
        by_tensor = {index: name for name, index in old.items()}
        return {name: by_tensor[index] for name, index in new.items()}

    return Origin(
        before.key,
        names(
            {n: t.index for n, t in now.inputs.items()},
            {n: t.index for n, t in before.inputs.items()},
        ),
        names(
            {n: t.index for n, t in now.outputs.items()},
            {n: t.index for n, t in before.outputs.items()},
        ),
    )
