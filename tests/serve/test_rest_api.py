"""TF Serving's REST API against a real ``pysig serve``: the examples and error cases of
its REST guide and of its json_tensor tests that apply to TFLite, with outputs equal to
pysig.Interpreter's bit for bit."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from _server import Server
from _support import model_path, runtime_gap

import pysig

MODELS = {
    "half": "half_plus_three",
    "types": "types",
    "multi": "multi_signature",
    "dynamic": "dynamic",
    "counter": "counter",
    "no_signature": "no_signature",
    "zero_input": "zero_input",
    "arg_reduce": "arg_reduce",
    "quant": "quant_int8",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_runtime: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("models")
    entries = []
    for name, model in MODELS.items():
        (root / name / "1").mkdir(parents=True)
        (root / name / "1" / "model.tflite").write_bytes(Path(model_path(model)).read_bytes())
        entries.append(
            f"  config {{ name: '{name}' base_path: '{root / name}' model_platform: 'tensorflow' }}"
        )
    entries.append(f'  config {{ name: "demo" base_path: "{pysig.DEMO_MODEL_PATH}" }}')
    config = root / "models.config"
    config.write_text("model_config_list {\n" + "\n".join(entries) + "\n}\n")
    # One interpreter each, so the counter model's variable is one.
    started = Server(
        ["--model_config_file", str(config), "--pool_size", "1"], "half", module_runtime
    )
    yield started
    assert started.alive()
    assert started.terminate() == 0


def reference(model: str, key: str, **inputs: Any) -> dict[str, np.ndarray]:
    """What pysig.Interpreter returns on the test's runtime (PYSIG_RUNTIME, as the server)."""
    path = pysig.DEMO_MODEL_PATH if model == "demo" else model_path(MODELS[model])
    return pysig.Interpreter(path).get_signature_runner(key)(**inputs)


def as_array(value: Any, like: np.ndarray) -> np.ndarray:
    if like.dtype == object:
        return np.array(value, dtype=object).reshape(like.shape)
    return np.array(value, dtype=like.dtype).reshape(like.shape)


def assert_same(value: Any, expected: np.ndarray) -> None:
    got = as_array(value, expected)
    if expected.dtype == object:
        assert got.tolist() == [item.decode() for item in expected.reshape(-1)] or got.tolist() == [
            item.decode() for item in expected.reshape(-1)
        ]
    else:
        assert got.tobytes() == expected.tobytes(), (got, expected)


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    return str(body["error"])


def gap(server: Server, model: str, key: str) -> str | None:
    """What the server's runtime says of a signature it cannot run, or None when it runs."""
    found = runtime_gap(server.runtime, MODELS[model], key)
    return None if found is None else found[1]


def assert_unimplemented(response: Any, message: str) -> None:
    """A signature the server's runtime cannot run: 501 with pysig's clear error, which
    names the runtime that can."""
    error = error_of(response, 501)
    assert message in error
    assert "runtime='tflite'" in error


# --------------------------------------------------------- the REST guide's examples


def test_status_as_in_the_guide(server: Server) -> None:
    response = server.get("/v1/models/half")
    assert response.status_code == 200
    assert response.json() == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert server.get("/v1/models/half/versions/1").json() == response.json()


def test_predict_as_in_the_guide(server: Server) -> None:
    response = server.post("/v1/models/half:predict", b'{"instances": [1.0,2.0,5.0]}')
    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5, 4.0, 5.5]}
    expected = reference("half", "serving_default", x=np.array([1.0, 2.0, 5.0], np.float32))
    assert_same(response.json()["predictions"], expected["y"])


def test_regress_as_in_the_guide(server: Server) -> None:
    body = {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]}
    response = server.post("/v1/models/half:regress", body)
    assert response.status_code == 200
    assert response.json() == {"results": [3.5, 4.0]}


def test_unknown_model_as_in_the_guide(server: Server) -> None:
    response = server.post("/v1/models/hal:predict", b'{"instances": [1.0,5.0]}')
    assert error_of(response, 404) == "Servable not found for request: Latest(hal)"


def test_predict_columnar_and_version_paths(server: Server) -> None:
    for path in ("/v1/models/half:predict", "/v1/models/half/versions/1:predict"):
        response = server.post(path, {"signature_name": "serving_default", "inputs": [3.0, 4.0]})
        assert response.json() == {"outputs": [4.5, 5.0]}
    response = server.post("/v1/models/half/versions/7:predict", {"instances": [1.0]})
    assert "Specific(half, 7)" in error_of(response, 404)


