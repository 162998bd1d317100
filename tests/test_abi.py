"""The import-time check of pysig's runtime declarations."""

from __future__ import annotations

from typing import Any

import pytest
from _support import INSTALLED_RUNTIMES

import pysig
from pysig import _pysig

if "tflite" in INSTALLED_RUNTIMES:
    from pysig.runtime import tflite_abi_check as _abi_check
if "litert" in INSTALLED_RUNTIMES:
    from pysig.runtime import litert_abi_check

needs_tflite = pytest.mark.skipif("tflite" not in INSTALLED_RUNTIMES, reason="checks tflite's")
needs_litert = pytest.mark.skipif("litert" not in INSTALLED_RUNTIMES, reason="checks LiteRT's")


@needs_tflite
def test_declarations_match_the_installed_runtime() -> None:
    # `import pysig` ran it already; run it again so a failure shows here by name.
    _abi_check.verify_runtime_layout()


@needs_tflite
def test_a_layout_difference_refuses_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _pysig.tflite.inspect_tensor

    def shifted(handle: int, subgraph: int, index: int) -> Any:
        result = real(handle, subgraph, index)
        result["shape"] = (*result["shape"], 1)  # as if dims were read at the wrong offset
        return result

    monkeypatch.setattr(_pysig.tflite, "inspect_tensor", shifted)
    with pytest.raises(
        pysig.AbiMismatchError,
        match=r"(?s)tflite-runtime==2\.14\.0.*tensor 0 shape: read \(1, 4, 1\)",
    ) as info:
        _abi_check.verify_runtime_layout()
    assert isinstance(info.value, ImportError)


@needs_tflite
def test_a_wrong_signature_subgraph_refuses_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pysig.tflite, "signature_subgraph", lambda *_: 7)
    with pytest.raises(pysig.AbiMismatchError, match="runs subgraph 7"):
        _abi_check.verify_runtime_layout()


@needs_litert
def test_litert_declarations_match_the_installed_library() -> None:
    litert_abi_check.verify_runtime_layout()


@needs_litert
def test_a_litert_layout_difference_refuses_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _pysig.litert.signatures

    def shifted(session: Any) -> Any:
        signatures = real(session)
        for tensor in signatures[0]["inputs"]:
            # as if the layout's dimensions were read one int32 further on
            tensor["shape_signature"] = (*tensor["shape_signature"][1:], 0)
        return signatures

    monkeypatch.setattr(_pysig.litert, "signatures", shifted)
    with pytest.raises(pysig.AbiMismatchError, match=r"(?s)ai-edge-litert==2\.3\.0.*read as"):
        litert_abi_check.verify_runtime_layout()


@needs_litert
def test_a_refused_runtime_is_passed_over_by_auto_and_named_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pysig.runtime import choose

    refusal = pysig.AbiMismatchError("pysig's declarations of LiteRT's C API do not match")
    monkeypatch.setitem(choose._refused, "litert", refusal)
    monkeypatch.delenv(choose.ENVIRONMENT_VARIABLE)
    with pytest.raises(pysig.AbiMismatchError, match="do not match"):
        pysig.Interpreter(pysig.DEMO_MODEL_PATH, runtime="litert")
    if "tflite" in INSTALLED_RUNTIMES:
        assert pysig.Interpreter(pysig.DEMO_MODEL_PATH).runtime == "tflite"
