"""The signature renaming options that ``pysig signatures`` and ``pysig convert`` share:
``--rename KEY=NEWKEY``, ``--rename-input KEY:NAME=NEWNAME``, ``--rename-output KEY:NAME=NEWNAME``."""

from __future__ import annotations

import argparse
from typing import Hashable, TypeVar

from ..bench.inputs import BadArgument
from ..model.renames import Renames

K = TypeVar("K", bound=Hashable)


def parse_key_rename(text: str) -> tuple[str, str]:
    """``KEY=NEWKEY`` -> (key, new key); for argparse ``type=``."""
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise argparse.ArgumentTypeError(f"expected KEY=NEWKEY, got {text!r}")
    return old, new


def parse_name_rename(text: str) -> tuple[str, str, str]:
    """``KEY:NAME=NEWNAME`` -> (key, name, new name); for argparse ``type=``."""
    target, sep, new = text.rpartition("=")
    key, colon, name = target.partition(":")
    if not sep or not colon or not key or not name or not new:
        raise argparse.ArgumentTypeError(f"expected KEY:NAME=NEWNAME, got {text!r}")
    return key, name, new


def add_rename_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--rename",
        action="append",
        default=[],
        type=parse_key_rename,
        metavar="KEY=NEWKEY",
        help="give signature KEY the key NEWKEY (repeatable)",
    )
    command.add_argument(
        "--rename-input",
        action="append",
        default=[],
        type=parse_name_rename,
        metavar="KEY:NAME=NEWNAME",
        help="rename input NAME of signature KEY (its key before any --rename; repeatable)",
    )
    command.add_argument(
        "--rename-output",
        action="append",
        default=[],
        type=parse_name_rename,
        metavar="KEY:NAME=NEWNAME",
        help="rename output NAME of signature KEY (its key before any --rename; repeatable)",
    )


def renames_from(args: argparse.Namespace) -> Renames:
    """The renames the options ask for; the same name renamed twice is a usage error."""
    keys: dict[str, str] = {}
    for old, new in args.rename:
        _add(keys, old, new, f"--rename {old}")
    inputs: dict[tuple[str, str], str] = {}
    for key, name, new in args.rename_input:
        _add(inputs, (key, name), new, f"--rename-input {key}:{name}")
    outputs: dict[tuple[str, str], str] = {}
    for key, name, new in args.rename_output:
        _add(outputs, (key, name), new, f"--rename-output {key}:{name}")
    return Renames(keys, inputs, outputs)


def _add(renames: dict[K, str], old: K, new: str, option: str) -> None:
    if old in renames and renames[old] != new:
        raise BadArgument(f"{option}: renamed twice ({renames[old]!r} and {new!r})")
    renames[old] = new
