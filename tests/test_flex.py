"""Flex (Select TF) models where TensorFlow cannot provide the ops: the error names the ops
from the file and says what to install. Runs without TensorFlow: a fake distribution on
sys.path stands for an installed TensorFlow of the wrong version."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
from _support import model_path, run_python

import pysig
from pysig.model import inspect_model
from pysig.runtime.choose import installed
from pysig.runtime.flex import flex_ops, refuse_flex_off_tflite

FLEX_MODEL = model_path("flex_encode_decode")
FLEX_OPS = ("FlexAsString", "FlexStringToNumber")
# A fake `tensorflow` package refuses to be imported: pysig must only read its metadata.
FAKE_INIT = "raise ImportError('pysig imported the tensorflow package')\n"


def _no_tensorflow() -> None:
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.fail("the main suite runs without TensorFlow; its tests are marked 'tensorflow'")


def fake_tensorflow(root: Path, version: str, library: bytes = b"not a library") -> Path:
    """A site directory holding a `tensorflow` package and its distribution metadata."""
    package = root / "tensorflow"
    (package / "python").mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_INIT)
    (package / "python" / "_pywrap_tensorflow_internal.so").write_bytes(library)
    info = root / f"tensorflow_cpu-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tensorflow-cpu\nVersion: {version}\n"
    )
    (info / "RECORD").write_text("tensorflow/__init__.py,,\n")
    return root


def run_with_site(code: str, site: Path | None = None) -> str:
    """What ``code`` prints in a child interpreter that sees ``site`` first."""
    prelude = f"import sys; sys.path.insert(0, {str(site)!r})\n" if site else ""
    return run_python(prelude + textwrap.dedent(code), timeout=120)


# Flex ops run on the tflite runtime only; these tests are of its TensorFlow checks.
needs_tflite = pytest.mark.skipif(
    not installed("tflite"), reason="tflite-runtime is not installed (CPython 3.8-3.11)"
)


LOAD_FLEX = f"""
    import pysig
    try:
        pysig.Interpreter({FLEX_MODEL!r}, runtime="tflite")
    except pysig.FlexOpError as error:
        print(error.ops)
        print(error)
    else:
        print("loaded")
    """


def test_flex_ops_are_read_from_the_file() -> None:
    assert flex_ops(inspect_model(FLEX_MODEL)) == list(FLEX_OPS)
    assert flex_ops(inspect_model(pysig.DEMO_MODEL_PATH)) == []


@needs_tflite
def test_without_tensorflow_the_error_names_the_ops_and_the_extra() -> None:
    _no_tensorflow()
    with pytest.raises(pysig.FlexOpError) as info:
        pysig.Interpreter(FLEX_MODEL, runtime="tflite")
    assert info.value.ops == FLEX_OPS
    message = str(info.value)
    assert "FlexAsString, FlexStringToNumber" in message
    assert "TensorFlow is not installed" in message
    assert 'pip install "pysig[flex]"' in message
    assert "tensorflow-cpu==2.14" in message or "tensorflow==2.14" in message
    with pytest.raises(pysig.FlexOpError, match="FlexStringToNumber"):
        pysig.Pool(FLEX_MODEL, size=2, runtime="tflite")


@needs_tflite
def test_wrong_tensorflow_version_is_refused_without_importing_it(tmp_path: Path) -> None:
    _no_tensorflow()
    site = fake_tensorflow(tmp_path, "2.18.0")
    out = run_with_site(LOAD_FLEX, site)
    ops, message = out.splitlines()
    assert ops == str(FLEX_OPS)
    assert "TensorFlow 2.18.0 is installed" in message
    assert "only TensorFlow 2.14.x matches tflite-runtime 2.14.0" in message
    assert 'pip install "pysig[flex]"' in message


@needs_tflite
def test_an_imported_tensorflow_of_another_version_is_refused() -> None:
    _no_tensorflow()
    # The runtime would take the Flex delegate of whatever TensorFlow is already loaded.
    out = run_with_site(
        "import sys, types\n"
        "sys.modules['tensorflow'] = types.SimpleNamespace(__version__='2.18.0')\n"
        + textwrap.dedent(LOAD_FLEX)
    )
    assert "TensorFlow 2.18.0 is already imported in this process" in out


@needs_tflite
def test_a_tensorflow_library_that_does_not_load_is_reported(tmp_path: Path) -> None:
    _no_tensorflow()
    site = fake_tensorflow(tmp_path, "2.14.1")
    out = run_with_site(LOAD_FLEX, site)
    message = out.splitlines()[1]
    assert "_pywrap_tensorflow_internal.so could not be loaded" in message
    assert "FlexAsString, FlexStringToNumber" in message


@needs_tflite
def test_tensorflow_without_distribution_metadata_is_refused(tmp_path: Path) -> None:
    _no_tensorflow()
    site = fake_tensorflow(tmp_path, "2.14.1")
    for info in site.glob("*.dist-info"):
        for file in info.iterdir():
            file.unlink()
        info.rmdir()
    out = run_with_site(LOAD_FLEX, site)
    assert "has no installed distribution" in out


def test_models_without_flex_ops_never_look_for_tensorflow(tmp_path: Path) -> None:
    site = fake_tensorflow(tmp_path, "2.18.0")
    out = run_with_site(
        """
        import pysig
        from pysig.runtime import flex
        add = pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_runner("add")
        print(add(x=[[1, 2, 3, 4]], y=[[1, 1, 1, 1]])["sum"].tolist(), flex._library)
        """,
        site,
    )
    assert out.strip() == "[[2.0, 3.0, 4.0, 5.0]] None"


def test_other_runtimes_say_flex_needs_the_tflite_runtime() -> None:
    with pytest.raises(pysig.FlexOpError, match='runtime="tflite"') as info:
        refuse_flex_off_tflite(inspect_model(FLEX_MODEL), "'flex.tflite'", "litert")
    assert info.value.ops == FLEX_OPS
    assert "FlexAsString, FlexStringToNumber" in str(info.value)
    # No Flex ops: nothing to refuse.
    refuse_flex_off_tflite(inspect_model(pysig.DEMO_MODEL_PATH), "demo", "litert")
