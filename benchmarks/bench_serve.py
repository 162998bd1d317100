"""pysig serve against the ceiling (pysig.Pool called directly) and the naive server users
write today (FastAPI + one tflite_runtime interpreter behind a lock), in one run.

    /path/to/tf-venv/bin/python benchmarks/make_models.py tiny mobilenet_v2 mobilenet_v2_uint8
    pip install ".[serve]" fastapi && apt-get install wrk
    python benchmarks/bench_serve.py [--seconds 10] [--rounds 2] [--only TEXT] [--write]

Load comes from wrk (keep-alive connections, one per client, one wrk thread so the load
generator takes as little of the machine as it can), POSTing the same TF Serving predict
body over and over. The ceiling runs the same number of client threads calling
``Pool.run`` in this process, with no HTTP and no JSON. Every configuration of a scenario
runs in every round, in alternating order; the medians over rounds are reported, ratios
taken within a round. ``--write`` rewrites benchmarks/SERVE_RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import orjson

import pysig
from pysig.pool import usable_cpus

HERE = Path(__file__).resolve().parent
MODELS = HERE / ".models"
RESULTS_MD = HERE / "SERVE_RESULTS.md"
START_SECONDS = 180.0


class Result(NamedTuple):
    rate: float  # requests (or calls) per second
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # CPU time the server (the ceiling: this process) spent per request
    load: float = 0.0  # the machine's 1-minute load average as the measurement began


class Scenario(NamedTuple):
    name: str
    model: str
    clients: int
    body: bytes  # the predict request
    inputs: dict[str, np.ndarray]  # the same tensors, for the ceiling
    configurations: Sequence[str]  # of "ceiling", "serve", "naive", "serve-batching"


def scenarios() -> list[Scenario]:
    rng = np.random.default_rng(20240214)
    image = rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    pixels = rng.integers(0, 256, (1, 224, 224, 3)).astype(np.uint8)
    tiny = {"a": np.float32(1.5), "b": np.float32(2.25)}
    return [
        Scenario(
            "MobileNetV2 float32, 8 clients",
            "mobilenet_v2",
            8,
            orjson.dumps({"instances": image.tolist()}),
            {"input_1": image},
            ("ceiling", "serve", "naive"),
        ),
        Scenario(
            "MobileNetV2 uint8, 8 clients",
            "mobilenet_v2_uint8",
            8,
            orjson.dumps({"instances": pixels.tolist()}),
            {"input_1": pixels},
            ("ceiling", "serve", "naive"),
        ),
        Scenario(
            "tiny (two scalars), 8 clients",
            "tiny",
            8,
            orjson.dumps({"inputs": {"a": 1.5, "b": 2.25}}),
            tiny,
            ("ceiling", "serve", "naive"),
        ),
        Scenario(
            "MobileNetV2 float32, 32 clients",
            "mobilenet_v2",
            32,
            orjson.dumps({"instances": image.tolist()}),
            {"input_1": image},
            ("serve", "serve-batching"),
        ),
    ]


# ------------------------------------------------------------------ the naive server


def naive_app(model_path: str) -> Any:
    """What users write today: FastAPI, one tflite_runtime interpreter, one lock."""
    # Imported here: only the naive server's process needs them.
    from fastapi import FastAPI
    from tflite_runtime.interpreter import Interpreter

    interpreter = Interpreter(model_path=model_path)
    interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    lock = threading.Lock()
    app = FastAPI()

    @app.post("/v1/models/{name}:predict")
    def predict(name: str, request: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
        if "instances" in request:
            (input_name,) = details
            inputs = {input_name: request["instances"]}
        else:
            inputs = request["inputs"]
        arrays = {
            key: np.array(value, dtype=details[key]["dtype"]) for key, value in inputs.items()
        }
        with lock:
            outputs = runner(**arrays)
        values = {key: value.tolist() for key, value in outputs.items()}
        key = "predictions" if "instances" in request else "outputs"
        return {key: next(iter(values.values())) if len(values) == 1 else values}

    return app


def run_naive(model_path: str, port: int) -> None:
    import uvicorn

    uvicorn.run(naive_app(model_path), host="127.0.0.1", port=port, log_level="warning")


# ------------------------------------------------------------------ measurements


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, command: list[str], port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(configuration: str, model_path: str, cpus: int, batching_file: str) -> Server:
    port = free_port()
    if configuration == "naive":
        return Server([sys.executable, __file__, "--naive-server", model_path, str(port)], port)
    command = [
        sys.executable, "-m", "pysig", "serve", "--model_name", "m", "--model_base_path", model_path,
        "--rest_api_port", str(port), "--pool_size", str(cpus), "--max_queued_requests", "1000",
    ]  # fmt: skip
    if configuration == "serve-batching":
        command += ["--enable_batching", "--batching_parameters_file", batching_file]
    return Server(command, port)


def wrk(port: int, body: bytes, clients: int, seconds: float) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        body_path = Path(folder) / "body.json"
        body_path.write_bytes(body)
        script = Path(folder) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'local file = io.open("{body_path}", "rb")\n'
            "wrk.body = file:read('*all')\n"
            "file:close()\n"
        )
        output = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "--timeout", "30s",
             "-s", str(script), f"http://127.0.0.1:{port}/v1/models/m:predict"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(bad.group(1)) if bad else 0
    errors += sum(map(int, socket_errors.groups())) if socket_errors else 0
    return Result(rate, _wrk_ms(output, "50%"), _wrk_ms(output, "99%"), errors, 0.0)


def _wrk_ms(output: str, percentile: str) -> float:
    value, unit = re.search(
        rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE
    ).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def ceiling(pool: Any, inputs: dict[str, np.ndarray], clients: int, seconds: float) -> Result:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.perf_counter() + seconds

    def client(own: list[float]) -> None:
        while True:
            began = time.perf_counter()
            if began > stop:
                return
            pool.run(None, **inputs)
            own.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(own,)) for own in latencies]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = np.array([value for own in latencies for value in own])
    p50, p99 = np.percentile(every, [50, 99]) * 1e3
    return Result(len(every) / elapsed, p50, p99, 0, 0.0)


def measure(
    scenario: Scenario, configuration: str, cpus: int, seconds: float, batching_file: str
) -> Result:
    model_path = str(MODELS / f"{scenario.model}.tflite")
    load = os.getloadavg()[0]
    result = _measure(scenario, configuration, cpus, seconds, batching_file, model_path)
    return result._replace(load=load)


def _measure(
    scenario: Scenario,
    configuration: str,
    cpus: int,
    seconds: float,
    batching_file: str,
    model_path: str,
) -> Result:
    if configuration == "ceiling":
        with pysig.Pool(model_path, size=cpus) as pool:
            # The scenario's tensors, in the order of the model's inputs (names vary by build).
            (names,) = (signature["inputs"] for signature in pool.get_signature_list().values())
            inputs = dict(zip(names, scenario.inputs.values()))
            ceiling(pool, inputs, scenario.clients, min(2.0, seconds))  # warm-up
            before = time.process_time()
            result = ceiling(pool, inputs, scenario.clients, seconds)
            used = time.process_time() - before
            return result._replace(cpu_us=used / max(result.rate * seconds, 1) * 1e6)
    server = start(configuration, model_path, cpus, batching_file)
    try:
        wrk(server.port, scenario.body, scenario.clients, 2)  # warm-up
        before = cpu_seconds(server.process.pid)
        result = wrk(server.port, scenario.body, scenario.clients, seconds)
        used = cpu_seconds(server.process.pid) - before
        return result._replace(cpu_us=used / max(result.rate * seconds, 1) * 1e6)
    finally:
        server.stop()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ report


def breakdown(scenario: Scenario) -> list[str]:
    """Where one request's CPU goes in pysig serve, piece by piece, on this thread (the
    least of 5 runs each): reading its body by the general path (orjson, then numpy) and by
    the extension's reader of numbers, one Pool call, and writing the response."""
    from pysig.serve import json_tensor, numeric_body
    from pysig.serve.signatures import signature_specs

    def cpu_ms(work: Any) -> float:
        best = math.inf
        for _ in range(5):
            began = time.thread_time()
            work()
            best = min(best, time.thread_time() - began)
        return best * 1e3

    with pysig.Pool(str(MODELS / f"{scenario.model}.tflite"), size=1) as pool:
        (spec,) = signature_specs(pool).values()
        body = scenario.body

        def general() -> Any:
            document = json_tensor.loads(body)
            return json_tensor.predict_inputs(document, spec.inputs, False)

        def reader() -> Any:
            request = numeric_body.read(body)
            assert request is not None, "the benchmark's body takes the reader"
            return numeric_body.inputs(request, spec.inputs)

        inputs = reader()
        outputs = pool.run(spec.key, **inputs)
        fmt = json_tensor.RequestFormat.ROW
        pieces = {
            "read the body: general path (orjson + numpy)": cpu_ms(general),
            "read the body: the extension's reader": cpu_ms(reader),
            "one Pool.run call (the model)": cpu_ms(lambda: pool.run(spec.key, **inputs)),
            "write the response": cpu_ms(lambda: json_tensor.predict_response(outputs, fmt)),
        }
    numbers = sum(value.size for value in inputs.values())
    per_number = pieces["read the body: the extension's reader"] * 1e6 / numbers
    lines = [f"| {scenario.name} | {piece} | {ms:.2f} |" for piece, ms in pieces.items()]
    lines.append(
        f"| {scenario.name} | the reader per number ({numbers} numbers, {len(body)} bytes) | "
        f"{per_number:.1f} ns |"
    )
    return lines


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def run(seconds: float, rounds: int, only: str | None = None) -> str:
    cpus = usable_cpus()
    folder = tempfile.TemporaryDirectory()
    batching = Path(folder.name) / "batching.config"
    batching.write_text(
        f"max_batch_size {{ value: 8 }}\nbatch_timeout_micros {{ value: 0 }}\n"
        f"max_enqueued_batches {{ value: 64 }}\nnum_batch_threads {{ value: {cpus} }}\n"
    )
    lines = [
        "# pysig serve benchmark",
        "",
        (
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpus} CPUs, "
            f"{rounds} rounds of {seconds:.0f} s per configuration; load average before: "
            f"{load_average()}."
        ),
        (
            "Rates are requests (ceiling: calls) per second, medians over rounds; ratios within "
            "a round; load: the 1-minute load average as each measurement began (median)."
        ),
        "",
        "| scenario | configuration | req/s | p50 ms | p99 ms | errors | CPU us/req | load | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scenario in scenarios():
        if only is not None and only not in scenario.name:
            continue
        if not (MODELS / f"{scenario.model}.tflite").exists():
            print(f"skipping {scenario.name}: run benchmarks/make_models.py", file=sys.stderr)
            continue
        results: dict[str, list[Result]] = {name: [] for name in scenario.configurations}
        for round_number in range(rounds):
            order = list(scenario.configurations)
            if round_number % 2:
                order.reverse()
            for configuration in order:
                result = measure(scenario, configuration, cpus, seconds, str(batching))
                print(f"{scenario.name} / {configuration}: {result}", file=sys.stderr, flush=True)
                results[configuration].append(result)
        base = scenario.configurations[0]
        for configuration, samples in results.items():
            ratios = [s.rate / max(b.rate, 1e-9) for s, b in zip(samples, results[base])]
            ratio = "" if configuration == base else f"{statistics.median(ratios):.2f}x {base}"
            lines.append(
                f"| {scenario.name} | {configuration} | "
                f"{statistics.median(s.rate for s in samples):.1f} | "
                f"{statistics.median(s.p50_ms for s in samples):.2f} | "
                f"{statistics.median(s.p99_ms for s in samples):.2f} | "
                f"{sum(s.errors for s in samples)} | "
                f"{statistics.median(s.cpu_us for s in samples):.0f} | "
                f"{statistics.median(s.load for s in samples):.1f} | {ratio} |"
            )
        if "naive" in results and "serve" in results:
            ratios = [
                s.rate / max(n.rate, 1e-9) for s, n in zip(results["serve"], results["naive"])
            ]
            cpu = [
                n.cpu_us / max(s.cpu_us, 1e-9) for s, n in zip(results["serve"], results["naive"])
            ]
            lines.append(
                f"| {scenario.name} | serve / naive | {statistics.median(ratios):.2f}x | | | | "
                f"{statistics.median(cpu):.2f}x less | | |"
            )
    folder.cleanup()
    lines += [
        "",
        (
            "CPU per request, piece by piece (thread CPU time, least of 5; load average "
            f"{load_average()}):"
        ),
        "",
        "| scenario | piece | ms |",
        "|---|---|---:|",
    ]
    for scenario in scenarios():
        big = scenario.clients == 8 and scenario.model.startswith("mobilenet")
        if big and (only is None or only in scenario.name):
            lines += breakdown(scenario)
    lines += ["", f"Load average after: {load_average()}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (default: 10)")
    parser.add_argument("--rounds", type=int, default=2, help="(default: 2)")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS_MD.name}")
    parser.add_argument("--only", metavar="TEXT", help="run the scenarios whose name has TEXT")
    parser.add_argument(
        "--naive-server", nargs=2, metavar=("MODEL", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.naive_server:
        run_naive(args.naive_server[0], int(args.naive_server[1]))
        return 0
    report = run(args.seconds, args.rounds, args.only)
    print(report)
    if args.write:
        RESULTS_MD.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
