"""The README's "Giving a model the signatures you want" works as written, on each runtime:
its shell commands and Python examples run in order, from a directory where `tests/` is the
repository's (the TensorFlow group's set-up commands aside: CI runs that group itself)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from _support import INSTALLED_RUNTIMES

import pysig

ROOT = Path(__file__).resolve().parent.parent
TITLE = "## Giving a model the signatures you want"
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
TFLITE_IMPORT = "from tflite_runtime.interpreter import Interpreter as TfliteInterpreter\n"


def section_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index(TITLE)
    section = text[start : text.index("\n## ", start + 1)]
    # The TensorFlow group's commands make a virtualenv and install TensorFlow.
    return [(kind, body) for kind, body in _BLOCK.findall(section) if "venv" not in body]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # PYSIG_RUNTIME (set by the runtime fixture) makes the commands' "auto" that runtime.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_the_section_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    blocks = section_blocks()
    assert [kind for kind, _ in blocks] == ["sh", "python", "sh", "python"]
    outputs = []
    for kind, body in blocks:
        if kind == "python":
            code = body
            if "tflite_runtime" in code and "tflite" not in INSTALLED_RUNTIMES:
                # tflite-runtime has no wheels for this Python: the rest of the example runs.
                for text, instead in (
                    (TFLITE_IMPORT, ""),
                    ("(TfliteInterpreter, LiteRtInterpreter)", "(LiteRtInterpreter,)"),
                ):
                    assert text in code
                    code = code.replace(text, instead)
            result = run([sys.executable, "-c", code], tmp_path)
            assert result.returncode == 0, f"{code}\n{result.stdout}{result.stderr}"
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip() and not line.startswith("#"):
                result = run(["sh", "-c", line], tmp_path)
                assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
                outputs.append(result.stdout)
    listing, added, ran, renamed, renamed_json, in_place = outputs
    assert "synthesized: the model has no SignatureDefs" in listing
    assert "wrote detector.tflite" in added
    assert "output boxes: float32[1,64,4]" in ran
    assert "wrote renamed.tflite" in renamed
    assert "wrote detector.tflite" in in_place
    assert list(json.loads(renamed_json)) == ["plus", "mul", "times"]
    detector = pysig.Interpreter(str(tmp_path / "detector.tflite"))
    assert detector.runtime in INSTALLED_RUNTIMES
    assert detector.get_signature_list() == {
        "detect": {"inputs": ["image"], "outputs": ["boxes", "scores"]},
    }
