"""The `pysig` command end to end: exit codes, help, output, JSON schema, bad arguments.

Most tests call `pysig.cli.main(argv)` in-process; a few run `python -m pysig` to check
the real entry point, exit statuses and Ctrl-C. No test asserts a timing.
"""

from __future__ import annotations

import json
import os
import platform
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import (
    INSTALLED_RUNTIMES,
    MODELS,
    Run,
    assert_bitwise_equal,
    model_path,
    python_ctrl_c,
    reference_interpreter_class,
    reference_outputs,
    runtime_gap,
)

import pysig
from pysig import cli
from pysig.model import inspect_model
from pysig.runtime.ops import installed_runtimes

ALL_MODELS = sorted(path.stem for path in MODELS.glob("*.tflite"))
# Signatures that random inputs cannot run: gather needs valid indices.
NEEDS_REAL_INPUTS = {("types", "strings")}
# --compare's methods: pysig's and the floor on every installed runtime, and each
# runtime's own APIs where it is installed.
TFLITE_METHODS = {"tflite_signature_runner", "tflite_index_api"}
LITERT_METHODS = {"litert_signature_runner", "litert_compiled_model"}
METHOD_NAMES = (
    {
        f"{kind}@{runtime}"
        for kind in ("pysig_call", "pysig_zero_copy", "floor")
        for runtime in INSTALLED_RUNTIMES
    }
    | (TFLITE_METHODS if "tflite" in INSTALLED_RUNTIMES else set())
    | (LITERT_METHODS if "litert" in INSTALLED_RUNTIMES else set())
)
# The reference of each "ratio_to_..." field, and the runtime it needs.
REFERENCES = {
    "ratio_to_tflite_signature_runner": "tflite",
    "ratio_to_litert_signature_runner": "litert",
}


