"""Signature edits given on the command line, shared by ``pysig signatures`` and
``pysig convert``: every edit option is collected, in command-line order, into one list
of (option, value) pairs, and the renames among them become steps on a SignatureEditor."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Sequence

from ..bench.inputs import BadArgument
from ..model import SignatureEditor

EDITS = "edits"
RENAME_OPTIONS = (
    ("--rename", "KEY=NEWKEY", "rename a signature"),
    ("--rename-input", "KEY:NAME=NEWNAME", "rename an input of signature KEY"),
    ("--rename-output", "KEY:NAME=NEWNAME", "rename an output of signature KEY"),
)
Step = Callable[[SignatureEditor], None]


class InOrder(argparse.Action):
    """Collects every edit option into one list, in command-line order: edits apply in it."""

    def __call__(
        self,
        _parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        edits = list(getattr(namespace, EDITS) or [])
        edits.append((option_string or self.option_strings[0], values))
        setattr(namespace, EDITS, edits)


def add_edit_option(group: Any, option: str, metavar: str, text: str) -> None:
    group.add_argument(option, action=InOrder, metavar=metavar, help=text, dest=EDITS)


def add_rename_options(command: argparse.ArgumentParser, group: Any) -> None:
    """``--rename``, ``--rename-input``, ``--rename-output`` (each may repeat) into ``group``."""
    command.set_defaults(**{EDITS: []})
    for option, metavar, text in RENAME_OPTIONS:
        add_edit_option(group, option, metavar, text)


def rename_step(option: str, value: str) -> Step:
    """The step of one rename option; KEY is the key as the edits before it left it.

    A value that cannot be a rename is refused now, before any step runs."""
    usage = f"{option} {value!r}: expected " + (
        "KEY=NEWKEY" if option == "--rename" else "KEY:NAME=NEWNAME"
    )
    if option == "--rename":
        split(value, "=", (), usage)
    else:
        split(split(value, ":", (), usage)[1], "=", (), usage)

    def step(editor: SignatureEditor) -> None:
        keys = list(editor.get_signature_list())
        if option == "--rename":
            key, new_key = split(value, "=", keys, usage)
            editor.rename(key, new_key)
            return
        key, rest = split(value, ":", keys, usage)
        kind = "inputs" if option == "--rename-input" else "outputs"
        names = editor.get_signature_list().get(key, {}).get(kind, [])
        name, new_name = split(rest, "=", names, usage)
        if kind == "inputs":
            editor.rename_input(key, name, new_name)
        else:
            editor.rename_output(key, name, new_name)

    return step


def split(text: str, separator: str, known: Sequence[str], usage: str) -> tuple[str, str]:
    """Split at the ``separator`` whose left side is a known name (names may hold the
    separator, as tensor names hold ':'); else at the first one."""
    for position, char in enumerate(text):
        if char == separator and text[:position] in known:
            return text[:position], text[position + 1 :]
    left, sep, right = text.partition(separator)
    if not sep or not left or not right:
        raise BadArgument(usage)
    return left, right