def test_classify_results_match_the_interpreter(server: Server) -> None:
    x = np.array([[1.0, 2.0], [0.0, -1.0], [0.5, 0.25]], np.float32)
    body = {
        "signature_name": "tensorflow/serving/classify",
        "examples": [{"x": [float(a), float(b)]} for a, b in x],
    }
    response = server.post("/v1/models/half:classify", body)
    unimplemented = gap(server, "half", "tensorflow/serving/classify")
    if unimplemented:  # its labels are a string tensor
        assert_unimplemented(response, unimplemented)
    else:
        assert response.status_code == 200, response.text
        expected = reference("half", "tensorflow/serving/classify", x=x)
        results = response.json()["results"]
        labels = [[label for label, _ in row] for row in results]
        scores = np.array([[score for _, score in row] for row in results], np.float32)
        assert labels == [[label.decode() for label in row] for row in expected["classes"]]
        assert scores.tobytes() == expected["scores"].tobytes()
    # Only scores: the labels are empty.
    body["signature_name"] = "classify_scores"
    response = server.post("/v1/models/half:classify", body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [[label for label, _ in row] for row in results] == [["", "", ""]] * 3
    scores = np.array([[score for _, score in row] for row in results], np.float32)
    expected = reference("half", "classify_scores", x=x)
    assert scores.tobytes() == expected["scores"].tobytes()


def test_classify_and_regress_need_their_signature(server: Server) -> None:
    message = error_of(server.post("/v1/models/half:classify", {"examples": [{"x": 1.0}]}), 400)
    assert (
        "Expected classification signature method_name to be tensorflow/serving/classify" in message
    )
    message = error_of(server.post("/v1/models/half:regress", {"examples": [{"x": 1.0}]}), 400)
    assert "tensorflow/serving/regress. Was: tensorflow/serving/predict" in message


def test_classify_with_context(server: Server) -> None:
    body = {
        "signature_name": "classify_scores",
        "context": {"x": [1.0, 2.0]},
        "examples": [{}, {}],
    }
    response = server.post("/v1/models/half:classify", body)
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 2
    body["examples"] = [{"x": [1.0, 2.0]}]
    assert "context" in error_of(server.post("/v1/models/half:classify", body), 400)


# ---------------------------------------------------------------------- metadata


def test_metadata_has_tf_servings_signature_map(server: Server) -> None:
    response = server.get("/v1/models/half/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["model_spec"] == {"name": "half", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {
        "serving_default",
        "tensorflow/serving/regress",
        "tensorflow/serving/classify",
        "classify_scores",
    }
    assert signatures["serving_default"]["method_name"] == "tensorflow/serving/predict"
    assert signatures["tensorflow/serving/regress"]["method_name"] == "tensorflow/serving/regress"
    assert signatures["classify_scores"]["method_name"] == "tensorflow/serving/classify"
    classify = signatures["tensorflow/serving/classify"]
    assert classify["method_name"] == "tensorflow/serving/classify"
    x = classify["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT"
    assert x["tensor_shape"] == {
        "dim": [{"size": "-1", "name": ""}, {"size": "2", "name": ""}],
        "unknown_rank": False,
    }
    assert x["name"].endswith(":0")
    assert classify["outputs"]["classes"]["dtype"] == "DT_STRING"
    assert server.get("/v1/models/half/versions/1/metadata").json() == body


def test_metadata_of_every_signature_matches_the_interpreter(server: Server) -> None:
    body = server.get("/v1/models/types/metadata").json()
    signatures = body["metadata"]["signature_def"]["signature_def"]
    interpreter = pysig.Interpreter(model_path("types"), runtime=server.runtime)
    names = interpreter.get_signature_list()
    assert list(signatures) == list(names)
    dtypes = {
        "bool": "DT_BOOL",
        "int64": "DT_INT64",
        "float16": "DT_HALF",
        "int8": "DT_INT8",
        "uint8": "DT_UINT8",
        "int32": "DT_INT32",
        "float32": "DT_FLOAT",
        "bytes": "DT_STRING",
    }
    for key, signature in signatures.items():
        runner = interpreter.get_signature_runner(key)
        assert list(signature["inputs"]) == names[key]["inputs"]
        assert list(signature["outputs"]) == names[key]["outputs"]
        for kind, details in (
            ("inputs", runner.get_input_details()),
            ("outputs", runner.get_output_details()),
        ):
            for name, info in signature[kind].items():
                assert info["dtype"] == dtypes[np.dtype(details[name]["dtype"]).name]
                sizes = [int(dim["size"]) for dim in info["tensor_shape"]["dim"]]
                assert sizes == details[name]["shape_signature"].tolist()
                assert info["name"] == details[name]["name"]


def test_model_without_signatures_is_served_as_serving_default(server: Server) -> None:
    signatures = server.get("/v1/models/no_signature/metadata").json()["metadata"]["signature_def"]
    assert list(signatures["signature_def"]) == ["serving_default"]
    a, b = np.array([[1.5, 2, 3]], np.float32), np.array([[4, 5, 6.25]], np.float32)
    response = server.post(
        "/v1/models/no_signature:predict", {"instances": [{"a": a[0].tolist(), "b": b[0].tolist()}]}
    )
    assert response.status_code == 200, response.text
    expected = reference("no_signature", "serving_default", a=a, b=b)
    (row,) = response.json()["predictions"]
    assert_same([row["sum"]], expected["sum"])
    assert_same([row["product"]], expected["product"])


# ------------------------------------------------------- tensors of every type


def test_every_dtype_round_trips_bit_for_bit(server: Server) -> None:
    cases = [
        (
            "logical",
            {"a": [True, False, True, False], "b": [True, True, False, False]},
            {"a": np.array([1, 0, 1, 0], bool), "b": np.array([1, 1, 0, 0], bool)},
        ),
        (
            "int64_add",
            {"x": [2**62, -5, 7], "y": [1, 2, -(2**40)]},
            {"x": np.array([2**62, -5, 7], np.int64), "y": np.array([1, 2, -(2**40)], np.int64)},
        ),
        (
            "half",
            {"x": [0.1, 1.5, -2.0, 65504.0]},
            {"x": np.array([0.1, 1.5, -2.0, 65504.0], np.float16)},
        ),
        (
            "int8_ops",
            {"x": [-128, -1, 0, 127], "u": [0, 1, 200, 255]},
            {"x": np.array([-128, -1, 0, 127], np.int8), "u": np.array([0, 1, 200, 255], np.uint8)},
        ),
    ]
    for key, body, inputs in cases:
        response = server.post("/v1/models/types:predict", {"signature_name": key, "inputs": body})
        assert response.status_code == 200, response.text
        outputs = response.json()["outputs"]
        expected = reference("types", key, **inputs)
        if len(expected) == 1:
            outputs = {next(iter(expected)): outputs}
        assert set(outputs) == set(expected)
        for name, value in expected.items():
            assert_same(outputs[name], value)


def test_strings_and_b64_in_row_format(server: Server) -> None:
    body = {
        "signature_name": "strings",
        "instances": [
            {"s": "foo", "i": 2},
            {"s": {"b64": base64.b64encode(b"hello").decode()}, "i": 0},
            {"s": "naïve", "i": 1},
        ],
    }
    response = server.post("/v1/models/types:predict", body)
    unimplemented = gap(server, "types", "strings")
    if unimplemented:
        assert_unimplemented(response, unimplemented)
        return
    assert response.status_code == 200, response.text
    # One output: its name is left out of each row.
    assert response.json() == {"predictions": ["naïve", "foo", "hello"]}
    expected = reference(
        "types",
        "strings",
        s=np.array([b"foo", b"hello", "naïve".encode()], object),
        i=np.array([2, 0, 1], np.int32),
    )
    assert [item.decode() for item in expected["picked"]] == response.json()["predictions"]


def test_non_utf8_string_outputs_come_back_as_b64(server: Server) -> None:
    raw = b"\xff\xfe binary"
    body = {
        "signature_name": "strings",
        "inputs": {"s": [{"b64": base64.b64encode(raw).decode()}], "i": [0]},
    }
    response = server.post("/v1/models/types:predict", body)
    unimplemented = gap(server, "types", "strings")
    if unimplemented:
        assert_unimplemented(response, unimplemented)
        return
    assert response.json() == {"outputs": [{"b64": base64.b64encode(raw).decode()}]}


def test_several_outputs_row_and_columnar(server: Server) -> None:
    a = np.array([[1.5, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    response = server.post(
        "/v1/models/multi:predict",
        {"signature_name": "mul", "inputs": {"a": a.tolist(), "b": b.tolist()}},
    )
    assert response.status_code == 200, response.text
    assert_same(response.json()["outputs"], reference("multi", "mul", a=a, b=b)["product"])
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    row = server.post(
        "/v1/models/dynamic:predict", {"signature_name": "reduce", "instances": x.tolist()}
    )
    # A scalar output cannot be split into rows.
    assert "no shape information" in error_of(row, 400)
    columns = server.post(
        "/v1/models/dynamic:predict", {"signature_name": "reduce", "inputs": x.tolist()}
    )
    assert columns.status_code == 200, columns.text
    expected = reference("dynamic", "reduce", x=x)
    assert set(columns.json()["outputs"]) == {"total", "row_sums"}
    for name, value in expected.items():
        assert_same(columns.json()["outputs"][name], value)


def test_data_dependent_output_shape(server: Server) -> None:
    x = [1.0, -2.0, 3.0, 0.0, 5.0]
    response = server.post(
        "/v1/models/dynamic:predict", {"signature_name": "positives", "instances": x}
    )
    unimplemented = gap(server, "dynamic", "positives")
    if unimplemented:
        assert_unimplemented(response, unimplemented)
        return
    assert response.json() == {"predictions": [1.0, 3.0, 5.0]}


def test_quantized_model(server: Server) -> None:
    x = np.array([[-128, -5, 0, 3, 17, 64, 100, 127]], np.int8)
    response = server.post("/v1/models/quant:predict", {"instances": x.tolist()})
    assert response.status_code == 200, response.text
    assert_same(response.json()["predictions"], reference("quant", "serving_default", x=x)["y"])


def test_zero_input_and_stateful_models(server: Server) -> None:
    constant = server.post(
        "/v1/models/zero_input:predict", {"signature_name": "constant", "inputs": {}}
    )
    unimplemented = gap(server, "zero_input", "constant")
    if unimplemented:  # their outputs are raw reads of resource variables
        assert_unimplemented(constant, unimplemented)
        for key, inputs in (("read", {}), ("increment", {"delta": 5})):
            response = server.post(
                "/v1/models/counter:predict", {"signature_name": key, "inputs": inputs}
            )
            assert_unimplemented(response, unimplemented)
        return
    assert_same(constant.json()["outputs"], reference("zero_input", "constant")["value"])
    # The counter's variable lives in the version's one interpreter, across requests.
    base = server.post(
        "/v1/models/counter:predict", {"signature_name": "read", "inputs": {}}
    ).json()["outputs"]
    server.post(
        "/v1/models/counter:predict", {"signature_name": "increment", "inputs": {"delta": 5}}
    )
    after = server.post(
        "/v1/models/counter:predict", {"signature_name": "read", "inputs": {}}
    ).json()["outputs"]
    assert after == base + 5


def test_nan_and_infinity_tokens(server: Server) -> None:
    response = server.post(
        "/v1/models/demo:predict",
        b'{"signature_name": "scale", "instances": [[NaN, Infinity, -Infinity, 1.5]]}',
    )
    assert response.status_code == 200, response.text
    x = np.array([[math.nan, math.inf, -math.inf, 1.5]], np.float32)
    expected = reference("demo", "scale", x=x)["y"]
    values = json.loads(response.text)["predictions"]  # the standard library reads the tokens
    assert_same(values, expected)
    assert "NaN" in response.text


def test_json_tensor_number_cases(server: Server) -> None:
    def predict(values: str) -> Any:
        return server.post(
            "/v1/models/demo:predict", '{"signature_name": "scale", "instances": ' + values + "}"
        )

    # Integers and decimals mix in a float tensor; precision is lost as float32 loses it.
    response = predict("[[1, 2.0, 3, 1435774380]]")
    assert response.status_code == 200, response.text
    expected = reference("demo", "scale", x=np.array([[1, 2, 3, 1435774380]], np.float32))["y"]
    assert_same(response.json()["predictions"], expected)
    # Beyond float32: +-inf (then the model's own arithmetic), tiny: 0.
    assert (
        predict(
            f"[[{float(np.finfo(np.float64).max)!r}, {-float(np.finfo(np.float64).max)!r}, 1e-320, 0]]"
        ).status_code
        == 200
    )
    # Beyond double: a parse error.
    assert "JSON Parse error" in error_of(predict("[[1e400, 0, 0, 0]]"), 400)


# ------------------------------------------------------------ json_tensor errors


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "document is empty"),
        ("instances = [1, 2]", "JSON Parse error"),
        ("[1, 2]", "Is not object"),
        ('{"signature_name": 5, "instances": [[1,2,3,4]]}', "must be a string value"),
        ('{"instances": [[1,2,3,4]], "inputs": [[1,2,3,4]]}', "Not formatted correctly"),
        ('{"instances": [[1,2,3,4],[3,4,5,6],[5,6,7,8,9]]}', "Expecting tensor size"),
        ('{"instances": [[1,2,3,4],[3,4,5,6],[[5,6,7,8]]]}', "Expecting shape"),
        ('{"instances": [1, [1]]}', "Expecting shape"),
        ('{"instances": [[1,2,3,4],["a","b","c","d"]]}', "not of expected type"),
        ('{"instances": [[1,2,3,true]]}', "not of expected type"),
        ('{"instances": [[1,2,3,null]]}', "not of expected type"),
        ('{"instances": [[1,2,3,{"a": 1}]]}', "Type: Object is not of expected type"),
        ('{"instances": 5}', "to be an list/array"),
        ('{"instances": []}', "No values in 'instances' array"),
        ('{"signature_name": "scale"}', "Missing 'inputs' or 'instances' key"),
        ('{"instances": [[1,2,3]]}', "shape [1, 3]"),
        ('{"inputs": [1,2,3,4]}', "shape [4]"),
        ('{"instances": [{"x": [1,2,3,4]}, [1,2,3,4]]}', "Expecting object but got list"),
        ('{"instances": [[1,2,3,4], {"x": [1,2,3,4]}]}', "Expecting value/list but got object"),
        ('{"instances": [{"x": [1,2,3,4], "z": 1}]}', "does not have named input: z"),
        ('{"inputs": {"z": [[1,2,3,4]]}}', "Missing named input: x"),
        ('{"signature_name": "nope", "instances": [1]}', 'signature name: "nope" not found'),
    ],
)
def test_predict_errors(server: Server, body: str, message: str) -> None:
    if '"signature_name"' not in body and body.startswith("{"):
        body = '{"signature_name": "scale", ' + body[1:]
    response = server.post("/v1/models/demo:predict", body)
    status = 404 if "not found" in message else 400
    assert message in error_of(response, status)


def test_errors_of_several_inputs(server: Server) -> None:
    message = error_of(
        server.post("/v1/models/multi:predict", {"signature_name": "add", "instances": [1, 2]}), 400
    )
    assert "expecting list of objects" in message
    message = error_of(
        server.post("/v1/models/multi:predict", {"signature_name": "add", "inputs": [1, 2, 3]}), 400
    )
    assert "expecting an object" in message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("300", "outside the range of DT_UINT8"),
        ("-1", "outside the range of DT_UINT8"),
        ("18446744073709551616", "not of expected type"),
        ("1.5", "not of expected type"),
        ('"7"', "not of expected type"),
    ],
)
def test_integer_errors(server: Server, value: str, message: str) -> None:
    body = (
        '{"signature_name": "int8_ops", "inputs": {"x": [1, 2, 3, 4], "u": [1, 2, 3, '
        + value
        + "]}}"
    )
    assert message in error_of(server.post("/v1/models/types:predict", body), 400)