def python_m_pysig(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysig", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def signatures(name: str) -> list[str]:
    """The model's signature keys; none if pysig refuses to load it."""
    try:
        return list(pysig.Interpreter(model_path(name)).get_signature_list())
    except pysig.PysigError:
        return []


def model_signatures() -> list[tuple[str, str]]:
    """Every signature of the test models that runs on random inputs."""
    return [
        (name, key)
        for name in ALL_MODELS
        for key in signatures(name)
        if (name, key) not in NEEDS_REAL_INPUTS
    ]


# --- entry point, help, version ------------------------------------------------------------


def test_python_m_pysig_runs_the_demo() -> None:
    result = python_m_pysig("run")
    assert result.returncode == 0, result.stderr
    assert "signature 'add'" in result.stdout
    assert "output sum: float32[1,4]" in result.stdout


@pytest.mark.parametrize("command", [[], ["info"], ["signatures"], ["run"], ["bench"]])
def test_help_everywhere(run: Run, command: list[str]) -> None:
    status, out, _ = run(*command, "--help")
    assert status == 0
    assert out.startswith(f"usage: pysig {' '.join(command)}".rstrip())
    assert "MODEL" in out or "COMMAND" in out


def test_bench_help_names_every_option(run: Run) -> None:
    _, out, _ = run("bench", "--help")
    for option in (
        "--signature",
        "--runs",
        "--duration",
        "--warmup",
        "--num-threads",
        "--mode",
        "--shape",
        "--compare",
        "--json",
        "--plot",
    ):
        assert option in out


def test_version(run: Run) -> None:
    status, out, _ = run("--version")
    assert status == 0
    first = "tflite-runtime 2.14.0" if "tflite" in INSTALLED_RUNTIMES else "ai-edge-litert 2.3.0"
    assert out.startswith(f"pysig {pysig.__version__} ({first}")


def test_a_command_is_required() -> None:
    result = python_m_pysig()
    assert result.returncode == 2
    assert "usage: pysig" in result.stderr
    assert "required: COMMAND" in result.stderr


# --- info ----------------------------------------------------------------------------------


def test_info_on_the_demo(run: Run) -> None:
    status, out, _ = run("info")
    assert status == 0
    assert pysig.DEMO_MODEL_PATH in out
    for key in pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_list():
        assert f"signature {key!r}" in out
    assert "shape_signature [-1, 4]" in out  # scale's dynamic batch dimension


def test_info_json_matches_the_runtime(run: Run) -> None:
    path = model_path("multi_signature")
    status, out, _ = run("info", path, "--json")
    assert status == 0
    description = json.loads(out)
    interpreter = pysig.Interpreter(path)
    assert set(description["signatures"]) == set(interpreter.get_signature_list())
    for key, signature in description["signatures"].items():
        runner = interpreter.get_signature_runner(key)
        assert signature["subgraph_index"] == runner.subgraph_index
        assert signature["synthesized"] is False
        for kind, details in (
            ("inputs", runner.get_input_details()),
            ("outputs", runner.get_output_details()),
        ):
            assert list(signature[kind]) == list(details)
            for name, detail in details.items():
                tensor = signature[kind][name]
                assert tensor["tensor"] == detail["name"]
                assert tensor["index"] == detail["index"]
                assert tensor["dtype"] == np.dtype(detail["dtype"]).name
                assert tensor["shape"] == detail["shape"].tolist()
                assert tensor["shape_signature"] == detail["shape_signature"].tolist()
                assert tensor["quantization"] is None


@pytest.mark.parametrize("name", ["quant_int8", "quant_uint8"])
def test_info_shows_quantization(run: Run, name: str) -> None:
    path = model_path(name)
    status, out, _ = run("info", path, "--json")
    assert status == 0
    signature = json.loads(out)["signatures"]["serving_default"]
    details = pysig.Interpreter(path).get_signature_runner().get_input_details()
    for input_name, detail in details.items():
        quantization = signature["inputs"][input_name]["quantization"]
        params = detail["quantization_parameters"]
        assert quantization["scales"] == params["scales"].tolist()
        assert quantization["zero_points"] == params["zero_points"].tolist()
    _, text, _ = run("info", path)
    scale, zero_point = next(iter(details.values()))["quantization"]
    assert f"quantized: scale {scale:.6g}, zero point {zero_point}" in text


def test_info_marks_a_synthesized_signature(run: Run) -> None:
    status, out, _ = run("info", model_path("no_signature"))
    assert status == 0
    assert "signature 'serving_default' (subgraph 0, synthesized" in out


@pytest.mark.parametrize("name", ALL_MODELS)
def test_info_on_every_test_model(run: Run, name: str) -> None:
    """Every valid model is described from its file, whether or not it can run here."""
    path = model_path(name)
    file = inspect_model(path)
    status, out, err = run("info", path)
    assert status == 0, err
    assert all(f"signature {key!r}" in out for key in file.signatures)
    status, out, _ = run("info", path, "--json")
    description = json.loads(out)
    assert list(description["signatures"]) == list(file.signatures)
    assert [s["operators"] for s in description["subgraphs"]] == [
        s.operator_count for s in file.subgraphs
    ]
    assert [m["name"] for m in description["metadata"]] == [m.name for m in file.metadata]
    assert set(description["missing_ops"]) == set(installed_runtimes())


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("custom_op", "custom ops it lacks: PysigTestOp"),
        ("flex_encode_decode", "TensorFlow (Flex) ops it lacks: FlexStringToNumber, FlexAsString"),
    ],
)
def test_info_says_what_a_model_that_cannot_run_needs(run: Run, name: str, needs: str) -> None:
    status, out, _ = run("info", model_path(name))
    assert status == 0
    for installed in INSTALLED_RUNTIMES:
        assert f"{installed}: cannot run this model; it needs {needs}" in out
    status, out, _ = run("info", model_path(name), "--json")
    for installed in INSTALLED_RUNTIMES:
        missing = json.loads(out)["missing_ops"][installed]
        assert {op["name"] for op in missing} == {
            op.name for op in inspect_model(model_path(name)).missing_ops(installed)
        }


@pytest.mark.parametrize(
    ("name", "message"),
    [("custom_op", "PysigTestOp"), ("flex_encode_decode", "FlexAsString, FlexStringToNumber")],
)
def test_models_that_cannot_load_exit_1(name: str, message: str) -> None:
    result = python_m_pysig("run", model_path(name))
    assert result.returncode == 1
    assert result.stderr.count("pysig: error:") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["info", "run", "bench"])
