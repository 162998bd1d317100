"""The server's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from typing import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

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
# As the client library writes bucket bounds.
_BOUNDS = [repr(float(bound)) for bound in _LATENCY_BUCKETS] + ["+Inf"]
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _Latency:
    """One latency histogram's buckets (not cumulative; the last is +Inf) and sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_LATENCY_BUCKETS) + 1)
        self.total = 0.0


class Metrics:
    """Requests, errors and latency per model and API; requests in flight per model; batch
    sizes and queue depth per signature.

    The per-request figures are plain counters read by a collector at scrape time: the
    client library's labelled metrics take a lock and a label lookup per update, which
    cost more than the rest of a request to a tiny model.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], _Latency] = {}
        self.in_flight: dict[str, int] = {}
        self.registry.register(_RequestCollector(self))
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

    def observe(self, model: str, api: str, code: int, seconds: float) -> None:
        """One answered request (called on the event loop, as the collector is)."""
        key = (model, api, code)
        self._requests[key] = self._requests.get(key, 0) + 1
        latency = self._latency.get((model, api))
        if latency is None:
            latency = self._latency[(model, api)] = _Latency()
        # Prometheus buckets hold the values up to and including their bound.
        latency.counts[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds

    def page(self) -> bytes:
        return generate_latest(self.registry)


class _RequestCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        labels = ["model", "api", "code"]
        requests = CounterMetricFamily(
            "pysig_serve_requests",
            "Requests answered, by model, API and HTTP status",
            labels=labels,
        )
        errors = CounterMetricFamily(
            "pysig_serve_request_errors",
            "Requests answered with an error, by model, API and HTTP status",
            labels=labels,
        )
        for (model, api, code), count in list(metrics._requests.items()):
            requests.add_metric([model, api, str(code)], count)
            if code >= 400:
                errors.add_metric([model, api, str(code)], count)
        latency = HistogramMetricFamily(
            "pysig_serve_request_latency_seconds",
            "Time from a request's arrival to its response, by model and API",
            labels=["model", "api"],
        )
        for (model, api), histogram in list(metrics._latency.items()):
            cumulative = list(accumulate(histogram.counts))
            latency.add_metric([model, api], list(zip(_BOUNDS, cumulative)), histogram.total)
        in_flight = GaugeMetricFamily(
            "pysig_serve_requests_in_flight",
            "Inference requests accepted and not yet answered, by model",
            labels=["model"],
        )
        for model, count in list(metrics.in_flight.items()):
            in_flight.add_metric([model], count)
        yield from (requests, errors, latency, in_flight)