def test_base64_errors(server: Server) -> None:
    body = {"signature_name": "strings", "inputs": {"s": [{"b64": "!!!"}], "i": [0]}}
    assert "base64" in error_of(server.post("/v1/models/types:predict", body), 400)
    body = {"signature_name": "strings", "inputs": {"s": [{"b64": "aGk=", "x": 1}], "i": [0]}}
    assert "base64" in error_of(server.post("/v1/models/types:predict", body), 400)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"signature_name": ["hello"], "examples": [{"x": 1.0}]},
            "'signature_name' key must be a string",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "context": [{"x": 1.0}]},
            "Example must be JSON object",
        ),
        ({"signature_name": "tensorflow/serving/regress", "examples": {"x": 1.0}}, "list/array"),
        ({"signature_name": "tensorflow/serving/regress", "examples": []}, "empty array"),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [[{"x": 1.0}]]},
            "Example must be JSON object",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": [10, None]}]},
            "unexpected JSON type: Null",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": [10, 10.0]}]},
            "x expecting type: int64",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": [10, {"t": 10}]}]},
            "unexpected JSON type: Object",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": [[10], 20]}]},
            "unexpected JSON type: Array",
        ),
        (
            {
                "signature_name": "tensorflow/serving/regress",
                "examples": [{"x": [20, 18446744073709551603]}],
            },
            "Only int64_t is supported",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"y": 1.0}]},
            "no feature 'x'",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": "a"}]},
            "holds bytes values",
        ),
        (
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": [1.0, 2.0]}]},
            "do not fit",
        ),
        ({"signature_name": "tensorflow/serving/regress"}, "'examples' is expected"),
    ],
)
def test_regress_errors(server: Server, body: dict[str, Any], message: str) -> None:
    assert message in error_of(server.post("/v1/models/half:regress", body), 400)