def test_missing_model_exits_1_without_traceback(tmp_path: Path, command: str) -> None:
    result = python_m_pysig(command, str(tmp_path / "missing.tflite"))
    assert result.returncode == 1
    assert "pysig: error:" in result.stderr
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_that_is_not_a_model_exits_1(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"not a model at all")
    status, _, err = run("info", str(path))
    assert status == 1
    assert "not a TensorFlow Lite model" in err


# --- run -----------------------------------------------------------------------------------


def test_run_without_arguments_runs_every_demo_signature(run: Run) -> None:
    status, out, _ = run("run")
    assert status == 0
    for key in pysig.Interpreter(pysig.DEMO_MODEL_PATH).get_signature_list():
        assert f"signature {key!r}" in out
    assert "(random)" in out


def test_run_is_reproducible_with_a_seed(run: Run) -> None:
    first = run("run", "--seed", "7")
    assert first == run("run", "--seed", "7")
    assert first[1] != run("run", "--seed", "8")[1]


@pytest.mark.parametrize(("name", "key"), model_signatures())
def test_run_outputs_match_the_runtimes_own_api(
    run: Run, tmp_path: Path, name: str, key: str, runtime: str
) -> None:
    path = model_path(name)
    status, out, err = run("run", path, "--signature", key, "--output-dir", str(tmp_path))
    gap = runtime_gap(runtime, name, key)
    # A data-dependent output runs on LiteRT when it comes out the size planned for it.
    if gap is not None and (status != 0 or "data-dependent" not in gap[1]):
        assert status == 1
        assert gap[1] in err
        return
    assert status == 0, err
    assert f"signature {key!r}" in out
    inputs = load_arrays(tmp_path / key / "inputs")
    outputs = load_arrays(tmp_path / key / "outputs")
    if not reference_interpreter_class(runtime)(model_path=path).get_signature_list():
        expected = synthesized_reference(path, inputs, runtime)
    else:
        expected = reference_outputs(path, key, inputs, runtime)
    # --output-dir saves strings as numpy bytes arrays (object arrays would need pickle).
    expected = {
        output: np.asarray(value.tolist(), dtype=np.bytes_) if value.dtype == object else value
        for output, value in expected.items()
    }
    assert_bitwise_equal(outputs, expected)


def load_arrays(directory: Path) -> dict[str, np.ndarray[Any, Any]]:
    return {
        file.stem: np.load(file, allow_pickle=False) for file in sorted(directory.glob("*.npy"))
    }


def synthesized_reference(
    path: str, inputs: dict[str, Any], runtime: str
) -> dict[str, np.ndarray[Any, Any]]:
    """The runtime's index API on a model without SignatureDefs (it has no runner)."""
    tflite = reference_interpreter_class(runtime)(model_path=path)
    tflite.allocate_tensors()
    for detail in tflite.get_input_details():
        tflite.set_tensor(detail["index"], inputs[detail["name"]])
    tflite.invoke()
    return {d["name"]: tflite.get_tensor(d["index"]) for d in tflite.get_output_details()}


