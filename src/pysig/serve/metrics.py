"""The server's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

METRICS_PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Requests, errors and latency per model and API; batch sizes and queue depth per signature."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pysig_serve_requests",
            "Requests answered, by model, API and HTTP status",
            ["model", "api", "code"],
            registry=self.registry,
        )
        self.errors = Counter(
            "pysig_serve_request_errors",
            "Requests answered with an error, by model, API and HTTP status",
            ["model", "api", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pysig_serve_request_latency_seconds",
            "Time from a request's arrival to its response, by model and API",
            ["model", "api"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "pysig_serve_batch_size",
            "Rows in each batch the dynamic batcher ran (after padding), by model and signature",
            ["model", "signature"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "pysig_serve_batch_queue_depth",
            "Requests waiting in the dynamic batcher's queue, by model and signature",
            ["model", "signature"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "pysig_serve_requests_in_flight",
            "Inference requests accepted and not yet answered, by model",
            ["model"],
            registry=self.registry,
        )

        # Label lookups cost more than the updates: each combination's children, kept.
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(self, model: str, api: str, code: int, seconds: float) -> None:
        children = self._children.get((model, api, code))
        if children is None:
            children = (
                self.requests.labels(model, api, str(code)),
                self.errors.labels(model, api, str(code)) if code >= 400 else None,
                self.latency.labels(model, api),
            )
            self._children[(model, api, code)] = children
        requests, errors, latency = children
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(seconds)

    def page(self) -> bytes:
        return generate_latest(self.registry)
