"""Models and their versions: loading, serving, swapping and unloading, as TF Serving does.

A model's base path holds numeric version folders, each with a ``model.tflite``
(or is a single ``.tflite`` file, served as version 1). The versions the policy
picks are loaded; a new version folder found by polling is loaded in a worker
thread while the current one keeps serving, then made current in one step on
the event loop. A version that leaves the policy stops getting new requests,
answers the ones it has (draining) and is then unloaded. Every request holds
its version from lookup to response, so a swap never fails a request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import PysigError
from ..pool import Pool
from .batching import Batcher, Tensors
from .config import BatchingParameters, ConfigError, ModelConfig
from .errors import InvalidArgument, NotFound, ResourceExhausted
from .metrics import Metrics
from .signatures import SignatureSpec, metadata, signature_specs

logger = logging.getLogger("pysig.serve")

MODEL_FILE = "model.tflite"
# Calls shorter than this on average, with inputs up to INLINE_BYTES, run on the event loop.
INLINE_SECONDS = 0.001
INLINE_BYTES = 64 << 10
_PROBES = 3
SINGLE_FILE_VERSION = 1


@dataclass(frozen=True)
class ServingOptions:
    """How every version is served: its pool, batching and the bound on waiting calls."""

    pool_options: dict[str, Any] = field(default_factory=dict)  # pysig.Pool keyword arguments
    batching: BatchingParameters | None = None  # None: batching off
    max_queued_requests: int = 64  # per version, beyond the calls its interpreters run


class Servable:
    """One loaded version: its pool, signature specs, batchers and the requests it holds."""

    def __init__(
        self, model: str, version: int, pool: Pool, options: ServingOptions, metrics: Metrics
    ) -> None:
        self.model = model
        self.version = version
        self.pool = pool
        self.signatures: dict[str, SignatureSpec] = signature_specs(pool)
        self.metadata = orjson.dumps(metadata(model, version, self.signatures))
        self._limit = pool.size + options.max_queued_requests
        self._metrics = metrics
        self.held = 0
        self._in_threads = 0  # calls handed to the pool's threads and not yet answered
        # Per signature, how long its first calls took, run on the event loop where the
        # time is the call's own (no thread hand-off); the shortest decides where the
        # signature's later calls run (a machine busy elsewhere delays some calls, never all).
        self._probes: dict[str, list[float]] = {}
        self._inline: dict[str, bool] = {}  # the decision, once the probes are in
        self._drained: asyncio.Event | None = None
        self.batchers: dict[str, Batcher] = {}
        if options.batching is not None:
            params = options.batching
            for key, spec in self.signatures.items():
                if spec.batchable:
                    self.batchers[key] = Batcher(
                        self._runner(key),
                        params,
                        params.num_batch_threads or pool.size,
                        metrics.batch_size.labels(model, key).observe,
                        metrics.queue_depth.labels(model, key).set,
                    )

    def _runner(self, key: str) -> Any:
        async def run(inputs: Tensors) -> Tensors:
            return await self.pool.run_async(key, **inputs)

        return run

    def hold(self) -> None:
        self.held += 1

    def release(self) -> None:
        self.held -= 1
        if not self.held and self._drained is not None:
            self._drained.set()

    async def run(self, spec: SignatureSpec, inputs: Tensors) -> Tensors:
        batcher = self.batchers.get(spec.key)
        if batcher is not None:
            return await batcher.submit(inputs)
        if self.held > self._limit:
            raise ResourceExhausted(
                f"model {self.model!r} version {self.version} already has {self.held - 1} "
                f"requests in flight, the most it takes (--max_queued_requests plus its "
                f"{self.pool.size} interpreters): retry later"
            )
        inline = self._inline.get(spec.key)
        if (
            inline is not False
            and self._in_threads < self.pool.size
            and sum(value.nbytes for value in inputs.values()) <= INLINE_BYTES
        ):
            # A call this short costs less than handing it to a thread and back. Calls on
            # the event loop run one at a time and the threads hold fewer interpreters than
            # the pool has, so one is idle: this never waits for an interpreter.
            if inline:
                return self.pool.run(spec.key, **inputs)
            started = time.perf_counter()
            outputs = self.pool.run(spec.key, **inputs)
            probes = self._probes.setdefault(spec.key, [])
            probes.append(time.perf_counter() - started)
            if len(probes) == _PROBES:
                self._inline[spec.key] = min(probes) < INLINE_SECONDS
        else:
            self._in_threads += 1
            try:
                outputs = await self.pool.run_async(spec.key, **inputs)
            finally:
                self._in_threads -= 1
        return outputs

    async def drain_and_close(self) -> None:
        """Wait for the requests that hold this version, then release its interpreters."""
        if self.held:
            self._drained = asyncio.Event()
            await self._drained.wait()
        await asyncio.get_running_loop().run_in_executor(None, self.pool.close)


@dataclass
class VersionState:
    """A version's row in the model status API."""

    state: str  # START, LOADING, AVAILABLE, UNLOADING or END
    error_code: str = "OK"
    error_message: str = ""
    source: tuple[float, int] | None = None  # the model file's (mtime, size) when loaded


