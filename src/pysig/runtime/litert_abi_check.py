"""The import-time check of pysig's LiteRT declarations against the live library.

pysig calls LiteRT's C API through its own declarations (third_party/litert_c): every
function must resolve at its VERS_1.0 version (checked when the library is loaded),
and the structs pysig reads (ranked tensor types, layouts, quantization) must mean
what they say. This compiles the demo model shipped in the package and compares what
LiteRT reports through those declarations (signature keys; each input's and output's
name, tensor index, element type and shape signature) with what pysig reads from the
model file itself, then runs `add` and `argmax` and compares with numpy. Any
difference refuses the runtime.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _pysig
from .._convert import coerce
from .._resources import demo_model_bytes
from ..errors import AbiMismatchError
from ..model import SignatureSpec
from ..model.reader import verified_model
from . import litert


def verify_runtime_layout() -> None:
    """Raise AbiMismatchError if the declarations do not describe the installed LiteRT."""
    model = verified_model(demo_model_bytes(), "the demo model")
    session = litert.build_session(model.content, model.source, 1)
    expected = model.file.signatures
    reported = {sig["key"]: sig for sig in _pysig.litert.signatures(session)}
    if set(reported) != set(expected):
        _refuse([f"signature keys read as {sorted(reported)}, expected {sorted(expected)}"])
    problems: list[str] = []
    for key, signature in expected.items():
        for kind in ("inputs", "outputs"):
            specs = getattr(signature, kind)
            mine = {
                t["signature_name"]: (
                    int(t["index"]),
                    np.dtype(_pysig.numpy_dtype(int(t["type"]))),
                    tuple(t["shape_signature"]),
                )
                for t in reported[key][kind]
            }
            theirs = {
                name: (spec.index, np.dtype(spec.dtype), tuple(spec.shape_signature))
                for name, spec in specs.items()
            }
            if mine != theirs:
                problems.append(f"signature {key!r} {kind} read as {mine}, expected {theirs}")
    if problems:
        _refuse(problems)
    rng = np.random.default_rng()
    x = rng.standard_normal((1, 4)).astype(np.float32)
    y = rng.standard_normal((1, 4)).astype(np.float32)
    added = _runner(session, expected["add"])(x=x, y=y)["sum"]
    if not np.array_equal(added, x + y):
        problems.append(f"signature 'add' computed {added!r}, numpy {x + y!r}")
    values = rng.standard_normal((1, 8)).astype(np.float32)
    found = _runner(session, expected["argmax"])(x=values)
    if found["index"].dtype != np.int32 or int(found["index"][0]) != int(np.argmax(values)):
        problems.append(f"signature 'argmax' found {found['index']!r}, numpy {np.argmax(values)}")
    if problems:
        _refuse(problems)


def _runner(session: Any, signature: SignatureSpec) -> Any:
    return _pysig.Runner(
        session,
        signature.key,
        signature.key,
        signature.subgraph_index,
        [(n, t.index, list(t.shape_signature)) for n, t in signature.inputs.items()],
        [(n, t.index, list(t.shape_signature)) for n, t in signature.outputs.items()],
        coerce,
        [],
        [],
    )


def _refuse(problems: list[str]) -> None:
    raise AbiMismatchError(
        f"pysig's declarations of LiteRT's C API do not match the installed library (pysig "
        f"supports ai-edge-litert=={litert.VERSION} exactly); refusing to run on it:\n  "
        + "\n  ".join(problems[:20])
    )