def test_run_with_input_files(run: Run, tmp_path: Path, runtime: str) -> None:
    strings = np.array([b"alpha", b"beta", b"gamma"])
    indices = np.array([2, 0, 2], dtype=np.int32)
    np.save(tmp_path / "s.npy", strings)
    np.save(tmp_path / "i.npy", indices)
    path = model_path("types")
    status, out, err = run(
        "run", path, "--signature", "strings",
        "--input", f"s={tmp_path / 's.npy'}", "--input", f"i={tmp_path / 'i.npy'}",
        "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    gap = runtime_gap(runtime, "types", "strings")
    if gap is not None:
        assert (status, gap[1] in err) == (1, True), err
        return
    assert status == 0, err
    assert f"(from {tmp_path / 's.npy'})" in out
    assert "[b'gamma' b'alpha' b'gamma']" in out
    picked = np.load(tmp_path / "out" / "strings" / "outputs" / "picked.npy")
    expected = reference_outputs(path, "strings", {"s": strings, "i": indices})["picked"]
    assert picked.tolist() == expected.tolist()


def test_run_with_a_shape_for_dynamic_dimensions(run: Run) -> None:
    status, out, err = run(
        "run", model_path("dynamic"), "--signature", "reduce", "--shape", "x=2,5"
    )
    assert status == 0, err
    assert "input x: float32[2,5] (random)" in out
    assert "output row_sums: float32[2]" in out


def test_run_failure_with_random_inputs_says_so(run: Run, runtime: str) -> None:
    status, _, err = run("run", model_path("types"), "--signature", "strings", "--shape", "s=1")
    assert status == 1
    gap = runtime_gap(runtime, "types", "strings")
    if gap is not None:
        assert gap[1] in err
        return
    assert "invoke failed" in err
    assert "random values were used for 'i', 's'" in err


def test_run_input_of_the_wrong_dtype_exits_1(run: Run, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones(3, dtype=np.float64))
    np.save(tmp_path / "y.npy", np.ones(3, dtype=np.int32))
    status, _, err = run(
        "run", model_path("multi_signature"), "--signature", "add",
        "--input", f"x={tmp_path / 'x.npy'}", "--input", f"y={tmp_path / 'y.npy'}",
    )  # fmt: skip
    assert status == 1
    assert "pysig: error:" in err
    assert "float64" in err


def test_interrupt_cancels_a_long_invocation() -> None:
    # Without XNNPACK, which would run the whole graph as one node: the runtime checks for
    # cancellation between nodes.
    interpreter = pysig.Interpreter(
        model_path("slow"), op_resolver="builtin_without_default_delegates"
    )
    runner = interpreter.get_signature_runner()
    x = np.ones((256, 256), np.float32)
    stop = threading.Event()
    outcome: list[str] = []

    def work() -> None:
        while not stop.is_set():
            try:
                runner(x=x)
            except pysig.InvokeCancelledError:
                outcome.append("cancelled")
                return
        outcome.append("stopped between calls")

    def cancel() -> None:
        stop.set()
        runner.cancel()

    main_thread = threading.main_thread().ident
    assert main_thread is not None
    timer = threading.Timer(0.3, signal.pthread_kill, (main_thread, signal.SIGINT))
    with python_ctrl_c():
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                cli.common.interruptible(work, cancel)
        finally:
            timer.join()
    assert len(outcome) == 1  # the worker has finished
    assert set(runner(x=x)) == {"y"}  # and the runner is still usable


def test_any_exception_while_waiting_stops_the_work() -> None:
    # A signal that lands between two steps of Event.wait() can turn Ctrl-C into a
    # RuntimeError (the wait's lock released twice): the work must be stopped then too,
    # not left running while the main thread waits for it.
    stop = threading.Event()
    ran_to_deadline: list[bool] = []

    def work() -> None:
        ran_to_deadline.append(not stop.wait(20))

    def fail(*_: object) -> None:
        raise RuntimeError("release unlocked lock")

    main_thread = threading.main_thread().ident
    assert main_thread is not None
    previous = signal.signal(signal.SIGUSR1, fail)
    timer = threading.Timer(0.2, signal.pthread_kill, (main_thread, signal.SIGUSR1))
    began = time.monotonic()
    timer.start()
    try:
        with pytest.raises(RuntimeError, match="release unlocked lock"):
            cli.common.interruptible(work, stop.set)
    finally:
        timer.join()
        signal.signal(signal.SIGUSR1, previous)
    assert ran_to_deadline == [False]  # stopped by cancel(), not by its own deadline
    assert time.monotonic() - began < 10


class _Terminal:
    """A pseudo-terminal for one of a child's streams: what a user at a terminal sees of
    it. On a terminal `pysig bench` draws its progress bar, which marks that calls are
    being timed: the import and the model's load are over, however long they took."""

    def __init__(self) -> None:
        self.reader, self.child_end = pty.openpty()
        self.seen = b""

    def read_until(self, text: bytes | None, timeout: float) -> bool:
        """Reads until TEXT has been seen (True), or until the child closed it or TIMEOUT
        passed (False); with TEXT None, until one of the last two."""
        deadline = time.monotonic() + timeout
        while text is None or text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.reader], [], [], left)[0]:
                return False
            try:
                chunk = os.read(self.reader, 65536)
            except OSError:  # EIO: every copy of the child's end is closed
                return False
            if not chunk:
                return False
            self.seen += chunk
        return True

    def text(self) -> str:
        self.read_until(None, timeout=5)
        os.close(self.reader)
        return self.seen.decode(errors="replace")


