"""The README's Flex and `pysig convert` sections work as written: every shell command runs
(from a directory where `tests/` is the repository's), every Python example prints what the
README says, and the output shown for `pysig convert` is what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("## TensorFlow (Select TF / Flex) ops", "## Converting TensorFlow models")
EXTRAS = ("flex", "convert")
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"\d+(\.\d+)?(e-?\d+)?")


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(title)
    return text[start : text.index("\n## ", start + 1)]


def blocks(kind: str) -> list[str]:
    return [
        body for title in SECTIONS for lang, body in _BLOCK.findall(section(title)) if lang == kind
    ]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("readme")
    (directory / "tests").symlink_to(ROOT / "tests")
    return directory


def run(command: list[str] | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        command,
        shell=isinstance(command, str),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def shell_outputs(workdir: Path) -> list[str]:
    """Every shell command of both sections, run in order; what each printed."""
    outputs = []
    for block in blocks("sh"):
        for line in block.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            steps = [step.strip() for step in line.split("&&")]
            # The extras are installed in this virtualenv already; the command must name one.
            if steps[0].startswith("pip install"):
                assert steps[0] in {f'pip install ".[{extra}]"' for extra in EXTRAS}, line
                steps = steps[1:]
            for step in steps:
                result = run(step, workdir)
                assert result.returncode == 0, f"{step}\n{result.stdout}{result.stderr}"
                outputs.append(result.stdout)
    return outputs


def test_shell_commands_run(shell_outputs: list[str]) -> None:
    assert len(shell_outputs) == 3
    assert "output encoded_result: string[1]" in shell_outputs[0]


def test_convert_prints_what_the_readme_shows(shell_outputs: list[str]) -> None:
    shown = next(b for t in SECTIONS[1:] for lang, b in _BLOCK.findall(section(t)) if not lang)
    # Errors are shown to three digits; the CPU's kernels may round the last one differently.
    assert _NUMBER.sub("N", shell_outputs[-1]) == _NUMBER.sub("N", shown)


def test_python_examples_print_what_the_readme_says(
    shell_outputs: list[str], workdir: Path
) -> None:
    assert shell_outputs  # the examples read what the commands wrote
    examples = blocks("python")
    assert len(examples) == 2
    for code in examples:
        lines = code.splitlines()
        expected = [line[2:] for line in lines if line.startswith("# ")]
        result = run([sys.executable, "-c", code], workdir)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == expected
