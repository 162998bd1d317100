"""`pysig convert` where TensorFlow is not installed, its usage errors, and proof that no
other command, and not `import pysig`, imports TensorFlow (the tests marked 'tensorflow'
convert for real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_flex import fake_tensorflow

from pysig import cli

SAVED_MODEL = "a_saved_model_dir"


def pysig_command(*args: str, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys\n"
    if site is not None:
        code += f"sys.path.insert(0, {str(site)!r})\n"
    code += f"from pysig.cli import main\nsys.exit(main({list(args)!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_help_needs_no_tensorflow(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["convert", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--signature", "--rename-input", "--select-tf-ops", "--quantize", "--atol"):
        assert option in out
    assert 'pip install "pysig[convert]"' in " ".join(out.split())


def test_without_tensorflow_it_says_what_to_install(tmp_path: Path) -> None:
    if subprocess.run([sys.executable, "-c", "import tensorflow"], check=False).returncode == 0:
        pytest.fail("the main suite runs without TensorFlow; its tests are marked 'tensorflow'")
    result = pysig_command("convert", str(tmp_path), "-o", str(tmp_path / "out.tflite"))
    assert result.returncode == 1
    assert result.stderr == (
        'pysig: error: pysig convert needs TensorFlow 2.14: pip install "pysig[convert]"\n'
    )
    assert not (tmp_path / "out.tflite").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rename", "encode"], "--rename 'encode': expected KEY=NEWKEY"),
        (["--rename-input", "encode=x"], "expected KEY:NAME=NEWNAME"),
        (["--rename-output", "encode:y="], "expected KEY:NAME=NEWNAME"),
        (["--quantize", "int8"], "--quantize int8 needs --representative-data FILE.npz"),
        (["--representative-data", "x.npz"], "--representative-data is for --quantize int8"),
        (["--quantize", "int4"], "invalid choice: 'int4'"),
        (["--atol", "-1"], "must be a number >= 0, got -1"),
        (["--rtol", "nan"], "must be a number >= 0, got nan"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["convert", SAVED_MODEL, "-o", "out.tflite", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_output_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["convert", SAVED_MODEL])
    assert exit_.value.code == 2
    assert "-o/--output" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["info"],
        ["run", "--signature", "add"],
        ["bench", "--runs", "3", "--warmup", "1"],
        ["convert", "--help"],
    ],
)
def test_commands_never_import_tensorflow(tmp_path: Path, args: list[str]) -> None:
    # A `tensorflow` package that fails when imported: a command that imported it would fail.
    site = fake_tensorflow(tmp_path, "2.14.1")
    result = pysig_command(*args, site=site)
    assert result.returncode == 0, result.stderr
    assert "pysig imported the tensorflow package" not in result.stderr
