"""One conversion from start to end: source, converter, renames, notices, parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, NamedTuple

from ..model import inspect_model
from .converter import (
    check_tensorflow_version,
    chosen_keys,
    convert_saved_model,
    signature_functions,
)
from .notices import SignatureList, conversion_notices
from .options import ConvertOptions
from .parity import OutputParity, check_parity
from .rename import Origin, apply_edits
from .sources import load_source


class Conversion(NamedTuple):
    content: bytes  # the .tflite file, renamed
    signatures: SignatureList  # its signatures, in tf.lite's get_signature_list() format
    notices: list[str]
    functions: Mapping[str, Any]  # SavedModel key -> concrete function
    origins: dict[str, Origin]  # the file's signature keys -> their TensorFlow names


def convert(source_text: str, options: ConvertOptions, workdir: Path) -> Conversion:
    """Convert; ``workdir`` must outlive the parity check (it may hold the SavedModel)."""
    check_tensorflow_version()
    source = load_source(source_text, workdir)
    functions = signature_functions(source.saved_model_dir)
    keys = chosen_keys(list(functions), options.signature_keys)
    converted = convert_saved_model(source.saved_model_dir, keys, functions, options)
    notices = source.notes + conversion_notices(
        available=list(functions),
        chosen=keys,
        functions=functions,
        signatures=_signature_list(converted),
        content=converted,
        keras_layers=source.keras_layers,
    )
    content, origins = apply_edits(converted, options.edits)
    return Conversion(content, _signature_list(content), notices, functions, origins)


def parity(conversion: Conversion, atol: float, rtol: float, seed: int) -> list[OutputParity]:
    return check_parity(
        conversion.content, conversion.functions, conversion.origins, atol, rtol, seed
    )


def _signature_list(content: bytes) -> SignatureList:
    signatures = inspect_model(content).signatures
    return {
        key: {"inputs": list(spec.inputs), "outputs": list(spec.outputs)}
        for key, spec in signatures.items()
    }
