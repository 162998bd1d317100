"""BatchPredictor in Ray Data's map_batches, on a real local Ray cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import model_path

import pysig

# A pool of two actors, Ray Data's replacement for the deprecated concurrency=2.
WORKERS = 2


def counting_pickles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count how often this process pickles an Interpreter (each pickle carries the bytes)."""
    pickles: list[int] = []
    reduce = pysig.Interpreter.__reduce__

    def counted(self: pysig.Interpreter) -> tuple[Any, ...]:
        pickles.append(1)
        return reduce(self)

    monkeypatch.setattr(pysig.Interpreter, "__reduce__", counted)
    return pickles


def test_images_row_for_row(
    ray_cluster: Any,
    images: np.ndarray,
    expected_probabilities: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ray = ray_cluster
    pickles = counting_pickles(monkeypatch)
    interpreter = pysig.Interpreter(model_path("image_classifier"), num_threads=1)
    dataset = ray.data.from_numpy(np.array_split(images, 20)).map_batches(
        pysig.BatchPredictor,
        fn_constructor_kwargs={
            "model": interpreter,
            "signature": "classify",
            "inputs": {"image": "data"},
        },
        compute=ray.data.ActorPoolStrategy(size=WORKERS),
        batch_size=64,
        batch_format="numpy",
    )
    batches = list(dataset.iter_batches(batch_format="numpy", batch_size=None))
    assert np.array_equal(np.concatenate([b["data"] for b in batches]), images)
    got = np.concatenate([b["probabilities"] for b in batches])
    assert got.dtype == np.float32
    assert np.array_equal(got, expected_probabilities)
    # Ray shipped the model bytes once for both actors and every batch.
    assert len(pickles) == 1


def test_model_travels_once_and_builds_once_per_worker(
    ray_cluster: Any, images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = ray_cluster
    pickles = counting_pickles(monkeypatch)
    model = ray.put(pysig.Interpreter(model_path("image_classifier"), num_threads=1))
    assert len(pickles) == 1

    class Tagged:
        """The predictor, tagging each row with the process and interpreter that ran it."""

        def __init__(self, model: Any) -> None:
            self.predictor = pysig.BatchPredictor(model, "classify", inputs={"image": "data"})
            self.tag = f"{os.getpid()}/{id(self.predictor.interpreter)}"

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            out = self.predictor(batch)
            out["worker"] = np.full(len(out["data"]), self.tag)
            return out

    blocks = 24
    rows = images[: 8 * blocks]
    dataset = ray.data.from_numpy(np.array_split(rows, blocks)).map_batches(
        Tagged,
        fn_constructor_kwargs={"model": model},
        compute=ray.data.ActorPoolStrategy(size=WORKERS),
        batch_size=8,
    )
    tags = np.concatenate(
        [b["worker"] for b in dataset.iter_batches(batch_format="numpy", batch_size=None)]
    )
    assert len(tags) == len(rows)
    # 24 batches, but one interpreter per worker process, unpickled from the one put.
    assert 1 <= len(set(tags.tolist())) <= WORKERS
    assert len(pickles) == 1


def test_multi_input_rows(ray_cluster: Any) -> None:
    ray = ray_cluster
    rows = 3000

    def make_rows(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = batch["id"].astype(np.int32)
        return {
            "id": ids,
            "x": (ids[:, None] * np.array([1, 2, 3], np.int32)) % 1000,
            "y": np.repeat(ids[:, None] % 7, 3, axis=1),
            "a": np.stack([ids / 10, -ids / 3], axis=1).astype(np.float32),
            "b": np.full((len(ids), 2), 0.5, np.float32),
        }

    path = model_path("multi_signature")
    dataset = (
        ray.data.range(rows, override_num_blocks=12)
        .map_batches(make_rows)
        # Made first: the two actors below hold both CPUs, leaving none for these tasks.
        .materialize()
        # add: one row is a whole [3] tensor, so one call per row.
        .map_batches(
            pysig.BatchPredictor,
            fn_constructor_kwargs={"model": pysig.Interpreter(path), "signature": "add"},
            compute=ray.data.ActorPoolStrategy(size=1),
            batch_size=100,
        )
        # mul: a [2, 2] tensor takes two rows of [2] per call; 63 leaves one over.
        .map_batches(
            pysig.BatchPredictor,
            fn_constructor_kwargs={
                "model": Path(path).read_bytes(),
                "signature": "mul",
                "outputs": {"product": "ab"},
            },
            compute=ray.data.ActorPoolStrategy(size=1),
            batch_size=63,
        )
    )
    out = {
        name: np.concatenate([b[name] for b in batches])
        for batches in [list(dataset.iter_batches(batch_format="numpy", batch_size=None))]
        for name in ("id", "x", "y", "sum", "a", "b", "ab")
    }
    assert np.array_equal(out["id"], np.arange(rows))
    interpreter = pysig.Interpreter(path)
    add = interpreter.get_signature_runner("add")
    mul = interpreter.get_signature_runner("mul")
    for i in range(rows):
        assert np.array_equal(out["sum"][i], add(x=out["x"][i], y=out["y"][i])["sum"])
        pair = mul(a=np.stack([out["a"][i]] * 2), b=np.stack([out["b"][i]] * 2))["product"]
        assert np.array_equal(out["ab"][i], pair[0])
    assert out["sum"].dtype == np.int32
