"""Servers for the serve tests: one shared per module where the tests only read."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from pysig.runtime.choose import installed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The server tests' models use what only tflite runs (strings, data-dependent shapes,
    # variable reads), and their servers are started with --runtime tflite.
    if installed("tflite"):
        return
    skip = pytest.mark.skip(reason="tests/serve need tflite-runtime (CPython 3.8-3.11)")
    for item in items:
        if "serve" in item.path.parts:
            item.add_marker(skip)


from _server import Server


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