class Model:
    """One configured model: its versions by number and the state of each."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.versions: dict[int, Servable] = {}
        self.states: dict[int, VersionState] = {}

    @property
    def name(self) -> str:
        return self.config.name

    def resolve(self, version: int | None, label: str | None) -> Servable:
        if label is not None:
            if label not in self.config.labels:
                raise InvalidArgument(f"Unrecognized servable version label: {label}")
            version = self.config.labels[label]
        if version is None:
            if self.versions:
                return self.versions[max(self.versions)]
            raise NotFound(f"Servable not found for request: Latest({self.name})")
        servable = self.versions.get(version)
        if servable is None:
            raise NotFound(f"Servable not found for request: Specific({self.name}, {version})")
        return servable

    def available_versions(self) -> dict[int, str]:
        """Version number -> model file, for the versions found under the base path."""
        path = self.config.base_path
        if os.path.isfile(path):
            return {SINGLE_FILE_VERSION: path}
        try:
            entries = os.listdir(path)
        except OSError as error:
            logger.error("model %r: cannot list %r: %s", self.name, path, error)
            return {}
        found = {}
        for entry in entries:
            model_file = os.path.join(path, entry, MODEL_FILE)
            # Version folders are decimal numbers, as TF Serving's file system source has them.
            if entry.isdigit() and os.path.isfile(model_file):
                found[int(entry)] = model_file
        return found


class ModelManager:
    """Every configured model, kept in line with its base path."""

    def __init__(
        self,
        configs: list[ModelConfig],
        options: ServingOptions,
        metrics: Metrics,
        poll_seconds: float,
    ) -> None:
        self.models: dict[str, Model] = {config.name: Model(config) for config in configs}
        self._options = options
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._poller: asyncio.Task[None] | None = None
        self._unloading: set[asyncio.Task[None]] = set()

    def resolve(self, name: str, version: int | None, label: str | None) -> Servable:
        model = self.models.get(name)
        if model is None:
            what = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise NotFound(f"Servable not found for request: {what}")
        return model.resolve(version, label)

    def status(self, name: str, version: int | None) -> list[dict[str, Any]]:
        model = self.models.get(name)
        if model is None or not model.states:
            raise NotFound(f"Could not find any versions of model {name}")
        if version is not None and version not in model.states:
            raise NotFound(f"Could not find version {version} of model {name}")
        numbers = [version] if version is not None else sorted(model.states, reverse=True)
        return [
            {
                "version": str(number),
                "state": model.states[number].state,
                "status": {
                    "error_code": model.states[number].error_code,
                    "error_message": model.states[number].error_message,
                },
            }
            for number in numbers
        ]

    async def start(self) -> None:
        """Load every model's versions; a model none of whose versions loads is an error."""
        await self.poll()
        empty = [model.name for model in self.models.values() if not model.versions]
        if empty:
            details = "; ".join(
                f"{name}: "
                + (
                    ", ".join(
                        f"version {number}: {state.error_message}"
                        for number, state in self.models[name].states.items()
                    )
                    or f"no version folder with a {MODEL_FILE} in {self.models[name].config.base_path!r}"
                )
                for name in empty
            )
            raise ConfigError(f"no version could be served for {details}")
        if self._poll_seconds > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    async def stop(self) -> None:
        """Stop polling, then drain and unload every version."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        for model in self.models.values():
            for number in list(model.versions):
                self._retire(model, number)
        await asyncio.gather(*self._unloading, return_exceptions=True)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await self.poll()
            except Exception:
                logger.exception("polling the model base paths failed")

    async def poll(self) -> None:
        for model in self.models.values():
            await self._update(model)

    async def _update(self, model: Model) -> None:
        found = model.available_versions()
        wanted = model.config.policy.choose(list(found))
        for number in wanted:
            if number in model.versions:
                continue
            source = _source(found[number])
            state = model.states.get(number)
            if state is not None and state.state == "END" and state.source == source:
                continue  # failed (or unloaded) with this very file: wait for a new one
            await self._load(model, number, found[number], source)
        for number in list(model.versions):
            if number not in wanted and any(n in model.versions for n in wanted):
                self._retire(model, number)

    async def _load(self, model: Model, number: int, path: str, source: Any) -> None:
        model.states[number] = VersionState("LOADING", source=source)
        loop = asyncio.get_running_loop()
        try:
            servable = await loop.run_in_executor(None, self._build, model.name, number, path)
        except (PysigError, OSError, ValueError, RuntimeError, TypeError) as error:
            logger.error("model %r version %d: cannot load %r: %s", model.name, number, path, error)
            model.states[number] = VersionState("END", "UNKNOWN", str(error), source)
            return
        model.states[number] = VersionState("AVAILABLE", source=source)
        # One assignment on the event loop: the next request sees the new version.
        model.versions = {**model.versions, number: servable}
        logger.info("model %r version %d: serving %r", model.name, number, path)

    def _build(self, name: str, number: int, path: str) -> Servable:
        pool = Pool(path, **self._options.pool_options)
        try:
            return Servable(name, number, pool, self._options, self._metrics)
        except BaseException:
            pool.close()
            raise

    def _retire(self, model: Model, number: int) -> None:
        servable = model.versions[number]
        model.versions = {n: s for n, s in model.versions.items() if n != number}
        state = model.states[number]
        state.state = "UNLOADING"

        async def unload() -> None:
            await servable.drain_and_close()
            state.state = "END"
            logger.info("model %r version %d: unloaded", model.name, number)

        task = asyncio.get_running_loop().create_task(unload())
        self._unloading.add(task)
        task.add_done_callback(self._unloading.discard)


def _source(path: str) -> tuple[float, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime, info.st_size)
