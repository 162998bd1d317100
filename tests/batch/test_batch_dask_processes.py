"""BatchPredictor on Dask's local cluster and in process pools."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from _support import model_path

import pysig


def image_frame(images: np.ndarray, first: int = 0) -> pd.DataFrame:
    ids = np.arange(first, first + len(images))
    return pd.DataFrame(
        {"image": list(images), "id": ids},
        index=pd.Index([f"img{i:05d}" for i in ids], name="name"),
    )


@pytest.fixture
def arrays_in_cells() -> Any:
    # Dask turns object columns into strings by default, array cells included.
    with dask.config.set({"dataframe.convert-string": False}):
        yield


@pytest.mark.usefixtures("arrays_in_cells")
def test_dask_map_partitions_row_for_row(dask_client: Any) -> None:
    parts, size = 10, 200

    def load(part: int) -> pd.DataFrame:
        # Each worker makes its partitions, as it would read them from storage.
        rng = np.random.default_rng(1000 + part)
        return image_frame(rng.integers(0, 256, (size, 96, 96, 3), np.uint8), part * size)

    images = np.concatenate([np.stack(load(part)["image"].to_list()) for part in range(parts)])
    classify = pysig.Interpreter(model_path("image_classifier")).get_signature_runner("classify")
    expected = np.concatenate([classify(image=image[None])["probabilities"] for image in images])
    empty = image_frame(images[:0])
    predictor = pysig.BatchPredictor(model_path("image_classifier"), "classify")
    # Scattered once to every worker; each task of a worker uses the same predictor.
    [shared] = dask_client.scatter([predictor], broadcast=True)
    result = (
        dd.from_map(load, range(parts), meta=empty)
        .map_partitions(pysig.batch.predict, shared, meta=predictor(empty))
        .compute()
    )
    assert result["id"].to_list() == list(range(len(images)))
    assert list(result.index) == [f"img{i:05d}" for i in range(len(images))]
    assert np.array_equal(np.stack(result["image"].to_list()), images)
    got = np.stack(result["probabilities"].to_list())
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)


@pytest.mark.usefixtures("arrays_in_cells")
def test_dask_multi_input_rows(dask_client: Any) -> None:
    path = model_path("multi_signature")
    rng = np.random.default_rng(8)
    x = rng.integers(-1000, 1000, size=(3000, 3)).astype(np.int32)
    y = rng.integers(-1000, 1000, size=(3000, 3)).astype(np.int32)
    frame = pd.DataFrame({"x": list(x), "y": list(y)})
    predictor = pysig.BatchPredictor(path, "add", outputs={"sum": "x_plus_y"})
    [shared] = dask_client.scatter([predictor], broadcast=True)
    result = (
        dd.from_pandas(frame, npartitions=6)
        .map_partitions(pysig.batch.predict, shared, meta=predictor(frame.iloc[:0]))
        .compute()
    )
    add = pysig.Interpreter(path).get_signature_runner("add")
    got = np.stack(result["x_plus_y"].to_list())
    assert np.array_equal(got, np.stack([add(x=a, y=b)["sum"] for a, b in zip(x, y)]))


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_process_pool_executor_row_for_row(
    start_method: str, images: np.ndarray, expected_probabilities: np.ndarray
) -> None:
    predictor = pysig.BatchPredictor(model_path("image_classifier"), "classify")
    batches = [{"image": chunk} for chunk in np.array_split(images[:512], 16)]
    with ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context(start_method),
        initializer=pysig.batch.install,
        initargs=(predictor,),
    ) as executor:
        outputs = list(executor.map(pysig.batch.predict, batches))
    got = np.concatenate([out["probabilities"] for out in outputs])
    assert np.array_equal(got, expected_probabilities[:512])


def test_multiprocessing_pool_with_dataframes(
    images: np.ndarray, expected_probabilities: np.ndarray
) -> None:
    frame = image_frame(images[:256])
    predictor = pysig.BatchPredictor(model_path("image_classifier"), "classify")
    parts = [frame.iloc[i : i + 32] for i in range(0, len(frame), 32)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2, initializer=pysig.batch.install, initargs=(predictor,)) as pool:
        outputs = pool.map(pysig.batch.predict, parts)
    result = pd.concat(outputs)
    assert list(result.index) == list(frame.index)
    got = np.stack(result["probabilities"].to_list())
    assert np.array_equal(got, expected_probabilities[:256])


def test_predict_without_an_installed_predictor_says_how() -> None:
    # A fresh process, where install() never ran.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        future = executor.submit(pysig.batch.predict, {"x": np.zeros(1)})
        with pytest.raises(pysig.PysigError, match=r"initializer=pysig\.batch\.install"):
            future.result()


def test_tasks_carry_no_model_bytes() -> None:
    # What a pool pickles per task is the batch and a reference to predict, never the model.
    task = pickle.dumps((pysig.batch.predict, {"image": np.zeros((1, 96, 96, 3), np.uint8)}))
    assert len(task) < 96 * 96 * 3 + 1000
