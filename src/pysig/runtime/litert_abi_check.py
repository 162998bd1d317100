"""The import-time check of pysig's LiteRT declarations against the live library.

pysig calls LiteRT's C API through its own declarations (third_party/litert_c): every
function must resolve at its VERS_1.0 version (checked when the library is loaded),
and the structs pysig reads (ranked tensor types, layouts) must mean what they say.
This compiles the demo model shipped in the package and checks what LiteRT reports
through those declarations (signature keys, names, element types, shapes) and what
it computes (`add` and `argmax` against numpy). Any difference refuses the runtime.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _pysig
from .._convert import coerce
from .._resources import demo_model_bytes
from ..errors import AbiMismatchError
from . import litert

# The demo model's signatures as its generator (scripts/make_test_models.py) builds them.
_EXPECTED = {
    "add": ({"x": (1, 4), "y": (1, 4)}, {"sum": (1, 4)}),
    "argmax": ({"x": (1, 8)}, {"index": (1,), "max": (1,)}),
    "scale": ({"x": (-1, 4)}, {"y": (-1, 4)}),
}


def verify_runtime_layout() -> None:
    """Raise AbiMismatchError if the declarations do not describe the installed LiteRT."""
    litert.load()
    session = litert.build_session(demo_model_bytes(), "the demo model", 1)
    problems: list[str] = []
    reported = {sig["key"]: sig for sig in _pysig.litert.signatures(session)}
    if set(reported) != set(_EXPECTED):
        _refuse([f"signature keys read as {sorted(reported)}, expected {sorted(_EXPECTED)}"])
    for key, (inputs, outputs) in _EXPECTED.items():
        for kind, expected in (("inputs", inputs), ("outputs", outputs)):
            shapes = {t["signature_name"]: tuple(t["shape_signature"]) for t in reported[key][kind]}
            if shapes != expected:
                problems.append(f"signature {key!r} {kind} read as {shapes}, expected {expected}")
    if problems:
        _refuse(problems)
    signatures = litert.signatures_of(session, "serving_default")
    rng = np.random.default_rng()
    x = rng.standard_normal((1, 4)).astype(np.float32)
    y = rng.standard_normal((1, 4)).astype(np.float32)
    added = _runner(session, signatures["add"])(x=x, y=y)["sum"]
    if not np.array_equal(added, x + y):
        problems.append(f"signature 'add' computed {added!r}, numpy {x + y!r}")
    values = rng.standard_normal((1, 8)).astype(np.float32)
    found = _runner(session, signatures["argmax"])(x=values)
    if found["index"].dtype != np.int32 or int(found["index"][0]) != int(np.argmax(values)):
        problems.append(f"signature 'argmax' found {found['index']!r}, numpy {np.argmax(values)}")
    if problems:
        _refuse(problems)


def _runner(session: Any, signature: litert.Signature) -> Any:
    return _pysig.Runner(
        session,
        signature.key,
        signature.key,
        signature.subgraph_index,
        list(signature.inputs.items()),
        list(signature.outputs.items()),
        coerce,
        [],
    )


def _refuse(problems: list[str]) -> None:
    raise AbiMismatchError(
        f"pysig's declarations of LiteRT's C API do not match the installed library (pysig "
        f"supports ai-edge-litert=={litert.VERSION} exactly); refusing to run on it:\n  "
        + "\n  ".join(problems[:20])
    )
