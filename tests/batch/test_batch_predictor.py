"""BatchPredictor in one process: batch formats, row layouts, dtypes and errors."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _support import model_path

import pysig
from pysig.runtime.choose import installed


@pytest.fixture
def classify() -> pysig.SignatureRunner:
    return pysig.Interpreter(model_path("image_classifier")).get_signature_runner("classify")


def one_by_one(runner: pysig.SignatureRunner, images: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [runner(image=image[None].astype(np.float32))["probabilities"] for image in images]
    )


def test_fixed_batch_of_one_fed_batches_of_64(
    images: np.ndarray, classify: pysig.SignatureRunner
) -> None:
    predictor = pysig.BatchPredictor(model_path("image_classifier"), "classify")
    for start in range(0, 192, 64):
        batch = {"image": images[start : start + 64], "id": np.arange(start, start + 64)}
        out = predictor(batch)
        assert list(out) == ["image", "id", "probabilities"]
        assert out["image"] is batch["image"]
        assert out["probabilities"].shape == (64, 10)
        assert out["probabilities"].dtype == np.float32
        assert np.array_equal(out["probabilities"], one_by_one(classify, batch["image"]))


def test_dynamic_batch_runs_the_batch_as_one_call(images: np.ndarray) -> None:
    interpreter = pysig.Interpreter(model_path("image_classifier"))
    predictor = pysig.BatchPredictor(interpreter, "classify_any")
    for size in (64, 5, 64):
        rows = images[:size]
        got = predictor({"image": rows})["probabilities"]
        whole = interpreter.get_signature_runner("classify_any")(image=rows.astype(np.float32))
        assert np.array_equal(got, whole["probabilities"])
    # The runner was resized to the last batch: the model really ran 64 rows at once.
    details = interpreter.get_signature_runner("classify_any").get_input_details()
    assert list(details["image"]["shape"]) == [64, 96, 96, 3]


def test_dataframe_in_dataframe_out(images: np.ndarray, classify: pysig.SignatureRunner) -> None:
    rows = images[:20]
    frame = pd.DataFrame(
        {"pixels": list(rows), "name": [f"img{i}" for i in range(20)]},
        index=pd.Index([f"r{i}" for i in range(20)]),
    )
    predictor = pysig.BatchPredictor(
        Path(model_path("image_classifier")).read_bytes(),
        "classify",
        inputs={"image": "pixels"},
        outputs={"probabilities": "scores"},
    )
    out = predictor(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["pixels", "name", "scores"]
    assert list(out.index) == list(frame.index)
    assert "scores" not in frame.columns  # the input batch is left as it was
    assert np.array_equal(np.stack(out["scores"].to_list()), one_by_one(classify, rows))


def test_one_call_per_row_when_a_row_is_the_whole_tensor() -> None:
    path = model_path("multi_signature")
    add = pysig.Interpreter(path).get_signature_runner("add")
    predictor = pysig.BatchPredictor(path, "add")
    x = np.arange(30, dtype=np.int32).reshape(10, 3)
    y = np.full((10, 3), 7, np.int16)  # int16 converts safely into the int32 tensor
    out = predictor({"x": x, "y": y})["sum"]
    assert out.dtype == np.int32
    assert np.array_equal(out, np.stack([add(x=a, y=b)["sum"] for a, b in zip(x, y)]))
    # Python lists in DataFrame cells convert by pysig's rules too.
    frame = pd.DataFrame({"x": [[1, 2, 3], [4, 5, 6]], "y": [[1, 1, 1], [2, 2, 2]]})
    assert predictor(frame)["sum"].map(list).to_list() == [[2, 3, 4], [6, 7, 8]]


def test_fixed_batch_of_two_pads_the_last_slice() -> None:
    path = model_path("multi_signature")
    mul = pysig.Interpreter(path).get_signature_runner("mul")
    a = np.arange(10, dtype=np.float32).reshape(5, 2)
    b = a[::-1] + 0.5
    out = pysig.BatchPredictor(path, "mul")({"a": a, "b": b})["product"]
    assert out.shape == (5, 2)
    expected = [mul(a=np.stack([a[i]] * 2), b=np.stack([b[i]] * 2))["product"][0] for i in range(5)]
    assert np.array_equal(out, np.stack(expected))


def test_outputs_without_a_row_axis_must_be_left_out() -> None:
    path = model_path("dynamic")
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    with pytest.raises(pysig.BatchColumnError, match=r"output 'total' .* outputs=\[\.\.\.\]"):
        pysig.BatchPredictor(path, "reduce")({"x": x})
    out = pysig.BatchPredictor(path, "reduce", outputs=["row_sums"])({"x": x})
    assert list(out) == ["x", "row_sums"]
    assert np.array_equal(out["row_sums"], x.sum(axis=1))


def test_rows_of_different_shapes_run_one_by_one(runtime: str) -> None:
    # positives: x[None] -> the positive values, as many as the data has.
    predictor = pysig.BatchPredictor(model_path("dynamic"), "positives")
    rows = [
        np.array([1.0, -2.0, 3.0], np.float32),
        np.array([-1.0], np.float32),
        np.ones(2, np.float32),
    ]
    if runtime == "litert":
        # LiteRT's known limit: outputs sized by the data.
        with pytest.raises(pysig.BatchRowError, match=r"^row 0: .*data-dependent") as info:
            predictor(pd.DataFrame({"x": rows}))
        # Refused from what the model file says, before any call runs.
        assert isinstance(info.value.__cause__, pysig.UnsupportedOpError)
        return
    out = predictor(pd.DataFrame({"x": rows}))["values"]
    assert [v.tolist() for v in out] == [[1.0, 3.0], [], [1.0, 1.0]]


def test_strings_and_stateful_signatures(runtime: str) -> None:
    if runtime == "litert":
        # LiteRT's known limits: string tensors, a raw variable read as an output.
        strings = pysig.BatchPredictor(model_path("types"), "strings")
        batch = {"s": np.array(["a"]), "i": np.array([0], np.int32)}
        with pytest.raises(pysig.BatchRowError, match="string tensors") as info:
            strings(batch)
        assert isinstance(info.value.__cause__, pysig.UnsupportedTypeError)
        counter = pysig.BatchPredictor(model_path("counter"), "increment")
        with pytest.raises(pysig.BatchRowError, match="raw read of a resource variable"):
            counter({"delta": np.array([1, 2, 3])})
        return
    strings = pysig.BatchPredictor(model_path("types"), "strings")
    direct = pysig.Interpreter(model_path("types")).get_signature_runner("strings")
    s = np.array(["alpha", "beta", "gamma"])
    i = np.array([2, 0, 1], np.int32)
    assert strings({"s": s, "i": i})["picked"].tolist() == direct(s=s, i=i)["picked"].tolist()
    # Rows run in order on one interpreter, so a variable counts across them.
    counter = pysig.BatchPredictor(model_path("counter"), "increment")
    assert counter({"delta": np.array([1, 2, 3])})["count"].tolist() == [1, 3, 6]


def test_empty_batch_gives_empty_columns_of_the_right_type() -> None:
    predictor = pysig.BatchPredictor(model_path("image_classifier"), "classify")
    out = predictor({"image": np.zeros((0, 96, 96, 3), np.uint8)})
    assert out["probabilities"].shape == (0, 10)
    assert out["probabilities"].dtype == np.float32
    frame = predictor(pd.DataFrame({"image": pd.Series([], dtype=object)}))
    assert list(frame.columns) == ["image", "probabilities"]
    assert len(frame) == 0


def test_row_errors_name_the_row() -> None:
    predictor = pysig.BatchPredictor(model_path("multi_signature"), "add")
    frame = pd.DataFrame(
        {"x": [[1, 2, 3], [1, 2, 3], None], "y": [[0, 0, 0]] * 3}, index=["a", "b", "c"]
    )
    with pytest.raises(pysig.BatchRowError, match=r"^row 2 \(index label 'c'\): .*'x'") as info:
        predictor(frame)
    assert (info.value.row, info.value.label) == (2, "c")
    assert isinstance(info.value.__cause__, pysig.InputTypeError)

    # What Dask makes of array cells unless told otherwise.
    frame = pd.DataFrame({"x": ["[1 2 3]"], "y": [[0, 0, 0]]})
    with pytest.raises(pysig.BatchRowError, match=r"^row 0: .*'dataframe\.convert-string'"):
        predictor(frame)

    frame = pd.DataFrame({"x": [[1, 2, 3], [1.5, 2, 3]], "y": [[0, 0, 0]] * 2})
    with pytest.raises(pysig.BatchRowError, match=r"^row 1: .*does not convert"):
        predictor(frame)

    # Rows that run together must have one shape; the first that differs is named.
    stacked = pysig.BatchPredictor(model_path("image_classifier"), "classify_any")
    images = [np.zeros((96, 96, 3), np.float32)] * 3 + [np.zeros((96, 95, 3), np.float32)]
    with pytest.raises(pysig.BatchRowError, match=r"^row 3: input 'image' has shape \(96, 95, 3\)"):
        stacked(pd.DataFrame({"image": images}))


def test_a_row_the_runtime_refuses_is_named() -> None:
    # over_dynamic_axis: argmax over x[1, None]; an empty axis is refused.
    predictor = pysig.BatchPredictor(model_path("arg_reduce"), "over_dynamic_axis")
    rows = [np.ones((1, 3), np.float32), np.ones((1, 2), np.float32), np.ones((1, 0), np.float32)]
    with pytest.raises(pysig.BatchRowError, match=r"^row 2: ") as info:
        predictor(pd.DataFrame({"x": rows}))
    assert info.value.row == 2
    assert isinstance(info.value.__cause__, pysig.InputShapeError)
    # The predictor stays usable.
    assert predictor(pd.DataFrame({"x": rows[:2]}))["index"].map(list).to_list() == [[0], [0]]


@pytest.mark.skipif(not installed("tflite"), reason="string tensors need tflite-runtime")
def test_a_failed_call_of_many_rows_names_them() -> None:
    # strings: GATHER of s at indices i; the rows run as one call, so the error covers them.
    # String tensors run on tflite only (LiteRT's refusal: see the test above).
    predictor = pysig.BatchPredictor(model_path("types"), "strings", runtime="tflite")
    batch = {"s": np.array([b"a", b"b", b"c"], dtype=object), "i": np.array([0, 1, 7], np.int32)}
    with pytest.raises(pysig.BatchRowError, match=r"^rows 0 to 2 \(run as one call\): .*GATHER"):
        predictor(batch)


def test_column_errors() -> None:
    path = model_path("multi_signature")
    predictor = pysig.BatchPredictor(path, "add")
    with pytest.raises(pysig.BatchColumnError, match=r"no column 'y' .* columns: \['x', 'z'\]"):
        predictor({"x": np.zeros((2, 3), np.int32), "z": np.zeros((2, 3), np.int32)})
    with pytest.raises(pysig.BatchColumnError, match="output column 'sum' is already"):
        predictor({name: np.zeros((2, 3), np.int32) for name in ("x", "y", "sum")})
    with pytest.raises(pysig.InputTypeError, match="float64 cannot be cast"):
        predictor({"x": np.zeros((2, 3)), "y": np.zeros((2, 3), np.int32)})
    with pytest.raises(pysig.BatchColumnError, match=r"needs 0 axes .* or 1"):
        predictor({"x": np.zeros((2, 3, 1), np.int32), "y": np.zeros((2, 3, 1), np.int32)})
    with pytest.raises(pysig.BatchColumnError, match=r"inputs= names \['q'\]"):
        pysig.BatchPredictor(path, "add", inputs={"q": "x"})
    with pytest.raises(pysig.BatchColumnError, match=r"outputs= names \['nope'\]"):
        pysig.BatchPredictor(path, "add", outputs=["nope"])
    with pytest.raises(pysig.SignatureNotFoundError):
        pysig.BatchPredictor(path)
    with pytest.raises(pysig.BatchColumnError, match="has no inputs"):
        pysig.BatchPredictor(model_path("zero_input"), "constant")
    with pytest.raises(TypeError, match="keeps the options it was built with"):
        pysig.BatchPredictor(pysig.Interpreter(path), "add", num_threads=2)


def test_predictor_pickles_with_its_settings() -> None:
    predictor = pysig.BatchPredictor(
        model_path("multi_signature"), "add", inputs={"x": "left"}, outputs={"sum": "total"}
    )
    copy = pickle.loads(pickle.dumps(predictor))
    batch = {"left": np.ones((3, 3), np.int32), "y": np.ones((3, 3), np.int32)}
    assert np.array_equal(copy(batch)["total"], predictor(batch)["total"])
    assert copy.interpreter is not predictor.interpreter


def test_import_pysig_imports_no_engine() -> None:
    code = (
        "import sys, pysig, pysig.batch\n"
        "engines = {'ray', 'dask', 'distributed', 'pandas', 'pyarrow'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & engines))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
