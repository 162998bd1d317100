"""``pysig signatures``: list a model's signatures, or write a copy with them added,
renamed or removed (see pysig.model.SignatureEditor)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

from .._resources import DEMO_MODEL_PATH
from ..bench.inputs import BadArgument, describe
from ..errors import SignatureEditError
from ..model import SignatureEditor, TensorRef
from .common import add_command
from .edits import add_edit_option, add_rename_options, rename_step


def add_parser(commands: Any) -> None:
    command = add_command(
        commands,
        "signatures",
        _signatures,
        help="list signatures, or write a copy of the model with them added, renamed or removed",
        description="With no edit, list the model's signatures as every runtime reports them. "
        "Edits apply in the order given; the result is verified and written atomically to "
        "-o OUT (never over MODEL unless --in-place). Everything else in the model stays "
        "as it was. A model without SignatureDefs lists pysig's synthesized "
        "'serving_default'; editing it, or adding a signature, writes real SignatureDefs.",
        epilog="Example: pysig signatures model.tflite -o out.tflite --add classify "
        "--input image=input_1 --output scores=Identity",
    )
    command.add_argument("-o", "--output-file", metavar="OUT", help="write the edited model here")
    command.add_argument("--in-place", action="store_true", help="replace MODEL with the edit")
    command.add_argument("--json", action="store_true", help="list the signatures as JSON")
    edits = command.add_argument_group("edits (each may repeat)")
    add_rename_options(command, edits)
    for option, metavar, text in (
        ("--remove", "KEY", "remove a signature"),
        (
            "--add",
            "KEY",
            (
                "add a signature; with no --input/--output after it, it takes all of its "
                "subgraph's inputs and outputs, named by their tensor names"
            ),
        ),
        ("--input", "NAME=TENSOR", "an input of the last --add (TENSOR: a name or index)"),
        ("--output", "NAME=TENSOR", "an output of the last --add (TENSOR: a name or index)"),
        ("--subgraph", "N", "the subgraph of the last --add (default 0)"),
    ):
        add_edit_option(edits, option, metavar, text)


def _signatures(args: argparse.Namespace) -> int:
    path = DEMO_MODEL_PATH if args.model is None else args.model
    edits: list[tuple[str, str]] = args.edits
    if args.in_place and args.output_file is not None:
        raise BadArgument("give either -o OUT or --in-place, not both")
    if args.in_place and args.model is None:
        raise BadArgument("--in-place needs a MODEL: the demo model is not to be edited")
    target = path if args.in_place else args.output_file
    if target is not None and not edits:
        raise BadArgument("nothing to edit: give --rename, --remove, --add... with -o")
    if edits and target is None:
        raise BadArgument("give -o OUT (or --in-place) to write the edited model")
    editor = SignatureEditor(path)
    try:
        for apply in _plan(edits):
            apply(editor)
        if target is not None:
            editor.write(target, overwrite_input=args.in_place)
    except SignatureEditError as error:
        raise BadArgument(str(error)) from None
    listing = _listing(editor)
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        print(_listing_text(listing))
        if target is not None:
            print(f"\nwrote {target}")
    return 0


class _Add:
    def __init__(self, key: str) -> None:
        self.key = key
        self.inputs: dict[str, TensorRef] | None = None
        self.outputs: dict[str, TensorRef] | None = None
        self.subgraph = 0

    def __call__(self, editor: SignatureEditor) -> None:
        editor.add(self.key, self.inputs, self.outputs, self.subgraph)


def _plan(edits: Sequence[tuple[str, str]]) -> list[Any]:
    """The edits as steps on an editor; --input/--output/--subgraph belong to the last --add."""
    steps: list[Any] = []
    last_add: _Add | None = None
    for option, value in edits:
        if option == "--add":
            last_add = _Add(value)
            steps.append(last_add)
        elif option in ("--input", "--output", "--subgraph"):
            if last_add is None:
                raise BadArgument(f"{option} {value}: it belongs to an --add KEY given before it")
            if option == "--subgraph":
                last_add.subgraph = _integer(value, option)
                continue
            name, sep, tensor = value.partition("=")
            if not sep or not name or not tensor:
                raise BadArgument(f"{option} {value!r}: expected NAME=TENSOR")
            ref: TensorRef = int(tensor) if tensor.isdigit() else tensor
            kind = "inputs" if option == "--input" else "outputs"
            mapping = getattr(last_add, kind) or {}
            if name in mapping:
                raise BadArgument(f"{option} {value!r}: the name {name!r} is given twice")
            mapping[name] = ref
            setattr(last_add, kind, mapping)
        else:
            steps.append(_edit_step(option, value))
    return steps


def _edit_step(option: str, value: str) -> Any:
    if option != "--remove":
        return rename_step(option, value)

    def remove(editor: SignatureEditor) -> None:
        editor.remove(value)

    return remove


def _integer(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadArgument(f"{option}: expected an integer, got {text!r}") from None


def _listing(editor: SignatureEditor) -> dict[str, Any]:
    """The signatures as they stand after the edits (those of the model written, if any)."""
    return {
        key: {
            "subgraph_index": signature.subgraph_index,
            "synthesized": signature.synthesized,
            **{
                kind: {
                    name: {
                        "tensor": t.name,
                        "index": t.index,
                        "type": describe(t.dtype, t.shape_signature),
                    }
                    for name, t in tensors.items()
                }
                for kind, tensors in (("inputs", signature.inputs), ("outputs", signature.outputs))
            },
        }
        for key, signature in editor.signatures.items()
    }


def _listing_text(listing: dict[str, Any]) -> str:
    lines = []
    for key, entry in listing.items():
        note = ", synthesized: the model has no SignatureDefs" if entry["synthesized"] else ""
        lines.append(f"{key!r} (subgraph {entry['subgraph_index']}{note})")
        for kind in ("inputs", "outputs"):
            for name, tensor in entry[kind].items():
                lines.append(
                    f"  {kind[:-1]:<6}  {name}: {tensor['type']}, tensor {tensor['tensor']!r} "
                    f"#{tensor['index']}"
                )
        if not entry["inputs"] and not entry["outputs"]:
            lines.append("  (no inputs or outputs)")
    return "\n".join(lines) if lines else "(no signatures)"
