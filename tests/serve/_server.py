"""A real ``pysig serve`` process on a free loopback port, for the tests to talk HTTP to."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx
from _support import model_path

START_SECONDS = 120.0  # loading is slow on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``pysig serve ARGS`` on ``runtime``, with --host 127.0.0.1 and a free --rest_api_port,
    ready to answer."""

    def __init__(self, args: Sequence[str], ready_model: str, runtime: str) -> None:
        self.runtime = runtime
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Open for the server's whole life; close() closes it.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="pysig-serve-", suffix=".log", delete=False
        )
        command = [sys.executable, "-m", "pysig", "serve", "--host", "127.0.0.1"]
        command += ["--runtime", runtime]
        command += ["--rest_api_port", str(self.port), *args]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.client = httpx.Client(base_url=self.url, timeout=60.0)
        self._wait_ready(ready_model)

    def _wait_ready(self, model: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"pysig serve exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                if self.client.get(f"/v1/models/{model}").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"pysig serve did not become ready:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        if isinstance(body, (bytes, str)):
            return self.client.post(path, content=body, **kwargs)
        return self.client.post(path, json=body, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit status once it has drained."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self.close()

    def close(self) -> None:
        self.client.close()
        self._log.close()

    def wait_for_status(
        self,
        path: str,
        done: Callable[[list[dict[str, Any]]], bool],
        seconds: float = START_SECONDS,
    ) -> list[dict[str, Any]]:
        """The ``model_version_status`` rows at ``path`` once ``done(rows)`` holds, or as
        they are after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            rows: list[dict[str, Any]] = self.get(path).json().get("model_version_status", [])
            if done(rows) or time.monotonic() >= deadline:
                return rows
            time.sleep(0.1)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on the Prometheus page (0 when absent)."""
        page = self.get("/monitoring/prometheus/metrics").text
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        for line in page.splitlines():
            if line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            metric, _, label_text = series.partition("{")
            found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
            if metric == name and found == wanted:
                return float(value)
        return 0.0


def version_folder(base: Path, version: int, model: str) -> Path:
    """``base/<version>/model.tflite``, written next to it and renamed in, as TF Serving
    expects new versions to appear (atomically)."""
    staging = base / f".staging-{version}"
    staging.mkdir(parents=True)
    shutil.copy(model_path(model), staging / "model.tflite")
    target = base / str(version)
    staging.rename(target)
    return target