def test_regress_features_of_every_kind(server: Server) -> None:
    body = {
        "signature_name": "tensorflow/serving/regress",
        "examples": [{"x": 2}, {"x": [True]}, {"x": [NAN_TOKEN]}],
    }
    text = json.dumps(body).replace(f'"{NAN_TOKEN}"', "NaN")
    response = server.post("/v1/models/half:regress", text)
    assert response.status_code == 200, response.text
    assert response.text.replace(" ", "") == '{"results":[4.0,3.5,NaN]}'


NAN_TOKEN = "__nan__"


# ----------------------------------------------------------------- routing errors


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/v1/foo", 400, "Malformed request"),
        ("POST", "/v1/models", 400, "Malformed request"),
        ("GET", "/v1/models", 400, "Missing model name"),
        ("GET", "/v1/models/half:predict", 400, "Malformed request"),
        ("POST", "/v1/models/half/version/1:regress", 400, "Malformed request"),
        ("POST", "/v1/models/half/versions/HELLO:regress", 400, "Malformed request"),
        ("POST", f"/v1/models/half/versions/{2**64 - 1}:regress", 400, "Failed to convert version"),
        ("POST", "/v1/models/half/metadata", 400, "Malformed request"),
        ("POST", "/v1/models/half/versions/1/labels/x:regress", 400, "Malformed request"),
        ("GET", "/v1/models/half/labels/nope", 400, "Unrecognized servable version label"),
        ("GET", "/v1/models/nope", 404, "Could not find any versions of model nope"),
        ("GET", "/v1/models/half/versions/9", 404, "Could not find version 9 of model half"),
        ("GET", "/v1/models/nope/metadata", 404, "Servable not found"),
        ("GET", "/elsewhere", 404, "no endpoint"),
        ("PUT", "/v1/models/half:predict", 400, "Malformed request"),
    ],
)
def test_routing_errors(server: Server, method: str, path: str, status: int, message: str) -> None:
    response = server.client.request(method, path, content=b"{}")
    assert message in error_of(response, status)


