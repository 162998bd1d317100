"""The ASGI application: TF Serving's REST API, Prometheus metrics and the OpenAPI document.

Written directly against ASGI (no framework): a request is routed, its body read
up to the size limit, parsed, run and answered; every failure becomes
``{"error": message}`` with its HTTP status and one log line, and nothing a
client sends can stop the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict

import orjson

from .._version import __version__
from ..errors import PysigError
from . import json_tensor, numeric_body
from .errors import ApiError, InvalidArgument, NotFound, PayloadTooLarge, from_pysig
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import METRICS_PATH, Metrics
from .models import ModelManager, Servable
from .openapi import OPENAPI_PATH, document
from .routing import API_PREFIX, Route, route
from .signatures import CLASSIFY, REGRESS, SignatureSpec, choose_signature

logger = logging.getLogger("pysig.serve")

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]

_JSON = b"application/json"
_THREAD_BYTES = 64 << 10


class _ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class App:
    """``pysig serve``'s ASGI application over a ModelManager."""

    def __init__(self, manager: ModelManager, metrics: Metrics, max_request_bytes: int) -> None:
        self.manager = manager
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.startup_error: BaseException | None = None
        self._openapi = orjson.dumps(document("pysig serve", __version__, list(manager.models)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.manager.start()
                except Exception as error:  # noqa: BLE001  (reported by the command)
                    self.startup_error = error
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.manager.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        content_type = _JSON
        model, api = "", "other"
        try:
            if path.lower().startswith(API_PREFIX):
                target = route(method, path)
                api = target.api
                body = await self._body(scope, receive) if method == "POST" else b""
                if target.model in self.manager.models:
                    model = target.model
                status, payload = 200, await self._api(target, body)
            elif path == METRICS_PATH and method == "GET":
                status, payload, content_type = (
                    200,
                    self.metrics.page(),
                    METRICS_CONTENT_TYPE.encode(),
                )
                api = "metrics"
            elif path == OPENAPI_PATH and method == "GET":
                status, payload = 200, self._openapi
            else:
                raise NotFound(f"no endpoint {method} {path}: the API is under {API_PREFIX}models/")
        except _ClientGone:
            return
        except ApiError as error:
            status, payload = int(error.status), json_tensor.error_body(error.message)
            logger.warning("%s %s -> %d: %s", method, path, status, error.message)
        except Exception as error:
            status = 500
            payload = json_tensor.error_body(f"internal error: {type(error).__name__}: {error}")
            logger.exception("%s %s -> 500", method, path)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        if api != "metrics":
            self.metrics.observe(model, api, status, time.perf_counter() - started)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.max_request_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise PayloadTooLarge(
                    f"the request body has {int(value)} bytes, more than the limit of {limit} "
                    "(--max_request_bytes)"
                )
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"the request body is more than the limit of {limit} bytes (--max_request_bytes)"
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _api(self, target: Route, body: bytes) -> bytes:
        if target.api == "status":
            version = target.version
            if target.label is not None:
                version = self.manager.resolve(target.model, None, target.label).version
            return json_tensor.dumps(
                {"model_version_status": self.manager.status(target.model, version)}
            )
        if target.api == "metadata":
            return self.manager.resolve(target.model, target.version, target.label).metadata
        if target.api == "predict":
            if len(body) > _THREAD_BYTES:
                # The reader holds no GIL: bodies this large are read on worker threads, so
                # several are read at once and the event loop keeps answering meanwhile.
                loop = asyncio.get_running_loop()
                numeric = await loop.run_in_executor(None, numeric_body.read, body)
            else:
                numeric = numeric_body.read(body)
            if numeric is not None:
                return await self._call(
                    target,
                    numeric.signature_name,
                    lambda spec, servable: self._predict_numeric(numeric, body, spec, servable),
                )
        document = json_tensor.loads(body)
        name = json_tensor.signature_name(document)
        if target.api == "predict":
            return await self._call(
                target, name, lambda spec, servable: self._predict(document, body, spec, servable)
            )
        items, context = json_tensor.examples(document)
        method = CLASSIFY if target.api == "classify" else REGRESS
        kind = "classification" if target.api == "classify" else "regression"

        async def examples_call(spec: SignatureSpec, servable: Servable) -> bytes:
            if spec.method_name != method:
                raise InvalidArgument(
                    f"Expected {kind} signature method_name to be {method}. Was: "
                    f"{spec.method_name} (signature {spec.key!r}; its outputs are "
                    f"{', '.join(spec.outputs)})"
                )
            inputs = json_tensor.example_inputs(items, context, spec.inputs)
            spec.check_shapes(inputs)
            outputs = await self._run(servable, spec, inputs)
            if method == CLASSIFY:
                return json_tensor.classify_response(
                    outputs.get("scores"), outputs.get("classes"), len(items)
                )
            return json_tensor.regress_response(outputs["outputs"], len(items))

        return await self._call(target, name, examples_call)

    async def _call(
        self,
        target: Route,
        signature: str | None,
        work: Callable[[SignatureSpec, Servable], Awaitable[bytes]],
    ) -> bytes:
        servable = self.manager.resolve(target.model, target.version, target.label)
        # Held from lookup to response: a version swap drains it before unloading it.
        servable.hold()
        in_flight = self.metrics.in_flight
        model = servable.model
        in_flight[model] = in_flight.get(model, 0) + 1
        try:
            return await work(choose_signature(servable.signatures, signature), servable)
        finally:
            in_flight[model] -= 1
            servable.release()

    async def _predict_numeric(
        self,
        numeric: numeric_body.NumericRequest,
        body: bytes,
        spec: SignatureSpec,
        servable: Servable,
    ) -> bytes:
        inputs = numeric_body.inputs(numeric, spec.inputs)
        if inputs is None:
            return await self._predict(json_tensor.loads(body), body, spec, servable)
        return await self._predicted(inputs, numeric.fmt, spec, servable)

    async def _predict(
        self, document: dict[str, Any], body: bytes, spec: SignatureSpec, servable: Servable
    ) -> bytes:
        # numpy would read a bool among numbers as 0 or 1: check values one by one only then.
        has_bools = b"true" in body or b"false" in body
        inputs, fmt = json_tensor.predict_inputs(document, spec.inputs, has_bools)
        return await self._predicted(inputs, fmt, spec, servable)

    async def _predicted(
        self,
        inputs: json_tensor.Tensors,
        fmt: json_tensor.RequestFormat,
        spec: SignatureSpec,
        servable: Servable,
    ) -> bytes:
        spec.check_shapes(inputs)
        outputs = await self._run(servable, spec, inputs)
        return json_tensor.predict_response({name: outputs[name] for name in spec.outputs}, fmt)

    async def _run(
        self, servable: Servable, spec: SignatureSpec, inputs: json_tensor.Tensors
    ) -> json_tensor.Tensors:
        try:
            return await servable.run(spec, inputs)
        except PysigError as error:
            raise from_pysig(error) from error
