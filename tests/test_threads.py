"""Many threads on one interpreter: its runners share a lock, so no update is lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pytest
from _support import runtime_gap

import pysig

THREADS = 8
CALLS = 300


def test_shared_variable_has_every_increment(
    open_model: Callable[..., pysig.Interpreter], runtime: str
) -> None:
    interp = open_model("counter")
    increment = interp.get_signature_runner("increment")
    read = interp.get_signature_runner("read")
    gap = runtime_gap(runtime, "counter", "increment")
    if gap is not None:
        with pytest.raises(gap[0], match=gap[1]):
            increment(delta=np.int64(1))
        return
    start = threading.Barrier(THREADS)

    def worker(thread: int) -> list[int]:
        start.wait()
        seen = []
        for call in range(CALLS):
            seen.append(int(increment(delta=np.int64(1))["count"]))
            if call % 10 == thread % 10:
                # Reads interleave with increments from other threads and signatures.
                assert 0 < int(read()["count"]) <= THREADS * CALLS
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        results = [value for values in pool.map(worker, range(THREADS)) for value in values]
    # Each increment saw a distinct count: none was lost or applied twice.
    assert sorted(results) == list(range(1, THREADS * CALLS + 1))
    assert int(read()["count"]) == THREADS * CALLS
    assert int(interp.get_signature_runner("reset")()["count"]) == 0
    assert int(read()["count"]) == 0


def test_threads_mixing_calls_views_and_resizes(demo: pysig.Interpreter) -> None:
    scale = demo.get_signature_runner("scale")
    add = demo.get_signature_runner("add")
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                batch = int(rng.integers(1, 5))
                x = rng.standard_normal((batch, 4)).astype(np.float32)
                # Whole calls are atomic: another thread's resize can't slip in between.
                np.testing.assert_allclose(scale(x=x)["y"], x * 2.5 + 1, rtol=1e-6)
                a = rng.standard_normal((1, 4)).astype(np.float32)
                np.testing.assert_array_equal(add(x=a, y=a)["sum"], a + a)
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]


def test_separate_interpreters_run_in_parallel_safely() -> None:
    interps = [pysig.Interpreter(pysig.DEMO_MODEL_PATH) for _ in range(4)]

    def worker(index: int) -> bool:
        add = interps[index % len(interps)].get_signature_runner("add")
        x = np.full((1, 4), index, np.float32)
        return all(add(x=x, y=x)["sum"][0, 0] == 2 * index for _ in range(500))

    with ThreadPoolExecutor(THREADS) as pool:
        assert all(pool.map(worker, range(THREADS)))


def test_threads_asking_for_a_runner_at_once_share_one(demo: pysig.Interpreter) -> None:
    barrier = threading.Barrier(8)

    def ask() -> pysig.SignatureRunner:
        barrier.wait()
        return demo.get_signature_runner("add")

    with ThreadPoolExecutor(8) as executor:
        runners = list(executor.map(lambda _: ask(), range(8)))
    assert all(runner is runners[0] for runner in runners)


def test_threads_sharing_one_interpreter_each_get_their_own_results(
    demo: pysig.Interpreter,
) -> None:
    # The runners share tensor memory: a call that let another thread's inputs in
    # between its copy-in and its copy-out would return that thread's sum.
    add = demo.get_signature_runner("add")
    scale = demo.get_signature_runner("scale")
    start = threading.Barrier(THREADS)

    def worker(thread: int) -> None:
        start.wait()
        x = np.full((1, 4), thread, np.float32)
        for call in range(CALLS):
            y = np.full((1, 4), call, np.float32)
            assert add(x=x, y=y)["sum"].tolist() == [[thread + call] * 4]
            if call % 10 == thread:
                assert scale(x=x)["y"].tolist() == [[thread * 2.5 + 1] * 4]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
