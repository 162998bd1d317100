"""Shared fixtures. Every test runs once per installed runtime (``--runtime`` narrows
it): the ``runtime`` fixture makes ``runtime="auto"`` mean that runtime, in this
process and in the children tests start (through PYSIG_RUNTIME)."""

from __future__ import annotations

# First, as in a program that uses only pysig: it loads tflite_runtime's library
# without the flush-to-zero mode that library sets on aarch64 (see
# test_float_environment.py), so floats behave the same on every platform here.
import pysig  # isort: skip

from typing import Any, Callable

import numpy as np
import pytest
from _support import INSTALLED_RUNTIMES, Run, model_path

from pysig import cli
from pysig.runtime import choose


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runtime",
        choices=("all", *INSTALLED_RUNTIMES),
        default="all",
        help="run the suite on this runtime only (default: every installed runtime)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = metafunc.config.getoption("--runtime")
    runtimes = INSTALLED_RUNTIMES if chosen == "all" else (chosen,)
    if "module_runtime" in metafunc.fixturenames:
        # A fixture shared by a module's tests (a server) runs on their runtime: the
        # module's tests run on one runtime, then on the next, and `runtime` follows.
        metafunc.parametrize("module_runtime", runtimes, indirect=True, scope="module")
    elif "runtime" in metafunc.fixturenames:
        metafunc.parametrize("runtime", runtimes, indirect=True)


@pytest.fixture(autouse=True)
def runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    name: str = getattr(request, "param", None) or request.getfixturevalue("module_runtime")
    monkeypatch.setenv(choose.ENVIRONMENT_VARIABLE, name)
    return name


@pytest.fixture(scope="module")
def module_runtime(request: pytest.FixtureRequest) -> str:
    """The runtime of a module-scoped fixture, and then of its tests' ``runtime``."""
    name: str = request.param
    return name


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def demo() -> pysig.Interpreter:
    return pysig.Interpreter(pysig.DEMO_MODEL_PATH)


@pytest.fixture
def open_model() -> Callable[..., pysig.Interpreter]:
    def open_(name: str, **options: Any) -> pysig.Interpreter:
        return pysig.Interpreter(model_path(name), **options)

    return open_


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """`pysig ARGS...` in-process: (exit status, stdout, stderr)."""

    def run_(*args: str) -> tuple[int, str, str]:
        try:
            status = cli.main(list(args))
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run_
