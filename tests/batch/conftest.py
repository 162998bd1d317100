"""Fixtures for batch inference: the image model's rows, and real local clusters."""

from __future__ import annotations

import os
from typing import Any, Iterator

# Before Ray is imported: no usage report (it would go out to the network), no log
# deduplication.
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_DEDUP_LOGS"] = "0"
os.environ["RAY_DISABLE_DOCKER_CPU_WARNING"] = "1"

import numpy as np
import pytest
import ray
import ray.data
from _support import model_path
from distributed import Client, LocalCluster

import pysig

# Enough rows that every engine splits them over many batches and both workers.
IMAGE_ROWS = 2000


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    """uint8 images for the test image classifier (float32 input: pysig converts them)."""
    rng = np.random.default_rng(16)
    return rng.integers(0, 256, size=(IMAGE_ROWS, 96, 96, 3), dtype=np.uint8)


_REFERENCES: dict[str, np.ndarray] = {}


@pytest.fixture
def expected_probabilities(images: np.ndarray, runtime: str) -> np.ndarray:
    """Each image run alone through pysig.Interpreter in this process, on the test's
    runtime: the reference (computed once per runtime)."""
    if runtime not in _REFERENCES:
        interpreter = pysig.Interpreter(model_path("image_classifier"), num_threads=1)
        runner = interpreter.get_signature_runner("classify")
        _REFERENCES[runtime] = np.concatenate(
            [runner(image=image[None].astype(np.float32))["probabilities"] for image in images]
        )
    return _REFERENCES[runtime]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A real two-CPU Ray cluster on loopback, quiet and without the dashboard."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=400 * 1024 * 1024,
    )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A real Dask LocalCluster of two worker processes on 127.0.0.1."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # Its HTTP server (metrics) on a free port: 8787 may be taken on a shared machine.
        dashboard_address="127.0.0.1:0",
    ) as cluster, Client(cluster) as client:
        yield client
