"""The tflite runtime's Python glue: building a tflite_runtime interpreter from verified
model bytes, and translating its load failures into pysig's errors."""

from __future__ import annotations

import re
from typing import Any, Sequence

from tflite_runtime import _pywrap_tensorflow_interpreter_wrapper as _wrapper
from tflite_runtime.interpreter import Interpreter as TfliteInterpreter
from tflite_runtime.interpreter import OpResolverType

from .. import _pysig
from ..errors import FlexOpError, ModelLoadError, UnsupportedOpError
from ..model import SYNTHESIZED_KEY, Model, SignatureSpec, TensorSpec
from ..model.file import unique_names
from .flex import prepare_flex
from .messages import as_sentences

# The backend calls the runtime's C++ functions in the library tflite_runtime loaded.
_pysig.tflite.load(_wrapper.__file__)

OP_RESOLVERS = {
    "auto": OpResolverType.AUTO,
    "builtin": OpResolverType.BUILTIN,
    "builtin_ref": OpResolverType.BUILTIN_REF,
    "builtin_without_default_delegates": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
}

_CUSTOM_OP = re.compile(r"unresolved custom op: (\S+?)\.?(?:\s|$)", re.IGNORECASE)
_FLEX_HINTS = ("Select TensorFlow op", "Flex")
_FLEX_OP = re.compile(r"\b(Flex\w+)")


def build_interpreter(
    model: Model,
    *,
    num_threads: int | None = None,
    delegates: Sequence[Any] | None = None,
    op_resolver: str = "auto",
) -> TfliteInterpreter:
    """Create a tflite_runtime interpreter, translating its failures into pysig errors."""
    if op_resolver not in OP_RESOLVERS:
        raise ValueError(f"op_resolver must be one of {sorted(OP_RESOLVERS)}, not {op_resolver!r}")
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"num_threads must be a positive int or None, not {num_threads!r}")
    # Before the interpreter is built: that is when the runtime looks for the Flex delegate.
    source = model.source
    flex = prepare_flex(model.file, source)
    if flex and op_resolver == "builtin_ref":
        # Measured: with the reference kernels the runtime does not apply the Flex delegate.
        raise FlexOpError(
            f"{source} needs TensorFlow (Select TF / Flex) ops {', '.join(flex)}, which the "
            'runtime does not run with op_resolver="builtin_ref"; use "auto", "builtin" or '
            '"builtin_without_default_delegates"',
            ops=flex,
        )
    try:
        return TfliteInterpreter(
            model_content=model.content,
            num_threads=num_threads,
            experimental_delegates=list(delegates) if delegates else None,
            experimental_op_resolver_type=OP_RESOLVERS[op_resolver],
        )
    except (ValueError, RuntimeError) as error:
        raise translate_load_error(str(error), source) from error


def translate_load_error(message: str, source: str) -> ModelLoadError:
    """The pysig error for a runtime message about a model that cannot be prepared."""
    details = as_sentences(message)
    if any(hint in details for hint in _FLEX_HINTS):
        # pysig checks a model's Flex ops before building it; this is the runtime's own
        # refusal (an interpreter from from_tflite(), or a Flex delegate that failed).
        return FlexOpError(
            f"{source} needs TensorFlow (Select TF / Flex) ops that the runtime could not "
            f"run. Runtime said: {details}",
            ops=sorted(set(_FLEX_OP.findall(details))),
        )
    custom = sorted(set(_CUSTOM_OP.findall(details)))
    if custom:
        return UnsupportedOpError(
            f"{source} needs custom op(s) {', '.join(custom)} that this runtime does not "
            f"have; register them with tflite_runtime's InterpreterWithCustomOps and use "
            f"pysig.Interpreter.from_tflite(). Runtime said: {details}",
            ops=custom,
        )
    return ModelLoadError(f"cannot load {source}: {details}")


def signatures_from_interpreter(tflite: TfliteInterpreter) -> dict[str, SignatureSpec]:
    """The signatures a tflite_runtime interpreter reports, for one built from a path
    (everywhere else pysig reads them from the model file), with the same rules."""
    wrapper = tflite._interpreter
    full = tflite._get_full_signature_list()
    if full:
        signatures = {}
        for key, names in full.items():
            subgraph = wrapper.GetSubgraphIndexFromSignature(key)
            inputs, outputs = (
                {
                    name: TensorSpec.from_details(tflite._get_tensor_details(index, subgraph))
                    for name, index in names[kind].items()
                }
                for kind in ("inputs", "outputs")
            )
            signatures[key] = SignatureSpec(key, subgraph, inputs, outputs)
        return signatures
    inputs, outputs = (
        {
            name: TensorSpec.from_details(detail)
            for name, detail in zip(unique_names([d["name"] for d in details], kind), details)
        }
        for kind, details in (
            ("input", tflite.get_input_details()),
            ("output", tflite.get_output_details()),
        )
    )
    return {SYNTHESIZED_KEY: SignatureSpec(SYNTHESIZED_KEY, 0, inputs, outputs, True)}