def test_ctrl_c_during_bench_exits_130() -> None:
    out, err = _Terminal(), _Terminal()
    with python_ctrl_c():  # so that the child does not inherit SIGINT ignored
        process = subprocess.Popen(
            [sys.executable, "-m", "pysig", "bench", model_path("slow"), "--runs", "100000",
             "--warmup", "0"],
            stdout=out.child_end,
            stderr=err.child_end,
        )  # fmt: skip
    os.close(out.child_end)
    os.close(err.child_end)
    try:
        started = err.read_until(b"benchmarking", timeout=600)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=120)
    finally:
        process.kill()  # a child left running would load the machine for the tests after
        shown, printed = err.text(), out.text()
    assert started, f"no progress bar on the terminal: {shown!r}"
    assert returncode == 130
    assert "pysig: interrupted" in shown
    assert "Traceback" not in shown
    assert printed == ""


# --- bad arguments: exit 2 with a message --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--runs", "0"], "argument --runs: must be at least 1, got 0"),
        (["bench", "--runs", "x"], "argument --runs: expected an integer"),
        (["bench", "--duration", "-1"], "argument --duration: must be a positive number"),
        (["bench", "--runs", "5", "--duration", "1"], "not allowed with argument --runs"),
        (["bench", "--warmup", "-2"], "argument --warmup: must be at least 0, got -2"),
        (["bench", "--num-threads", "0"], "argument --num-threads: must be at least 1"),
        (["bench", "--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
        (["bench", "--shape", "x"], "expected name=d0,d1,..."),
        (["bench", "--shape", "x=1,a"], "dimensions must be integers"),
        (["bench", "--shape", "x=-1,4"], "dimensions must be >= 0"),
        (["bench", "--signature", "nope"], "no signature 'nope' (its signatures: 'add'"),
        (["bench", "--shape", "z=1"], "signature 'add' has no input 'z' (its inputs: 'x', 'y')"),
        (["bench", "--signature", "scale", "--shape", "x=1,2,4"], "the input has 2 dimension(s)"),
        (["run", "--input", "x"], "expected name=file.npy"),
        (["run", "--input", "x=a.npy"], "--input and --shape need --signature"),
        (["run", "--signature", "add", "--input", "z=a.npy"], "has no input 'z'"),
        (
            ["run", "--signature", "scale", "--input", "x=a.npy", "--shape", "x=2,4"],
            "input 'x' has both --input and --shape",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2(run: Run, args: list[str], message: str) -> None:
    status, out, err = run(*args)
    assert status == 2
    assert out == ""
    assert "usage: pysig" in err
    assert message in err


def test_bench_needs_a_signature_for_models_with_several(run: Run) -> None:
    status, _, err = run("bench", model_path("multi_signature"), "--runs", "5")
    assert status == 2
    assert "choose one with --signature: the model has 3 signatures ('add', 'mul', 'negate')" in err


def test_plot_without_matplotlib_exits_2(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    status, out, err = run("bench", "--runs", "5", "--plot", "latency.png")
    assert status == 2
    assert out == ""
    assert "pip install 'pysig[plot]'" in err


# --- bench ---------------------------------------------------------------------------------


def test_bench_prints_a_table(run: Run, runtime: str) -> None:
    status, out, _ = run("bench", "--runs", "20")
    assert status == 0
    assert "demo.tflite, signature 'add'" in out
    header = next(line for line in out.splitlines() if line.startswith("method"))
    assert header.split() == ["method", "runs", "min", "p50", "p90", "p99", "max", "calls/s"]
    assert f"pysig runner(**inputs) on {runtime}" in out
    assert f"pysig zero-copy invoke() on {runtime}" in out
    assert "peak RSS:" in out


def test_bench_mode_selects_the_pysig_methods(run: Run, tmp_path: Path, runtime: str) -> None:
    report = bench_json(run, tmp_path, "--runs", "5", "--mode", "zero-copy")
    assert [m["name"] for m in report["methods"]] == [f"pysig_zero_copy@{runtime}"]
    assert report["methods"][0]["runtime"] == runtime


def bench_json(run: Run, tmp_path: Path, *args: str) -> dict[str, Any]:
    output = tmp_path / "bench.json"
    status, _, err = run("bench", *args, "--json", str(output))
    assert status == 0, err
    report: dict[str, Any] = json.loads(output.read_text())
    return report


def test_bench_json_schema(run: Run, tmp_path: Path, runtime: str) -> None:
    report = bench_json(run, tmp_path, "--runs", "20", "--compare", "--seed", "3")
    assert report["schema"] == "pysig-bench/2"
    assert_types(
        report["model"],
        {"path": str, "bytes": int, "signature": str, "inputs": dict, "outputs": dict},
    )
    assert report["model"]["path"] == pysig.DEMO_MODEL_PATH
    assert report["model"]["signature"] == "add"
    assert report["model"]["inputs"] == {
        "x": {"dtype": "float32", "shape": [1, 4]},
        "y": {"dtype": "float32", "shape": [1, 4]},
    }
    assert report["options"] == {
        "runs": 20,
        "duration": None,
        "warmup": 10,
        "num_threads": None,
        "mode": "both",
        "compare": True,
        "shapes": {},
        "seed": 3,
        "rounds": 20,
    }
    assert_types(
        report["machine"],
        {
            "platform": str,
            "machine": str,
            "cpu_count": int,
            "cpu_model": (str, type(None)),
            "load_average": list,
        },
    )
    assert report["versions"]["pysig"] == pysig.__version__
    if "tflite" in INSTALLED_RUNTIMES:
        assert report["versions"]["tflite_runtime"] == "2.14.0"
    if "litert" in INSTALLED_RUNTIMES:
        assert report["versions"]["ai_edge_litert"] == "2.3.0"
    assert report["versions"]["numpy"] == np.__version__
    assert report["versions"]["python"] == platform.python_version()
    assert isinstance(report["peak_rss_bytes"], int)
    assert report["peak_rss_bytes"] > 0
    assert isinstance(report["timing_overhead_us"], float)
    assert {s["name"] for s in report["skipped"]} == (
        (set() if "tflite" in INSTALLED_RUNTIMES else TFLITE_METHODS)
        | (set() if "litert" in INSTALLED_RUNTIMES else LITERT_METHODS)
    )
    assert {m["name"] for m in report["methods"]} == METHOD_NAMES
    # The interpreter's own runtime comes first; the floors last.
    assert report["methods"][0]["name"] == f"pysig_call@{runtime}"
    assert {m["kind"] for m in report["methods"][-len(INSTALLED_RUNTIMES) :]} == {"floor"}
    for method in report["methods"]:
        assert_method_stats(method, runs=20, compared=True)


def assert_types(mapping: dict[str, Any], types: dict[str, type | tuple[type, ...]]) -> None:
    assert set(mapping) == set(types)
    for key, expected in types.items():
        assert isinstance(mapping[key], expected), key


def assert_method_stats(method: dict[str, Any], runs: int, compared: bool) -> None:
    assert isinstance(method["label"], str)
    assert method["runs"] == runs
    times = [method[k] for k in ("min_us", "p50_us", "p90_us", "p99_us", "max_us")]
    assert all(isinstance(t, float) for t in times)
    assert times == sorted(times)
    assert times[0] > 0
    quantiles = method["quantiles_us"]
    assert len(quantiles) == 101
    assert quantiles == sorted(quantiles)
    assert (quantiles[0], quantiles[50], quantiles[100]) == (times[0], times[1], times[4])
    assert method["mean_us"] > 0
    assert method["stdev_us"] >= 0
    assert method["total_s"] > 0
    assert method["throughput_per_s"] == pytest.approx(1e6 / method["mean_us"])
    assert method["runtime"] in INSTALLED_RUNTIMES
    for ratio in ("ratio_to_floor", "over_floor_us", *REFERENCES):
        # A runtime that is not installed has no SignatureRunner to compare with.
        has = compared and REFERENCES.get(ratio, method["runtime"]) in INSTALLED_RUNTIMES
        assert isinstance(method[ratio], float) if has else method[ratio] is None
    if compared and method["kind"] == "floor":
        assert method["ratio_to_floor"] == 1.0
    if compared and method["name"] in ("tflite_signature_runner", "litert_signature_runner"):
        assert method[f"ratio_to_{method['name']}"] == 1.0


def test_bench_json_without_compare_has_no_ratios(run: Run, tmp_path: Path) -> None:
    report = bench_json(run, tmp_path, "--duration", "0.05", "--warmup", "0")
    assert report["options"]["duration"] == 0.05
    assert report["options"]["runs"] is None
    for method in report["methods"]:
        assert method["runs"] >= 1
        assert method["ratio_to_floor"] is None


def test_bench_json_to_stdout_is_only_json() -> None:
    result = python_m_pysig("bench", "--runs", "5", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "pysig-bench/2"
    assert "benchmarking [" not in result.stderr  # no progress bar when piped


def test_bench_on_a_signature_off_subgraph_0(run: Run, tmp_path: Path) -> None:
    report = bench_json(
        run, tmp_path, "--signature", "scale", "--shape", "x=3,4", "--runs", "5", "--compare"
    )
    assert report["model"]["inputs"] == {"x": {"dtype": "float32", "shape": [3, 4]}}
    assert {m["name"] for m in report["methods"]} == METHOD_NAMES


def test_bench_without_signature_defs_skips_the_signature_runners(run: Run, tmp_path: Path) -> None:
    report = bench_json(run, tmp_path, model_path("no_signature"), "--runs", "5", "--compare")
    runners = {"tflite_signature_runner", "litert_signature_runner"}
    # LiteRT's CompiledModel runs it on its default signature.
    assert {m["name"] for m in report["methods"]} == METHOD_NAMES - runners
    skips = {s["name"]: s for s in report["skipped"]}
    assert set(skips) == runners | {
        f"{runtime}_{api}"
        for runtime, api in (("tflite", "index_api"), ("litert", "compiled_model"))
        if runtime not in INSTALLED_RUNTIMES
    }
    _, out, _ = run("bench", model_path("no_signature"), "--runs", "5", "--compare")
    for name in runners:
        if skips[name]["runtime"] in INSTALLED_RUNTIMES:
            assert "no SignatureDefs" in skips[name]["reason"]
            assert f"skipped {skips[name]['label']}: the model has no SignatureDefs" in out


@pytest.mark.parametrize(("name", "key"), model_signatures())
def test_bench_compare_on_every_test_signature(run: Run, name: str, key: str, runtime: str) -> None:
    status, out, err = run(
        "bench", model_path(name), "--signature", key, "--runs", "3", "--warmup", "1", "--compare"
    )
    gap = runtime_gap(runtime, name, key)
    if gap is not None and (status != 0 or "data-dependent" not in gap[1]):
        assert (status, gap[1] in err) == (1, True), err
        return
    assert status == 0, err
    assert f"signature {key!r}" in out
    assert f"floor: {runtime} " in out


def test_bench_compare_leaves_out_what_would_crash_ai_edge_litert_on_aarch64(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ai_edge_litert")
    # On aarch64, ai_edge_litert's SignatureRunner dies resizing accumulator's 0-d `factor`.
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    args = ("bench", model_path("accumulator"), "--runs", "3", "--warmup", "1", "--compare")
    status, out, err = run(*args, "--signature", "scaled")
    assert status == 0, err
    assert "skipped ai_edge_litert SignatureRunner: ai_edge_litert 2.3.0's" in out
    assert "ai_edge_litert CompiledModel write+run+read " in out
    # Inputs with dimensions are resized there as everywhere: it runs.
    status, out, err = run(*args, "--signature", "add")
    assert status == 0, err
    assert "\nai_edge_litert SignatureRunner " in out


def test_bench_on_random_inputs_the_model_rejects_exits_1(run: Run, runtime: str) -> None:
    status, out, err = run("bench", model_path("types"), "--signature", "strings", "--runs", "3")
    assert status == 1
    assert out == ""
    gap = runtime_gap(runtime, "types", "strings")
    assert (gap[1] if gap else "gather index out of bounds") in err


def test_bench_plot_writes_a_png(run: Run, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "plots" / "latency.png"
    status, _, err = run("bench", "--runs", "20", "--compare", "--plot", str(plot))
    assert status == 0, err
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
