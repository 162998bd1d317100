"""Giving the converted model's signatures the keys and names the user asked for.

Until pysig's model layer can edit signatures, this edits the converted file with the
flatbuffer tools TensorFlow ships (a conversion has TensorFlow at hand anyway).
"""

from __future__ import annotations

from typing import Any, Mapping

from tensorflow.lite.tools import flatbuffer_utils

from ..bench.inputs import BadArgument
from ..model.renames import Renames

SignatureList = Mapping[str, Mapping[str, Any]]  # tf.lite's get_signature_list() format


def check_renames(signatures: SignatureList, renames: Renames) -> None:
    """Refuse renames of keys or names the converted model lacks, or that would collide."""
    keys = list(signatures)
    for key in renames.keys:
        _known(key, keys, "--rename", "signature", "the model's signatures")
    new_keys = [renames.keys.get(key, key) for key in keys]
    _unique(new_keys, "--rename", "signature key")
    for option, kind, renamed in (
        ("--rename-input", "inputs", renames.inputs),
        ("--rename-output", "outputs", renames.outputs),
    ):
        for key, name in renamed:
            _known(key, keys, option, "signature", "the model's signatures")
            names = list(signatures[key][kind])
            _known(name, names, f"{option} {key}:{name}", kind[:-1], f"its {kind}")
        for key in keys:
            names = [renamed.get((key, name), name) for name in signatures[key][kind]]
            _unique(names, option, f"{kind[:-1]} name of signature {key!r}")


def apply_renames(content: bytes, renames: Renames) -> bytes:
    if not renames:
        return content
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    for signature in model.signatureDefs:
        key = _text(signature.signatureKey)
        for tensor_map, renamed in (
            (signature.inputs, renames.inputs),
            (signature.outputs, renames.outputs),
        ):
            for entry in tensor_map:
                new = renamed.get((key, _text(entry.name)))
                if new is not None:
                    entry.name = new
        if key in renames.keys:
            signature.signatureKey = renames.keys[key]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _known(name: str, valid: list[str], option: str, kind: str, where: str) -> None:
    if name not in valid:
        raise BadArgument(
            f"{option}: no {kind} {name!r} in the converted model ({where}: "
            f"{', '.join(map(repr, valid)) or 'none'})"
        )


def _unique(names: list[str], option: str, what: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadArgument(f"{option}: {what} {repeated[0]!r} would be used twice")
