"""Servers for the serve tests, on the test's runtime: one shared per module where the tests
only read."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from _server import Server


@pytest.fixture
def start_server(runtime: str) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*args: str, ready_model: str = "default") -> Server:
        server = Server(args, ready_model, runtime)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
