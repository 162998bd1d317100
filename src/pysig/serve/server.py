"""Running the ASGI app under uvicorn (uvloop and httptools when installed), with SIGTERM draining."""

from __future__ import annotations

import importlib.util
import logging
import signal
from dataclasses import dataclass

import uvicorn

from .app import App
from .config import ModelConfig
from .metrics import Metrics
from .models import ModelManager, ServingOptions

logger = logging.getLogger("pysig.serve")


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    models: list[ModelConfig]
    serving: ServingOptions
    poll_seconds: float
    max_request_bytes: int
    drain_seconds: float
    keep_alive_seconds: int = 30


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run(options: ServerOptions) -> None:
    """Serve until SIGTERM or SIGINT: then stop accepting connections, answer the requests
    in flight, unload every model and return. Raises the error that stopped start-up."""
    metrics = Metrics()
    manager = ModelManager(options.models, options.serving, metrics, options.poll_seconds)
    app = App(manager, metrics, options.max_request_bytes)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        loop="uvloop" if _installed("uvloop") else "asyncio",
        http="httptools" if _installed("httptools") else "h11",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_keep_alive=options.keep_alive_seconds,
        timeout_graceful_shutdown=int(options.drain_seconds),
        # Clients are TF Serving's: no proxies in front of them, no forwarded headers to trust.
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with
    # this handler in place that ends nothing, so a drained server exits with status 0.
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        server.run()
    except SystemExit:
        # uvicorn exits when the application's start-up fails: report why instead.
        if app.startup_error is None:
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if app.startup_error is not None:
        raise app.startup_error
    if not server.started:
        raise OSError(f"could not listen on {options.host}:{options.port}")


def _ignore(signum: int, frame: object) -> None:
    """SIGTERM after uvicorn's own handling: the server has already drained."""
