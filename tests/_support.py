"""Helpers shared by the tests: the committed test models, the installed runtimes, and
each runtime's own Python API as the reference (tflite_runtime's Interpreter, or
ai_edge_litert's, which runs the same kernels as LiteRT's compiled model)."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Tuple

import numpy as np
from numpy.typing import NDArray

import pysig
from pysig.bench.methods import litert_dies_resizing
from pysig.runtime.choose import installed

MODELS = Path(__file__).parent / "models"
INSTALLED_RUNTIMES = tuple(name for name in ("tflite", "litert") if installed(name))
# Whose Interpreter is the reference for facts both runtimes share (names, details).
REFERENCE_RUNTIME = INSTALLED_RUNTIMES[0]
# The `run` fixture: `pysig ARGS...` in-process, giving (exit status, stdout, stderr).
Run = Callable[..., Tuple[int, str, str]]


def reference_interpreter_class(runtime: str) -> Any:
    """The runtime's own Interpreter class (tflite_runtime's API)."""
    if runtime == "tflite":
        from tflite_runtime.interpreter import Interpreter
    else:
        from ai_edge_litert.interpreter import Interpreter
    return Interpreter


# Models with resource variables: a call changes what the next returns, so a copy and its
# original (pickling, pools) agree only when called the same number of times.
STATEFUL_MODELS = ("counter", "accumulator")


@contextmanager
def python_ctrl_c() -> Iterator[None]:
    """Python's own SIGINT handler for the block, as a program started from a terminal has.
    A test process started in the background inherits SIGINT ignored; Python then installs
    no handler, Ctrl-C raises nothing, and child processes inherit the same."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def model_path(name: str) -> str:
    path = MODELS / f"{name}.tflite"
    assert path.is_file(), f"missing test model {path}; run scripts/make_test_models.py"
    return str(path)


def run_python(script: str, timeout: float = 280) -> str:
    """Run ``script`` in a child interpreter and return what it printed; a crash fails."""
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=False, timeout=timeout
    )
    assert child.returncode == 0, (
        f"the child died with status {child.returncode}: "
        + child.stderr.decode(errors="replace")[-800:]
    )
    return child.stdout.decode()


class _Child:
    """One spawned worker process, started at its first use and replaced once it dies."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in the child; raises BrokenProcessPool when the child dies."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"))
        try:
            return self._pool.submit(function, *args).result()
        except BrokenProcessPool:
            self._pool = None
            raise


_REFERENCE_CHILD = _Child()


def reference_outputs(
    path: str, key: str, inputs: Mapping[str, Any], runtime: str = "tflite"
) -> dict[str, NDArray[Any]]:
    """What the runtime's own SignatureRunner returns, used the way its docs show. It runs
    in a child process: a crash of the runtime's own API fails the test that asked, not the
    run. ai_edge_litert's SignatureRunner, which dies on aarch64 on a 0-d input, is replaced
    there by the same calls without that resize."""
    try:
        outputs: dict[str, NDArray[Any]] = _REFERENCE_CHILD.run(
            _own_outputs, path, key, dict(inputs), runtime
        )
    except BrokenProcessPool:
        raise AssertionError(
            f"the reference, {runtime}'s own SignatureRunner, died running {key!r} of {path}"
        ) from None
    return outputs


def _own_outputs(
    path: str, key: str, inputs: dict[str, Any], runtime: str
) -> dict[str, NDArray[Any]]:
    interpreter = reference_interpreter_class(runtime)(model_path=path)
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner(key)
    if runtime == "litert" and litert_dies_resizing(inputs):
        return _without_resizing_scalars(interpreter, runner, key, inputs)
    return dict(runner(**inputs))


def _without_resizing_scalars(
    interpreter: Any, runner: Any, key: str, inputs: dict[str, Any]
) -> dict[str, NDArray[Any]]:
    """What the SignatureRunner computes, through the interpreter's calls on the signature's
    subgraph, leaving the 0-d inputs unresized (their tensors are 0-d already)."""
    wrapper = interpreter._interpreter
    subgraph = wrapper.GetSubgraphIndexFromSignature(key)
    details = runner.get_input_details()
    values = {name: np.asarray(inputs[name], details[name]["dtype"]) for name in details}
    for name, value in values.items():
        if value.ndim:
            shape = np.array(value.shape, np.int32)
            wrapper.ResizeInputTensor(details[name]["index"], shape, False, subgraph)
    wrapper.AllocateTensors(subgraph)
    for name, value in values.items():
        wrapper.SetTensor(details[name]["index"], value, subgraph)
    wrapper.Invoke(subgraph)
    return {
        name: wrapper.GetTensor(detail["index"], subgraph)
        for name, detail in runner.get_output_details().items()
    }


def assert_bitwise_equal(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    assert set(actual) == set(expected)
    for name, value in expected.items():
        got = actual[name]
        assert isinstance(got, np.ndarray), name
        assert got.dtype == value.dtype, name
        assert got.shape == value.shape, name
        if value.dtype == object:
            assert got.tolist() == value.tolist(), name
        else:
            assert got.tobytes() == value.tobytes(), name


def random_value(detail: Mapping[str, Any], rng: np.random.Generator, dim: int = 3) -> Any:
    """A random input for a tensor: dynamic (-1) dimensions become `dim`."""
    shape = tuple(dim if d < 0 else int(d) for d in detail["shape_signature"])
    dtype = np.dtype(detail["dtype"])
    if dtype == object:
        words = [b"alpha", b"beta", b"gamma", b"", b"\xff\x00bytes"]
        return np.array(
            [words[i % len(words)] for i in range(int(np.prod(shape)))], dtype=object
        ).reshape(shape)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(
            max(info.min, -100), min(info.max, 100), size=shape, dtype=dtype, endpoint=True
        )
    return rng.standard_normal(size=shape).astype(dtype)


# LiteRT 2.3.0's known gaps on the test models: (model, signature) -> the clear pysig
# error every call raises there, and what its message says.
LITERT_GAPS: dict[tuple[str, str], tuple[type[Exception], str]] = {
    **{
        ("counter", key): (pysig.UnsupportedOpError, "raw read of a resource variable")
        for key in ("increment", "read", "reset")
    },
    ("zero_input", "constant"): (pysig.UnsupportedOpError, "raw read of a resource variable"),
    ("types", "strings"): (pysig.UnsupportedTypeError, "string tensors, which LiteRT"),
    ("dynamic", "positives"): (pysig.UnsupportedOpError, "sized by the input values"),
    ("half_plus_three", "tensorflow/serving/classify"): (
        pysig.UnsupportedTypeError,
        "string tensors, which LiteRT",
    ),
}


def runtime_gap(runtime: str, name: str, key: str) -> tuple[type[Exception], str] | None:
    """The error a signature raises on this runtime, or None when it runs."""
    return LITERT_GAPS.get((name, key)) if runtime == "litert" else None


def import_tensorflow() -> Any:
    """TensorFlow, for the tests marked 'tensorflow' (only they may import it)."""
    with warnings.catch_warnings():
        # TensorFlow 2.14 reads a deprecated ml_dtypes name while it is imported.
        warnings.simplefilter("ignore", DeprecationWarning)
        import tensorflow as tf

    return tf
