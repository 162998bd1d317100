"""Giving a model the signatures you want: add, rename and remove SignatureDefs in a file.

Edits are checked against the file as pysig reads it (so against what every runtime
will report), applied in order, and the result is re-serialized, verified by pysig's
own verifier and checked to hold exactly the signatures asked for before any byte is
written. Nothing else in the file changes: graph, weights and metadata are carried over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Union

from ..errors import SignatureEditError
from .file import ModelFile, SignatureSpec, unique_names
from .reader import PathLike, read_model, verified_model
from .writer import with_signatures, write_atomically

TensorRef = Union[str, int]  # a tensor's name in its subgraph, or its index
# Why a signature must give every input and output of its subgraph.
_EVERY_ONE = {
    "input": "a runner must set every input",
    # LiteRT's model loader refuses the whole file otherwise (status 501).
    "output": (
        "LiteRT cannot load a model whose signature leaves out an output of its subgraph; "
        "name them all and ignore those not needed"
    ),
}


@dataclass
class _Draft:
    key: str
    subgraph_index: int
    inputs: dict[str, int] = field(default_factory=dict)  # name -> tensor index
    outputs: dict[str, int] = field(default_factory=dict)
    # pysig's serving_default for a model without SignatureDefs: written only once edited.
    synthesized: bool = False


class SignatureEditor:
    """Edits of one model's signatures; each method returns the editor, to chain them.

    >>> editor = SignatureEditor("model.tflite")  # doctest: +SKIP
    >>> editor.rename("serving_default", "classify").rename_input("classify", "x", "image")
    >>> editor.write("classify.tflite")
    """

    def __init__(self, model: PathLike | bytes) -> None:
        self._path: str | None = None
        if isinstance(model, (bytes, bytearray, memoryview)):
            self._model = read_model(None, bytes(model))
        else:
            self._path = os.fspath(model)
            self._model = read_model(self._path, None)
        self._drafts = {key: _draft(spec) for key, spec in self._model.file.signatures.items()}
        self._edited = False
        self._result: bytes | None = None  # the last to_bytes(), until the next edit

    @property
    def file(self) -> ModelFile:
        """The model as read, before any edit."""
        return self._model.file

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        """The signatures as edited so far, in tf.lite's format and order."""
        return {
            key: {"inputs": _ordered(d.inputs, d), "outputs": _ordered(d.outputs, d)}
            for key, d in self._drafts.items()
        }

    @property
    def signatures(self) -> dict[str, SignatureSpec]:
        """The signatures as edited so far, with their tensors, in tf.lite's order."""
        result = {}
        for key, names in self.get_signature_list().items():
            draft = self._drafts[key]
            tensors = self.file.tensors(draft.subgraph_index)
            result[key] = SignatureSpec(
                key,
                draft.subgraph_index,
                {name: tensors[draft.inputs[name]] for name in names["inputs"]},
                {name: tensors[draft.outputs[name]] for name in names["outputs"]},
                draft.synthesized,
            )
        return result

    def rename(self, key: str, new_key: str) -> SignatureEditor:
        draft = self._draft(key)
        _check_name(new_key, "a signature key")
        if new_key != key and new_key in self._drafts:
            raise SignatureEditError(f"cannot rename {key!r} to {new_key!r}: that key is taken")
        draft.key, draft.synthesized = new_key, False
        self._drafts = {(new_key if k == key else k): d for k, d in self._drafts.items()}
        return self._changed()

    def rename_input(self, key: str, name: str, new_name: str) -> SignatureEditor:
        return self._rename_tensor(key, name, new_name, "input")

    def rename_output(self, key: str, name: str, new_name: str) -> SignatureEditor:
        return self._rename_tensor(key, name, new_name, "output")

    def remove(self, key: str) -> SignatureEditor:
        draft = self._draft(key)
        if draft.synthesized:
            raise SignatureEditError(
                f"{key!r} is the signature pysig synthesizes for a model without "
                "SignatureDefs; there is nothing in the file to remove"
            )
        del self._drafts[key]
        if not self._drafts:  # as every runtime will, pysig then synthesizes one
            self._drafts = {
                draft.key: draft for draft in [_draft(self.file.synthesized_signature())]
            }
        return self._changed()

    def add(
        self,
        key: str,
        inputs: Mapping[str, TensorRef] | None = None,
        outputs: Mapping[str, TensorRef] | None = None,
        subgraph: int = 0,
    ) -> SignatureEditor:
        """Add signature ``key`` over ``subgraph``: ``inputs`` and ``outputs`` map names to
        tensors (name or index) of that subgraph, every input and every output of it
        once (LiteRT loads nothing less). Left out, they are all of the subgraph's inputs
        (or outputs), named as pysig names a synthesized signature."""
        _check_name(key, "a signature key")
        if key in self._drafts and not self._drafts[key].synthesized:
            raise SignatureEditError(f"cannot add {key!r}: the model has a signature by that key")
        subgraphs = self.file.subgraphs
        if not isinstance(subgraph, int) or not 0 <= subgraph < len(subgraphs):
            raise SignatureEditError(
                f"subgraph {subgraph!r} does not exist (the model has {len(subgraphs)})"
            )
        spec = subgraphs[subgraph]
        tensors = self.file.tensors(subgraph)
        draft = _Draft(key, subgraph)
        for kind, given, allowed, target in (
            ("input", inputs, spec.inputs, draft.inputs),
            ("output", outputs, spec.outputs, draft.outputs),
        ):
            if given is None:
                names = unique_names([tensors[i].name for i in allowed], kind)
                target.update(zip(names, allowed))
                continue
            for name, ref in given.items():
                _check_name(name, f"an {kind} name")
                index = self._resolve(subgraph, ref, allowed, kind)
                if index in target.values():
                    raise SignatureEditError(
                        f"signature {key!r}: tensor {index} ({tensors[index].name!r}) is given "
                        f"as two {kind}s"
                    )
                target[name] = index
        for kind, allowed, chosen in (
            ("input", spec.inputs, draft.inputs),
            ("output", spec.outputs, draft.outputs),
        ):
            missing = [i for i in allowed if i not in chosen.values()]
            if missing:
                raise SignatureEditError(
                    f"signature {key!r} leaves out {kind}(s) of subgraph {subgraph}: "
                    + ", ".join(f"{tensors[i].name!r} (tensor {i})" for i in missing)
                    + f"; {_EVERY_ONE[kind]}"
                )
        # The synthesized serving_default steps aside: the file will have signatures.
        self._drafts = {k: d for k, d in self._drafts.items() if not d.synthesized or k == key}
        self._drafts[key] = draft
        return self._changed()

    def to_bytes(self) -> bytes:
        """The edited model, verified: the input's bytes unchanged when nothing was edited."""
        if not self._edited:
            return self._model.content
        if self._result is not None:
            return self._result
        written = [d for d in self._drafts.values() if not d.synthesized]
        content = with_signatures(
            self._model.content,
            [
                (d.key, d.subgraph_index, list(d.inputs.items()), list(d.outputs.items()))
                for d in written
            ],
        )
        result = verified_model(content, "the edited model")
        expected = self.get_signature_list()
        got = {
            key: {"inputs": list(s.inputs), "outputs": list(s.outputs)}
            for key, s in result.file.signatures.items()
        }
        if got != expected:  # a guard on the writer itself: never write a wrong model
            raise SignatureEditError(f"the edited model reads back as {got}, not {expected}")
        self._result = content
        return content

    def write(self, path: PathLike, *, overwrite_input: bool = False) -> None:
        """Write the edited model to ``path`` atomically. Writing over the model read is
        refused unless ``overwrite_input``."""
        target = os.fspath(path)
        exists = os.path.exists(target)
        replaces_input = self._path is not None and exists and os.path.samefile(target, self._path)
        if replaces_input and not overwrite_input:
            raise SignatureEditError(
                f"{target!r} is the model being edited; pass overwrite_input=True "
                "(pysig signatures --in-place) to replace it"
            )
        content = self.to_bytes()
        write_atomically(target, content, mode_from=target if exists else None)

    def _rename_tensor(self, key: str, name: str, new_name: str, kind: str) -> SignatureEditor:
        draft = self._draft(key)
        names = draft.inputs if kind == "input" else draft.outputs
        if name not in names:
            raise SignatureEditError(
                f"signature {key!r} has no {kind} {name!r} (its {kind}s: "
                f"{', '.join(map(repr, _ordered(names))) or 'none'})"
            )
        _check_name(new_name, f"an {kind} name")
        if new_name != name and new_name in names:
            raise SignatureEditError(
                f"cannot rename {kind} {name!r} of {key!r} to {new_name!r}: that name is taken"
            )
        renamed = {(new_name if n == name else n): i for n, i in names.items()}
        names.clear()
        names.update(renamed)
        draft.synthesized = False
        return self._changed()

    def _draft(self, key: str) -> _Draft:
        draft = self._drafts.get(key)
        if draft is None:
            raise SignatureEditError(
                f"no signature {key!r}; the model has: "
                f"{', '.join(map(repr, self._drafts)) or 'none'}"
            )
        return draft

    def _resolve(self, subgraph: int, ref: TensorRef, allowed: tuple[int, ...], kind: str) -> int:
        tensors = self.file.tensors(subgraph)
        if isinstance(ref, int) and not isinstance(ref, bool):
            if not 0 <= ref < len(tensors):
                raise SignatureEditError(
                    f"tensor {ref} is not in subgraph {subgraph} (it has {len(tensors)} tensors)"
                )
            index = ref
        elif isinstance(ref, str):
            matches = [t.index for t in tensors if t.name == ref]
            if not matches:
                raise SignatureEditError(f"subgraph {subgraph} has no tensor named {ref!r}")
            # A name several tensors share is fine when one of them is the kind asked for.
            index = matches[0]
            if len(matches) > 1:
                fitting = [i for i in matches if i in allowed]
                if len(fitting) != 1:
                    raise SignatureEditError(
                        f"{len(matches)} tensors of subgraph {subgraph} are named {ref!r} "
                        f"(indices {matches}); give the index instead"
                    )
                index = fitting[0]
        else:
            raise SignatureEditError(f"a tensor is a name or an index, not {ref!r}")
        if index not in allowed:
            raise SignatureEditError(
                f"tensor {index} ({tensors[index].name!r}) is not an {kind} of subgraph "
                f"{subgraph}; its {kind}s: "
                + (", ".join(f"{tensors[i].name!r} (tensor {i})" for i in allowed) or "none")
            )
        return index

    def _changed(self) -> SignatureEditor:
        self._edited, self._result = True, None
        return self


def _draft(spec: SignatureSpec) -> _Draft:
    return _Draft(
        spec.key,
        spec.subgraph_index,
        {name: t.index for name, t in spec.inputs.items()},
        {name: t.index for name, t in spec.outputs.items()},
        spec.synthesized,
    )


def _ordered(names: Mapping[str, int], draft: _Draft | None = None) -> list[str]:
    """Names in the order every runtime reports them: tflite_runtime's std::map, or the
    subgraph's order for a synthesized signature."""
    if draft is not None and draft.synthesized:
        return list(names)
    return sorted(names, key=lambda name: name.encode("utf-8"))


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise SignatureEditError(f"{what} must be a non-empty string, not {name!r}")
    if "\0" in name:
        raise SignatureEditError(f"{what} cannot hold a NUL character: {name!r}")
