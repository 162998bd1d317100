"""Fuzzing the API from its own OpenAPI document with schemathesis: no request may get a
server error (5xx) or take the server down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import hypothesis
import hypothesis.errors
import pytest
import requests
from _server import Server
from _support import model_path
from hypothesis import HealthCheck, Phase, strategies

# schemathesis 4 needs Python 3.9; the test extra installs it there only.
schemathesis = pytest.importorskip("schemathesis", minversion="4", reason="needs Python 3.9+")
GenerationMode = schemathesis.GenerationMode

# Cases per operation and mode; the suite's run is short, a longer one takes the variable.
CASES = int(os.environ.get("PYSIG_SERVE_FUZZ_CASES", "10"))


def test_fuzz_from_openapi_gives_no_server_error(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list {\n"
        f"  config {{ name: 'half' base_path: '{model_path('half_plus_three')}' }}\n"
        f"  config {{ name: 'types' base_path: '{model_path('types')}' }}\n"
        "}\n"
    )
    server = start_server(
        "--model_config_file",
        str(config),
        "--enable_batching",
        "--max_request_bytes",
        "100000",
        ready_model="half",
    )
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures: list[str] = []
    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, mode, server.url, session, failures)
    assert not failures, "\n".join(failures[:10])
    assert server.alive()
    assert server.get("/v1/models/half").status_code == 200
    assert server.post("/v1/models/half:predict", {"instances": [1.0]}).json() == {
        "predictions": [3.5]
    }


def fuzz(
    operation: Any, mode: Any, url: str, session: requests.Session, failures: list[str]
) -> None:
    """Send CASES generated requests for one operation; note every 5xx answer."""

    @hypothesis.settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(data=strategies.data())
    def check(data: strategies.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        response = case.call(base_url=url, session=session, timeout=60)
        if response.status_code >= 500:
            failures.append(
                f"{case.as_curl_command()} -> {response.status_code} {response.text[:300]}"
            )

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        # Nothing in the operation can be made invalid (a GET with no parameters).
        assert mode is GenerationMode.NEGATIVE
