"""Servers for the serve tests: one shared per module where the tests only read."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest
from _server import Server
from _support import model_path


def version_folder(base: Path, version: int, model: str) -> Path:
    """``base/<version>/model.tflite``, written next to it and renamed in, as TF Serving
    expects new versions to appear (atomically)."""
    staging = base / f".staging-{version}"
    staging.mkdir(parents=True)
    shutil.copy(model_path(model), staging / "model.tflite")
    target = base / str(version)
    staging.rename(target)
    return target


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*args: str, ready_model: str = "default") -> Server:
        server = Server(args, ready_model)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
