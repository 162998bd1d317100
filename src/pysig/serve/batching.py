"""Dynamic batching: concurrent calls of one signature merged into one call and split back.

The scheduling follows TF Serving's batch scheduler: a batch is formed when one of
``num_batch_threads`` is free and either ``max_batch_size`` rows are waiting or
the oldest waiting call is ``batch_timeout_micros`` old (at once with a timeout of
0, so calls merge only while every thread is busy). At most
``max_enqueued_batches`` batches' worth of rows wait; beyond that a call is
refused with RESOURCE_EXHAUSTED (HTTP 429) instead of waiting without bound.
Everything here runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any, Awaitable, Callable, Dict

import numpy as np
from numpy.typing import NDArray

from .config import BatchingParameters
from .errors import ApiError, InvalidArgument, ResourceExhausted

Tensors = Dict[str, NDArray[Any]]
Runner = Callable[[Tensors], Awaitable[Tensors]]


class _Call:
    __slots__ = ("arrived", "future", "inputs", "key", "rows")

    def __init__(self, inputs: Tensors, rows: int, key: tuple[Any, ...], arrived: float) -> None:
        self.inputs = inputs
        self.rows = rows
        self.key = key
        self.arrived = arrived
        self.future: asyncio.Future[Tensors] = asyncio.get_running_loop().create_future()


class Batcher:
    """Merges the calls of one signature whose inputs all have a dynamic first dimension.

    Calls merge when their inputs agree in dtype and in every dimension after the
    first (in rank only, with ``pad_variable_length_inputs``: smaller inputs are then
    padded with their first element, as TF Serving pads them).
    """

    def __init__(
        self,
        run: Runner,
        params: BatchingParameters,
        threads: int,
        on_batch: Callable[[int], None],
        on_queue: Callable[[int], None],
    ) -> None:
        self._run = run
        self._params = params
        self._free_threads = threads
        self._on_batch = on_batch
        self._on_queue = on_queue
        self._queue: deque[_Call] = deque()
        self._queued_rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, inputs: Tensors) -> Tensors:
        rows = next(iter(inputs.values())).shape[0]
        limit = self._params.max_batch_size
        if any(value.shape[0] != rows for value in inputs.values()):
            raise InvalidArgument(
                "every input of a batched signature must have the same first dimension, got "
                + ", ".join(f"{name}: {value.shape[0]}" for name, value in inputs.items())
            )
        if rows > limit:
            raise InvalidArgument(
                f"Task size {rows} is larger than maximum input batch size {limit}"
            )
        if math.ceil((self._queued_rows + rows) / limit) > self._params.max_enqueued_batches:
            raise ResourceExhausted(
                "The batch scheduling queue to which this task was submitted is full "
                f"({self._params.max_enqueued_batches} batches of up to {limit} rows wait)"
            )
        call = _Call(inputs, rows, self._key(inputs), asyncio.get_running_loop().time())
        self._queue.append(call)
        self._queued_rows += rows
        self._on_queue(len(self._queue))
        self._schedule()
        return await call.future

    def _key(self, inputs: Tensors) -> tuple[Any, ...]:
        if self._params.pad_variable_length_inputs:
            return tuple((name, value.dtype, value.ndim) for name, value in inputs.items())
        return tuple((name, value.dtype, value.shape[1:]) for name, value in inputs.items())

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        timeout = self._params.batch_timeout_micros / 1e6
        while self._free_threads and self._queue:
            if timeout and self._queued_rows < self._params.max_batch_size:
                deadline = self._queue[0].arrived + timeout
                if loop.time() < deadline:
                    self._timer = loop.call_at(deadline, self._schedule)
                    return
            batch = self._take()
            if not batch:
                continue
            self._free_threads -= 1
            task = loop.create_task(self._execute(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _take(self) -> list[_Call]:
        """The oldest call and the compatible calls after it, up to max_batch_size rows."""
        limit = self._params.max_batch_size
        key = self._queue[0].key
        batch: list[_Call] = []
        skipped: list[_Call] = []
        rows = 0
        while self._queue and rows < limit:
            call = self._queue.popleft()
            if call.future.done():  # its caller went away
                self._queued_rows -= call.rows
            elif call.key == key and rows + call.rows <= limit:
                batch.append(call)
                rows += call.rows
                self._queued_rows -= call.rows
            else:
                skipped.append(call)
        self._queue.extendleft(reversed(skipped))
        self._on_queue(len(self._queue))
        return batch

    async def _execute(self, batch: list[_Call]) -> None:
        try:
            try:
                outputs = await self._run_merged(batch)
            except Exception:
                if len(batch) == 1:
                    raise
                # One call's data may have failed the whole batch: each call gets its own answer.
                await asyncio.gather(*(self._execute_alone(call) for call in batch))
                return
            offset = 0
            for call in batch:
                if not call.future.done():
                    call.future.set_result(
                        {
                            name: value[offset : offset + call.rows]
                            for name, value in outputs.items()
                        }
                    )
                offset += call.rows
        except Exception as error:  # noqa: BLE001  (handed to the callers)
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(error)
        finally:
            self._free_threads += 1
            self._schedule()

    async def _execute_alone(self, call: _Call) -> None:
        try:
            result = await self._run_merged([call])
        except Exception as error:  # noqa: BLE001  (handed to the caller)
            if not call.future.done():
                call.future.set_exception(error)
            return
        if not call.future.done():
            call.future.set_result(result)

    async def _run_merged(self, batch: list[_Call]) -> Tensors:
        rows = sum(call.rows for call in batch)
        size = self._params.padded_size(rows)
        inputs = {}
        for name in batch[0].inputs:
            parts = [call.inputs[name] for call in batch]
            if self._params.pad_variable_length_inputs:
                parts = _padded_to_largest(parts)
            if size > rows:
                # Rows that make the batch an allowed size: copies of the first row.
                parts.append(np.repeat(parts[0][:1], size - rows, axis=0))
            inputs[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._on_batch(size)
        outputs = await self._run(inputs)
        for name, value in outputs.items():
            if value.ndim == 0 or value.shape[0] != size:
                raise ApiError(
                    f"output {name!r} has shape {list(value.shape)} for a batch of {size} rows: "
                    "the signature cannot be batched (start the server without --enable_batching)"
                )
        return outputs


def _padded_to_largest(parts: list[NDArray[Any]]) -> list[NDArray[Any]]:
    largest = np.max([part.shape[1:] for part in parts], axis=0)
    padded = []
    for part in parts:
        missing = [(0, 0)] + [(0, int(want - have)) for want, have in zip(largest, part.shape[1:])]
        if any(after for _, after in missing):
            fill = part.flat[0] if part.size else part.dtype.type()
            padded.append(np.pad(part, missing, mode="constant", constant_values=fill))
        else:
            padded.append(part)
    return padded
