"""Operating ``pysig serve``: version swaps under load, SIGTERM draining, batching, limits,
overload, and requests that must not take the server down."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import httpx
import numpy as np
import pytest
from _server import Server, version_folder
from _support import model_path

import pysig

# Every load loop stops at whichever comes first.
LOAD_REQUESTS = 400
LOAD_SECONDS = 60.0


def predict(client: httpx.Client, path: str, body: Any) -> httpx.Response:
    return client.post(path, json=body)


def predict_once(server: Server, path: str, body: Any) -> httpx.Response:
    """One request on a connection of its own."""
    with httpx.Client(base_url=server.url, timeout=120) as client:
        return predict(client, path, body)


def in_flight(server: Server, model: str) -> float:
    return server.metric("pysig_serve_requests_in_flight", model=model)


def wait_until(condition: Callable[[], bool], seconds: float = LOAD_SECONDS) -> None:
    """Polls CONDITION until it holds or SECONDS pass; the caller asserts what it needs.
    A fixed sleep is not enough on a loaded or emulated machine."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def start_batching(start_server: Callable[..., Server], tmp_path: Path) -> Callable[..., Server]:
    """Starts half_plus_three served with batching, on the BatchingParameters given (written
    in TF Serving's text format: a list is a repeated field)."""

    def start(**parameters: int | list[int]) -> Server:
        lines = []
        for name, value in parameters.items():
            values = value if isinstance(value, list) else None
            lines += (
                [f"{name}: {v}" for v in values] if values else [f"{name} {{ value: {value} }}"]
            )
        path = tmp_path / "batching.config"
        path.write_text("\n".join(lines) + "\n")
        return start_server(
            "--model_name",
            "half",
            "--model_base_path",
            model_path("half_plus_three"),
            "--enable_batching",
            "--batching_parameters_file",
            str(path),
            ready_model="half",
        )

    return start


def _states(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["version"]: row["state"] for row in rows}


