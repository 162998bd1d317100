"""The import-time check of pysig's runtime declarations."""

from __future__ import annotations

from typing import Any

import pytest

import pysig
from pysig import _pysig
from pysig.runtime import tflite_abi_check as _abi_check


def test_declarations_match_the_installed_runtime() -> None:
    # `import pysig` ran it already; run it again so a failure shows here by name.
    _abi_check.verify_runtime_layout()


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


def test_a_wrong_signature_subgraph_refuses_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pysig.tflite, "signature_subgraph", lambda *_: 7)
    with pytest.raises(pysig.AbiMismatchError, match="runs subgraph 7"):
        _abi_check.verify_runtime_layout()