def test_runtime_refusals_leave_the_server_working(server: Server) -> None:
    # An empty ARG_MAX axis: pysig refuses it before the runtime could crash on it.
    refused = server.post(
        "/v1/models/arg_reduce:predict", {"signature_name": "over_dynamic_axis", "instances": [[]]}
    )
    assert "ARG" in error_of(refused, 400) or "empty" in refused.json()["error"]
    x = np.array([[0.5, 3.0, -1.0]], np.float32)
    good = server.post(
        "/v1/models/arg_reduce:predict",
        {"signature_name": "over_dynamic_axis", "instances": x.tolist()},
    )
    assert_same(
        good.json()["predictions"], reference("arg_reduce", "over_dynamic_axis", x=x)["index"]
    )
    # Shapes that do not broadcast: the runtime refuses them while preparing.
    bad = server.post(
        "/v1/models/demo:predict",
        {"signature_name": "add", "inputs": {"x": [[1.0, 2.0, 3.0]], "y": [[1.0, 2.0, 3.0, 4.0]]}},
    )
    error_of(bad, 400)
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    fine = server.post(
        "/v1/models/demo:predict",
        {"signature_name": "add", "inputs": {"x": x.tolist(), "y": x.tolist()}},
    )
    assert_same(fine.json()["outputs"], reference("demo", "add", x=x, y=x)["sum"])
    if gap(server, "types", "strings"):
        return
    # GATHER with an index out of range fails in the runtime while running.
    bad = server.post(
        "/v1/models/types:predict", {"signature_name": "strings", "inputs": {"s": ["a"], "i": [5]}}
    )
    error_of(bad, 400)
    fine = server.post(
        "/v1/models/types:predict",
        {"signature_name": "strings", "inputs": {"s": ["a", "b"], "i": [1]}},
    )
    assert fine.json() == {"outputs": ["b"]}


def test_openapi_document(server: Server) -> None:
    document = server.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/v1/models/{model_name}:predict" in document["paths"]
    parameters = document["paths"]["/v1/models/{model_name}/metadata"]["get"]["parameters"]
    assert set(parameters[0]["schema"]["enum"]) == {*MODELS, "demo"}