def test_new_version_swaps_in_under_load_with_no_failed_request(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    version_folder(tmp_path, 1, "half_plus_three")
    server = start_server(
        "--model_name",
        "half",
        "--model_base_path",
        str(tmp_path),
        "--file_system_poll_wait_seconds",
        "0.2",
        "--pool_size",
        "1",
        ready_model="half",
    )
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            deadline = time.monotonic() + LOAD_SECONDS
            while (
                not stop.is_set() and len(statuses) < LOAD_REQUESTS and time.monotonic() < deadline
            ):
                response = predict(client, "/v1/models/half:predict", {"instances": [1.0, 2.0]})
                statuses.append(response.status_code)
                assert response.json() == {"predictions": [3.5, 4.0]}, response.text

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    # Under load for sure: requests are being answered when version 2 appears, and go on
    # being answered after the swap.
    wait_until(lambda: len(statuses) >= len(threads))
    version_folder(tmp_path, 2, "half_plus_three")
    swapped = {"2": "AVAILABLE", "1": "END"}
    rows = server.wait_for_status("/v1/models/half", lambda rows: _states(rows) == swapped)
    answered = len(statuses)
    wait_until(lambda: len(statuses) >= min(answered + len(threads), LOAD_REQUESTS))
    stop.set()
    for thread in threads:
        thread.join()
    assert _states(rows) == swapped
    assert statuses
    assert set(statuses) == {200}, statuses
    # Version 1 is gone, version 2 answers by number.
    assert (
        server.post("/v1/models/half/versions/1:predict", {"instances": [1.0]}).status_code == 404
    )
    assert server.post("/v1/models/half/versions/2:predict", {"instances": [1.0]}).json() == {
        "predictions": [3.5]
    }
    # A damaged version folder is refused and the served version stays.
    damaged = tmp_path / ".staging-3"
    damaged.mkdir()
    (damaged / "model.tflite").write_bytes(Path(model_path("half_plus_three")).read_bytes()[:1000])
    damaged.rename(tmp_path / "3")
    rows = server.wait_for_status(
        "/v1/models/half/versions/3", lambda rows: bool(rows) and rows[0]["state"] == "END"
    )
    assert rows[0]["status"]["error_code"] != "OK"
    assert rows[0]["status"]["error_message"]
    assert server.post("/v1/models/half:predict", {"instances": [1.0]}).json() == {
        "predictions": [3.5]
    }
    assert server.terminate() == 0


def test_config_file_with_specific_versions_and_labels(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    for version in (1, 2, 3):
        version_folder(tmp_path / "half", version, "half_plus_three")
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list {\n"
        "  config {\n"
        f"    name: 'half' base_path: '{tmp_path / 'half'}' model_platform: 'tensorflow'\n"
        "    model_version_policy { specific { versions: 1 versions: 2 } }\n"
        "    version_labels { key: 'stable' value: 1 }\n"
        "    version_labels { key: 'canary' value: 2 }\n"
        "  }\n"
        "}\n"
    )
    server = start_server("--model_config_file", str(config), ready_model="half")
    rows = server.get("/v1/models/half").json()["model_version_status"]
    assert [row["version"] for row in rows] == ["2", "1"]
    for path in (
        "/v1/models/half/labels/stable",
        "/v1/models/half/labels/canary",
        "/v1/models/half",
    ):
        response = server.post(path + ":predict", {"instances": [4.0]})
        assert response.json() == {"predictions": [5.0]}, path
    assert (
        server.get("/v1/models/half/labels/stable").json()["model_version_status"][0]["version"]
        == "1"
    )
    assert (
        server.get("/v1/models/half/labels/canary/metadata").json()["model_spec"]["version"] == "2"
    )
    assert (
        server.post("/v1/models/half/versions/3:predict", {"instances": [4.0]}).status_code == 404
    )


def test_sigterm_drains_requests_in_flight_and_exits_0(
    start_batching: Callable[..., Server],
) -> None:
    # The requests wait for a batch to fill or time out, so all four are surely in flight
    # when SIGTERM comes, however fast the runtime runs the model.
    server = start_batching(
        max_batch_size=8,
        batch_timeout_micros=10_000_000,
        num_batch_threads=1,
    )
    values = [1.0, 2.0, 5.0, -4.0]
    with ThreadPoolExecutor(len(values)) as executor:
        futures = [
            executor.submit(predict_once, server, "/v1/models/half:predict", {"instances": [v]})
            for v in values
        ]
        wait_until(lambda: in_flight(server, "half") == len(values))
        assert in_flight(server, "half") == len(values)
        assert all(not future.done() for future in futures)
        assert server.terminate(timeout=120) == 0
        responses = [future.result() for future in futures]
    for value, response in zip(values, responses):
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": [value * 0.5 + 3.0]}
    try:
        httpx.get(f"{server.url}/v1/models/half", timeout=5)
        refused = False
    except httpx.TransportError:
        refused = True
    assert refused


def test_batching_merges_concurrent_requests(start_batching: Callable[..., Server]) -> None:
    server = start_batching(
        max_batch_size=8,
        batch_timeout_micros=100_000,
        max_enqueued_batches=100,
        num_batch_threads=1,
        allowed_batch_sizes=[4, 8],
    )
    values = [float(i) for i in range(16)]

    def one(value: float) -> Any:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return predict(client, "/v1/models/half:predict", {"instances": [value]}).json()

    with ThreadPoolExecutor(16) as executor:
        answers = list(executor.map(one, values))
    # Each request gets its own rows back.
    assert answers == [{"predictions": [v * 0.5 + 3.0]} for v in values]
    labels = {"model": "half", "signature": "serving_default"}
    batches = server.metric("pysig_serve_batch_size_count", **labels)
    rows = server.metric("pysig_serve_batch_size_sum", **labels)
    single = server.metric("pysig_serve_batch_size_bucket", le="1.0", **labels)
    # 16 requests in fewer calls, every one padded to an allowed size (4 or 8).
    assert 2 <= batches < 16
    assert single == 0
    assert rows >= 16
    assert rows % 4 == 0
    # A signature whose output has no batch dimension is not batched, and still works.
    response = server.post(
        "/v1/models/half:predict",
        {"signature_name": "tensorflow/serving/regress", "instances": [1.0]},
    )
    assert response.json() == {"predictions": [3.5]}
    # A request larger than max_batch_size is refused on its own.
    big = server.post("/v1/models/half:predict", {"instances": [1.0] * 9})
    assert big.status_code == 400
    assert "larger than maximum input batch size 8" in big.json()["error"]


def test_full_batch_queue_answers_429(start_batching: Callable[..., Server]) -> None:
    server = start_batching(
        max_batch_size=8,
        batch_timeout_micros=5_000_000,
        max_enqueued_batches=1,
    )
    with ThreadPoolExecutor(1) as executor:
        waiting = executor.submit(
            predict_once, server, "/v1/models/half:predict", {"instances": [1.0] * 5}
        )
        wait_until(lambda: in_flight(server, "half") == 1)  # it waits in the one batch
        refused = server.post("/v1/models/half:predict", {"instances": [1.0] * 5})
        assert refused.status_code == 429
        assert "queue" in refused.json()["error"]
        assert waiting.result().json() == {"predictions": [3.5] * 5}
    assert (
        server.metric("pysig_serve_request_errors_total", model="half", api="predict", code="429")
        == 1
    )


def test_overload_answers_429_and_recovers(start_server: Callable[..., Server]) -> None:
    server = start_server(
        "--model_name",
        "slow",
        "--model_base_path",
        model_path("slow"),
        "--pool_size",
        "1",
        "--max_queued_requests",
        "0",
        ready_model="slow",
    )
    body = {"inputs": np.zeros((256, 256)).tolist()}
    with ThreadPoolExecutor(6) as executor:
        futures = [
            executor.submit(predict_once, server, "/v1/models/slow:predict", body) for _ in range(6)
        ]
        codes = sorted(future.result().status_code for future in futures)
    assert 200 in codes, codes
    assert 429 in codes, codes
    assert set(codes) <= {200, 429}, codes
    # As long a limit as the requests above: one call of slow.tflite takes 43 s emulated.
    assert predict_once(server, "/v1/models/slow:predict", body).status_code == 200


def test_body_limit_and_bad_requests_never_stop_the_server(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(
        "--model_name",
        "demo",
        "--model_base_path",
        pysig.DEMO_MODEL_PATH,
        "--max_request_bytes",
        "10000",
        ready_model="demo",
    )
    good = {"signature_name": "scale", "instances": [[1.0, 2.0, 3.0, 4.0]]}
    expected = {"predictions": [[3.5, 6.0, 8.5, 11.0]]}
    bad_requests: list[tuple[bytes, int]] = [
        (b'{"instances": [' + b"1.0," * 5000 + b"1.0]}", 413),
        (b"{" * 20000, 413),
        (b'{"signature_name": "scale", "instances": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400),
        (
            b'{"signature_name": "scale", "nested": '
            + b"[" * 3000
            + b"]" * 3000
            + b', "instances": [[1,2,3,4]]}',
            400,
        ),
        (b'{"signature_name": "scale", "instances": [[1e999999, 1, 1, 1]]}', 400),
        (b'{"signature_name": "scale", "instances": [[' + b"9" * 4000 + b", 1, 1, 1]]}", 400),
        (b'{"signature_name": "scale", "instances": [[NaN, 1, 1, ' + b"9" * 5000 + b"]]}", 400),
        (b'{"signature_name": "scale", "instances": [[1, 2, 3]]}', 400),
        (
            b'{"signature_name": "add", "inputs": {"x": [[1, 2, 3, 4]], "y": [[1, 2, 3, 4], [5, 6, 7, 8]]}}',
            400,
        ),
        (b'{"signature_name": "scale", "instances": [[1, 2, 3, 4]]', 400),
        (b"\xff\xfe\x00garbage", 400),
        (b'{"signature_name": "scale", "inputs": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}", 400),
    ]
    for body, status in bad_requests:
        response = server.post("/v1/models/demo:predict", body)
        assert response.status_code == status, (body[:80], response.text)
        assert "error" in response.json()
        assert server.post("/v1/models/demo:predict", good).json() == expected
    assert server.alive()
