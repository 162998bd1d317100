"""The OpenAPI document of the server's endpoints, served at /openapi.json."""

from __future__ import annotations

from typing import Any, Sequence

from .metrics import METRICS_PATH

OPENAPI_PATH = "/openapi.json"

_ERROR = {
    "description": "The request failed; the body says why.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    },
}
_ERRORS = {
    "400": _ERROR,
    "404": _ERROR,
    "413": _ERROR,
    "429": _ERROR,
    "501": _ERROR,
}
_JSON_VALUE: dict[str, Any] = {}  # any JSON value: a tensor in nested lists, or an object of them
_SIGNATURE = {"type": "string", "description": "default: serving_default, or the only signature"}
_EXAMPLE = {
    "type": "object",
    "description": "feature name -> value or list of values (number, string or {'b64': ...})",
    "additionalProperties": _JSON_VALUE,
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


_PREDICT = {
    "type": "object",
    "properties": {
        "signature_name": _SIGNATURE,
        "instances": {"type": "array", "items": _JSON_VALUE},
        "inputs": _JSON_VALUE,
    },
}
_CLASSIFY_REGRESS = {
    "type": "object",
    "properties": {
        "signature_name": _SIGNATURE,
        "context": _EXAMPLE,
        "examples": {"type": "array", "items": _EXAMPLE},
    },
    "required": ["examples"],
}

_PARAMETERS = {
    "version": {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "label": {"name": "label", "in": "path", "required": True, "schema": {"type": "string"}},
}


def document(title: str, version: str, models: Sequence[str]) -> dict[str, Any]:
    """The document of a server that serves ``models`` (listed as the model names it knows)."""
    model_name = {
        "name": "model_name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(models)},
    }
    paths: dict[str, Any] = {}
    for suffix, extra in (
        ("", []),
        ("/versions/{version}", ["version"]),
        ("/labels/{label}", ["label"]),
    ):
        base = "/v1/models/{model_name}" + suffix
        parameters = [model_name] + [_PARAMETERS[name] for name in extra]
        paths[base] = {
            "get": {
                "summary": "Model status (TF Serving's GetModelStatus)",
                "parameters": parameters,
                "responses": {"200": _ok("model_version_status of the versions"), **_ERRORS},
            }
        }
        paths[base + "/metadata"] = {
            "get": {
                "summary": "Model metadata: the signature map (TF Serving's GetModelMetadata)",
                "parameters": parameters,
                "responses": {"200": _ok("model_spec and metadata.signature_def"), **_ERRORS},
            }
        }
        for verb, schema, summary in (
            ("predict", _PREDICT, "Run a signature on tensors in row or columnar format"),
            ("classify", _CLASSIFY_REGRESS, "Classify examples with a classify signature"),
            ("regress", _CLASSIFY_REGRESS, "Regress examples with a regress signature"),
        ):
            paths[f"{base}:{verb}"] = {
                "post": {
                    "summary": summary,
                    "parameters": parameters,
                    "requestBody": _body(schema),
                    "responses": {"200": _ok(f"the {verb} results"), **_ERRORS},
                }
            }
    paths[METRICS_PATH] = {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {"200": {"description": "metrics in Prometheus' text format"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
    }
