"""pysig.Pool: interpreters of one model, shared by many threads to use every core."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from queue import SimpleQueue
from typing import Any, Dict, Generator, Iterable, Iterator, Mapping

from numpy.typing import NDArray

from ._pickling import rebuild_pool, recipe_for_pickle
from .errors import ClosedError, InvokeCancelledError, SignatureNotFoundError
from .interpreter import Interpreter
from .model import PathLike, read_model
from .signature_runner import SignatureRunner

Outputs = Dict[str, NDArray[Any]]

# How often close(cancel_pending=True) repeats its cancel requests: the runtime
# forgets a cancel that arrives before an invocation starts, so one request
# could miss a call that was about to invoke.
_CANCEL_RETRY_SECONDS = 0.005


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _mark_worker(marker: threading.local) -> None:
    marker.active = True


class Pool:
    """``size`` interpreters of one model, each running one call at a time.

    ``run()`` blocks until an interpreter is free and runs on the calling thread;
    ``submit()``, ``map()`` and ``run_async()`` run on the pool's ``size`` worker
    threads. Every interpreter is built from the same bytes object, read once.
    Outputs are new arrays, never views into an interpreter another call reuses.

    ``size`` defaults to the number of usable CPUs. ``num_threads`` (default 1)
    is per interpreter; other keyword options (``delegates``, ``op_resolver``)
    are passed to each :class:`pysig.Interpreter`, so delegates given here must
    support being used by several interpreters at once.

    An error in one call (a bad input, a failed invocation) is raised to that
    call's caller only; the pool stays usable. ``close()`` lets accepted work
    finish, or cancels it with ``cancel_pending=True``; calls after it raise
    :class:`pysig.ClosedError`. All methods are thread-safe.
    """

    def __init__(
        self,
        model_path: PathLike | None = None,
        *,
        model_content: bytes | None = None,
        size: int | None = None,
        num_threads: int | None = 1,
        **interpreter_options: Any,
    ) -> None:
        if size is None:
            size = usable_cpus()
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"size must be a positive int or None, not {size!r}")
        # Read and verified once; every interpreter shares these bytes.
        model = read_model(model_path, model_content)
        self._interpreters: list[Interpreter] = []
        try:
            for _ in range(size):
                self._interpreters.append(
                    Interpreter._from_model(model, num_threads=num_threads, **interpreter_options)
                )
        except BaseException:
            for interpreter in self._interpreters:
                interpreter.close()
            raise
        self._signature_list = self._interpreters[0].get_signature_list()
        # Every runner exists before any thread can ask for one, so lookups never mutate.
        self._runners: list[dict[str, SignatureRunner]] = [
            {key: interpreter.get_signature_runner(key) for key in self._signature_list}
            for interpreter in self._interpreters
        ]
        self._idle: deque[int] = deque(range(size))
        self._busy: set[int] = set()
        # One lock, two conditions: calls wait for a free interpreter, close() waits
        # for the accepted calls to drain. Separate conditions mean a notify() meant
        # for a waiting call can never be consumed by close() instead.
        self._state = threading.Lock()
        self._freed = threading.Condition(self._state)
        self._drained = threading.Condition(self._state)
        self._accepted = 0  # calls admitted and not finished, queued futures included
        self._closed = False
        self._cancelling = False
        self._released = False
        self._queued: set[Future[Outputs]] = set()
        self._worker = threading.local()
        # The initializer gets the thread-local, not the pool: worker threads that
        # referenced the pool would keep an unclosed, unused pool alive forever.
        self._executor = ThreadPoolExecutor(
            max_workers=size,
            thread_name_prefix="pysig-pool",
            initializer=_mark_worker,
            initargs=(self._worker,),
        )

    @property
    def size(self) -> int:
        """The number of interpreters, which is also the number of worker threads."""
        return len(self._interpreters)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def runtime(self) -> str:
        """The runtime every interpreter of the pool runs on: ``"tflite"`` or ``"litert"``."""
        return self._interpreters[0].runtime

    @property
    def signature_list(self) -> dict[str, dict[str, list[str]]]:
        """Signature keys with their input and output names, in tf.lite's format."""
        return self.get_signature_list()

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        """Signature keys with their input and output names, in tf.lite's format."""
        return {
            key: {"inputs": list(sig["inputs"]), "outputs": list(sig["outputs"])}
            for key, sig in self._signature_list.items()
        }

    def get_input_details(self, signature_key: str | None = None) -> dict[str, dict[str, Any]]:
        """Input name -> tf.lite's tensor details of a signature, as its runners give them."""
        return self._runners[0][self._key(signature_key)].get_input_details()

    def get_output_details(self, signature_key: str | None = None) -> dict[str, dict[str, Any]]:
        """Output name -> tf.lite's tensor details of a signature, as its runners give them."""
        return self._runners[0][self._key(signature_key)].get_output_details()

    def run(self, signature_key: str | None = None, /, **inputs: Any) -> Outputs:
        """Run one signature on the calling thread once an interpreter is free.

        The key may be omitted when the model has one signature; it is
        positional, so an input may be named ``signature_key``. Returns every
        output as a new array. Raises InvokeCancelledError if
        ``close(cancel_pending=True)`` stops the call.
        """
        key = self._key(signature_key)
        self._admit()
        try:
            return self._call(key, inputs)
        finally:
            self._finish()

    def submit(self, signature_key: str | None = None, /, **inputs: Any) -> Future[Outputs]:
        """Queue one call for the worker threads; its future gives the outputs or the error."""
        key = self._key(signature_key)
        self._admit()
        try:
            future = self._executor.submit(self._call, key, inputs)
        except BaseException:
            self._finish()
            raise
        with self._state:
            self._queued.add(future)
        future.add_done_callback(self._settle)
        return future

    def map(
        self,
        signature_key: str | None,
        inputs: Iterable[Mapping[str, Any]],
        ordered: bool = True,
    ) -> Generator[Outputs, None, None]:
        """Run one signature on each dict of inputs, yielding outputs as a stream.

        At most ``2 * size`` calls are in flight: ``inputs`` is consumed only as
        results are taken, so it may be an endless generator. With
        ``ordered=False`` results come as they complete, not in input order. The
        first failed call raises from the iterator and stops it; closing the
        iterator early cancels the calls it queued that have not started.
        """
        key = self._key(signature_key)
        return self._stream(key, iter(inputs), ordered)

    async def run_async(self, signature_key: str | None = None, /, **inputs: Any) -> Outputs:
        """``run()`` for asyncio: the call runs on a worker thread, the event loop stays free.

        Cancelling the awaiting task cancels the call if it has not started.
        """
        return await asyncio.wrap_future(self.submit(signature_key, **inputs))

    def close(self, cancel_pending: bool = False) -> None:
        """Stop accepting calls, settle the accepted ones, then release the interpreters.

        By default accepted calls run to completion first. With
        ``cancel_pending=True`` queued futures are cancelled, ``run()`` callers
        still waiting for an interpreter and invocations in progress raise
        InvokeCancelledError. Called from a pool thread (a future's done
        callback), it does not wait: the last call to finish releases the pool.
        """
        with self._state:
            self._closed = True
            if cancel_pending:
                self._cancelling = True
                queued = list(self._queued)
                self._freed.notify_all()
                self._cancel_running()
            else:
                queued = []
        for future in queued:
            future.cancel()
        on_worker = getattr(self._worker, "active", False)
        if not on_worker:
            with self._state:
                while self._accepted:
                    if cancel_pending:
                        self._drained.wait(_CANCEL_RETRY_SECONDS)
                        self._cancel_running()
                    else:
                        self._drained.wait()
        with self._state:
            self._release_if_done()
        if not on_worker:
            # Already shut down by the release; this joins the idle worker threads.
            self._executor.shutdown(wait=True)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its size and its interpreters' model bytes and options."""
        recipe = recipe_for_pickle(self._interpreters[0]._recipe, self._closed, "this pool")
        return rebuild_pool, (recipe, self.size)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"signatures={list(self._signature_list)}"
        return f"<pysig.Pool size={self.size} {state}>"

    def _key(self, signature_key: str | None) -> str:
        """The signature key to run, checked here so a bad one fails in the caller's thread.

        A closed pool says so before anything else is checked.
        """
        self._ensure_open()
        if signature_key is None:
            if len(self._signature_list) != 1:
                raise SignatureNotFoundError(
                    f"the model has {len(self._signature_list)} signatures, so a key is needed: "
                    f"{', '.join(map(repr, self._signature_list))}"
                )
            return next(iter(self._signature_list))
        if signature_key not in self._signature_list:
            raise SignatureNotFoundError(
                f"no signature {signature_key!r}; the model has: "
                f"{', '.join(map(repr, self._signature_list)) or 'none'}"
            )
        return signature_key

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClosedError("the pool has been closed")

    def _admit(self) -> None:
        with self._state:
            self._ensure_open()
            self._accepted += 1

    def _finish(self) -> None:
        with self._state:
            self._accepted -= 1
            if not self._accepted:
                self._drained.notify_all()
                self._release_if_done()

    def _settle(self, future: Future[Outputs]) -> None:
        with self._state:
            self._queued.discard(future)
        self._finish()

    def _call(self, key: str, inputs: dict[str, Any]) -> Outputs:
        with self._state:
            while not self._idle and not self._cancelling:
                self._freed.wait()
            if self._cancelling:
                raise InvokeCancelledError("the pool was closed with cancel_pending=True")
            index = self._idle.pop()
            self._busy.add(index)
        try:
            return self._runners[index][key](**inputs)
        finally:
            with self._state:
                self._busy.discard(index)
                # Most recently used first: its memory is the likeliest to be in cache.
                self._idle.append(index)
                self._freed.notify()

    def _cancel_running(self) -> None:
        """Ask every busy interpreter to stop; the caller holds the state lock."""
        for index in self._busy:
            # Any runner will do: cancelling stops its whole interpreter.
            next(iter(self._runners[index].values())).cancel()

    def _release_if_done(self) -> None:
        """Close the interpreters once the pool is closed and idle; the caller holds the lock."""
        if self._closed and not self._accepted and not self._released:
            self._released = True
            for interpreter in self._interpreters:
                interpreter.close()
            # Only now: a call admitted before close() may still be about to submit.
            self._executor.shutdown(wait=False)

    def _stream(
        self, key: str, source: Iterator[Mapping[str, Any]], ordered: bool
    ) -> Generator[Outputs, None, None]:
        pending: set[Future[Outputs]] = set()
        in_order: deque[Future[Outputs]] = deque()
        # Futures put themselves here as they complete: one queue read per result,
        # where concurrent.futures.wait() would re-arm every pending future each time.
        completed: SimpleQueue[Future[Outputs]] = SimpleQueue()

        def launch(item: Mapping[str, Any]) -> None:
            future = self.submit(key, **item)
            pending.add(future)
            if ordered:
                in_order.append(future)
            else:
                future.add_done_callback(completed.put)

        try:
            for item in islice(source, 2 * self.size):
                launch(item)
            while pending:
                future = in_order.popleft() if ordered else completed.get()
                pending.discard(future)
                result = future.result()
                # Refill before yielding so the pool keeps working while the caller does.
                for item in islice(source, 1):
                    launch(item)
                yield result
        finally:
            for future in pending:
                future.cancel()
