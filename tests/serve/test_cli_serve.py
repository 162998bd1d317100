"""``pysig serve``'s command line: flags it refuses and models it cannot serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _server import free_port
from _support import model_path


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pysig", "serve", "--rest_api_port", str(free_port()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --model_base_path"),
        (("--model_base_path", "x", "--model_config_file", "y"), "not both"),
        (("--model_base_path", "x", "--batching_parameters_file", "y"), "needs --enable_batching"),
        (("--model_base_path", "x", "--rest_api_port", "0"), "must be at least 1"),
        (("--model_base_path", "x", "--runtime", "gpu"), "invalid choice"),
    ],
)
def test_bad_flags_exit_2(args: tuple[str, ...], message: str) -> None:
    command = [sys.executable, "-m", "pysig", "serve", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_bad_config_files_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'a' base_pth: '/x' } }")
    result = serve("--model_config_file", str(config))
    assert result.returncode == 2
    assert "no field named" in result.stderr
    batching = tmp_path / "batching.config"
    batching.write_text("max_batch_size { value: 4 }\nallowed_batch_sizes: 2\n")
    result = serve(
        "--model_base_path", model_path("half_plus_three"),
        "--enable_batching", "--batching_parameters_file", str(batching),
    )  # fmt: skip
    assert result.returncode == 2
    assert "must equal max_batch_size" in result.stderr


def test_a_model_with_nothing_to_serve_exits_1(tmp_path: Path) -> None:
    result = serve("--model_name", "empty", "--model_base_path", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "no version could be served for empty" in result.stderr
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "model.tflite").write_bytes(b"not a model at all")
    result = serve("--model_name", "broken", "--model_base_path", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "version 1" in result.stderr
    assert "TensorFlow Lite" in result.stderr
