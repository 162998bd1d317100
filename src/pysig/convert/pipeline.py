"""One conversion from start to end: source, converter, renames, notices, parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, NamedTuple

from ..interpreter import Interpreter
from .converter import chosen_keys, convert_saved_model, signature_functions
from .notices import conversion_notices
from .options import ConvertOptions
from .parity import OutputParity, check_parity
from .rename import SignatureList, apply_renames, check_renames
from .sources import load_source


class Conversion(NamedTuple):
    content: bytes  # the .tflite file, renamed
    signatures: SignatureList  # its signatures, in tf.lite's get_signature_list() format
    notices: list[str]
    functions: Mapping[str, Any]  # SavedModel key -> concrete function
    keys: list[str]  # the SavedModel keys converted
    options: ConvertOptions


def convert(source_text: str, options: ConvertOptions, workdir: Path) -> Conversion:
    """Convert; ``workdir`` must outlive the parity check (it may hold the SavedModel)."""
    source = load_source(source_text, workdir)
    functions = signature_functions(source.saved_model_dir)
    keys = chosen_keys(list(functions), options.signature_keys)
    converted = convert_saved_model(source.saved_model_dir, keys, functions, options)
    before = _signature_list(converted)
    check_renames(before, options.renames)
    notices = source.notes + conversion_notices(
        available=list(functions),
        chosen=keys,
        functions=functions,
        signatures=before,
        content=converted,
        keras_layers=source.keras_layers,
    )
    content = apply_renames(converted, options.renames)
    return Conversion(content, _signature_list(content), notices, functions, keys, options)


def parity(conversion: Conversion, atol: float, rtol: float, seed: int) -> list[OutputParity]:
    return check_parity(
        conversion.content,
        conversion.functions,
        [key for key in conversion.keys if key in _signature_list_keys(conversion)],
        conversion.options.renames,
        atol,
        rtol,
        seed,
    )


def _signature_list_keys(conversion: Conversion) -> set[str]:
    renamed = {new: old for old, new in conversion.options.renames.keys.items()}
    return {renamed.get(key, key) for key in conversion.signatures}


def _signature_list(content: bytes) -> SignatureList:
    # Loading it in pysig is also the first check that pysig can run what was written.
    with Interpreter(model_content=content) as interpreter:
        return interpreter.get_signature_list()
