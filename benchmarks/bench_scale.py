"""Rows per second of MobileNetV2 batch inference: one process, a Pool, Ray Data, a process pool.

    /path/to/tf-venv/bin/python benchmarks/make_models.py mobilenet_v2   # once
    python benchmarks/bench_scale.py [--rows 480] [--batch 16] [--rounds 3] [--write]

Needs the ray and dask extras (``pip install ".[ray]"``). Every configuration scores the
same uint8 images (pysig converts them to the model's float32), in batches of ``--batch``
rows, one call of the model per batch (MobileNetV2's batch axis is dynamic):

- ``Interpreter``: one interpreter with one thread in this process, batch after batch.
- ``Pool(size=2)``: ``pool.map`` over the batches, two interpreters of one thread.
- ``Ray Data, k workers``: ``map_batches(pysig.BatchPredictor, compute=ActorPoolStrategy(k))``
  on a local ``ray.init(num_cpus=2)``, the images already in Ray's object store, the
  Interpreter passed in ``fn_constructor_kwargs`` (Ray ships its bytes once).
- ``process pool of 2``: ``ProcessPoolExecutor(2)`` with ``initializer=pysig.batch.install``
  and ``executor.map(pysig.batch.predict, batches)`` (each batch is pickled to a worker).

Warm rates leave start-up out. For Ray, each measurement is two dataset runs, a short
one (2 batches per worker) and the full one: warm rows/s = (rows of the full - rows of the
short) / (seconds of the full - seconds of the short), since both pay the same start-up
(actors started, model unpickled), and the start-up is the short run's time less its rows
at that rate. For the process pool, rows are timed after each worker has run one batch.
Start-up (also ray.init's, once) is reported apart. The configurations run one after another in each round, in rotating order, and
the Ray-2 / Pool-2 ratio is taken within each round; ``--write`` rewrites
benchmarks/SCALE_RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, NamedTuple

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np
import ray
import ray.data

import pysig
from pysig.bench.report import format_rate, machine, results_heading, versions

HERE = Path(__file__).resolve().parent
MODEL = HERE / ".models" / "mobilenet_v2.tflite"
RESULTS_MD = HERE / "SCALE_RESULTS.md"
TARGET = 0.80
WORKERS = 2


class Run(NamedTuple):
    rows: int
    seconds: float  # warm: start-up left out
    startup: float | None = None  # seconds before the warm part began, where there is one


def timed(body: Callable[[], int]) -> Run:
    start = time.perf_counter()
    rows = body()
    return Run(rows, time.perf_counter() - start)


def interpreter_run(interpreter: pysig.Interpreter, batches: list[np.ndarray]) -> Run:
    runner = interpreter.get_signature_runner()
    return timed(lambda: sum(len(runner(input_1=batch)["predictions"]) for batch in batches))


def pool_run(pool: pysig.Pool, batches: list[np.ndarray]) -> Run:
    items = ({"input_1": batch} for batch in batches)
    return timed(lambda: sum(len(out["predictions"]) for out in pool.map(None, items)))


def ray_dataset_run(interpreter: pysig.Interpreter, images: Any, batch: int, workers: int) -> Run:
    """One whole run of a dataset through map_batches: actors started, rows scored."""

    def body() -> int:
        dataset = images.map_batches(
            pysig.BatchPredictor,
            fn_constructor_kwargs={"model": interpreter, "inputs": {"input_1": "data"}},
            compute=ray.data.ActorPoolStrategy(size=workers),
            batch_size=batch,
            batch_format="numpy",
        )
        outputs = dataset.iter_batches(batch_format="numpy", batch_size=None)
        return sum(len(out["predictions"]) for out in outputs)

    return timed(body)


def ray_run(interpreter: pysig.Interpreter, short: Any, long: Any, batch: int, workers: int) -> Run:
    """Warm rows/s as the difference of a short and a long run: the start-up cancels out.

    (Ray Data streams outputs back in bursts, so their arrival times do not tell
    when the actors were ready.)
    """
    small = ray_dataset_run(interpreter, short, batch, workers)
    large = ray_dataset_run(interpreter, long, batch, workers)
    rows, seconds = large.rows - small.rows, large.seconds - small.seconds
    return Run(rows, seconds, small.seconds - small.rows * seconds / rows)


def process_pool_run(predictor: pysig.BatchPredictor, batches: list[np.ndarray]) -> Run:
    start = time.perf_counter()
    with ProcessPoolExecutor(
        WORKERS,
        mp_context=mp.get_context("spawn"),
        initializer=pysig.batch.install,
        initargs=(predictor,),
    ) as executor:
        # One batch per worker first: processes spawned, pysig imported, model loaded.
        list(executor.map(pysig.batch.predict, [{"data": b} for b in batches[:WORKERS]]))
        begin = time.perf_counter()
        outputs = executor.map(pysig.batch.predict, [{"data": b} for b in batches])
        rows = sum(len(out["predictions"]) for out in outputs)
        end = time.perf_counter()
    return Run(rows, end - begin, begin - start)


def check_same_outputs(
    interpreter: pysig.Interpreter, images: Any, batches: list[np.ndarray], batch: int
) -> None:
    """Ray Data computes what the one-process interpreter computes, bit for bit."""
    runner = interpreter.get_signature_runner()
    expected = np.concatenate([runner(input_1=b)["predictions"] for b in batches])
    dataset = images.map_batches(
        pysig.BatchPredictor,
        fn_constructor_kwargs={"model": interpreter, "inputs": {"input_1": "data"}},
        compute=ray.data.ActorPoolStrategy(size=WORKERS),
        batch_size=batch,
    )
    got = np.concatenate(
        [b["predictions"] for b in dataset.iter_batches(batch_format="numpy", batch_size=None)]
    )
    assert got.tobytes() == expected.tobytes(), "Ray Data's outputs differ from one process's"


def run(rows: int, batch: int, rounds: int) -> dict[str, Any]:
    load_before = list(os.getloadavg())
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(rows, 224, 224, 3), dtype=np.uint8)
    batches = [images[i : i + batch] for i in range(0, rows, batch)]
    interpreter = pysig.Interpreter(MODEL, num_threads=1)
    pool = pysig.Pool(MODEL, size=WORKERS, num_threads=1)
    predictor = pysig.BatchPredictor(interpreter, inputs={"input_1": "data"})
    start = time.perf_counter()
    ray.init(
        num_cpus=WORKERS,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    ray_init = time.perf_counter() - start
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True
    try:
        # In the object store before any timing, one block per batch.
        stored = ray.data.from_numpy(batches).materialize()
        # Two batches per worker: enough for every actor to start and run.
        short = ray.data.from_numpy(batches[: 2 * WORKERS]).materialize()
        check_same_outputs(interpreter, stored, batches, batch)
        configs: dict[str, Callable[[], Run]] = {
            "Interpreter": lambda: interpreter_run(interpreter, batches),
            f"Pool(size={WORKERS})": lambda: pool_run(pool, batches),
            "Ray Data, 1 worker": lambda: ray_run(interpreter, short, stored, batch, 1),
            f"Ray Data, {WORKERS} workers": lambda: ray_run(
                interpreter, short, stored, batch, WORKERS
            ),
            f"process pool of {WORKERS}": lambda: process_pool_run(predictor, batches),
        }
        names = list(configs)
        results: dict[str, list[Run]] = {name: [] for name in names}
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                result = configs[name]()
                results[name].append(result)
                startup = "" if result.startup is None else f", start-up {result.startup:.2f} s"
                print(
                    f"round {round_index + 1}: {name}: "
                    f"{result.rows / result.seconds:.1f} rows/s{startup}",
                    flush=True,
                )
    finally:
        ray.shutdown()
        pool.close()
    return {
        "rows": rows,
        "batch": batch,
        "rounds": rounds,
        "ray_init": ray_init,
        "load_before": load_before,
        "rates": {n: [r.rows / r.seconds for r in runs] for n, runs in results.items()},
        "startup": {
            n: [r.startup for r in runs if r.startup is not None] for n, runs in results.items()
        },
        "machine": machine(),
        "versions": {**versions(), "ray": ray.__version__},
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    rates = report["rates"]
    ratios = [
        r / p for r, p in zip(rates[f"Ray Data, {WORKERS} workers"], rates[f"Pool(size={WORKERS})"])
    ]
    median = statistics.median(ratios)
    verdict = "met" if median >= TARGET else "**not met**"
    rounds = ", ".join(f"{r:.1%}" for r in ratios)
    ratio = f"Ray Data, {WORKERS} workers / Pool(size={WORKERS})"
    return [
        f"- {ratio}, warm: median {median:.1%} (rounds: {rounds}): {verdict} (target {TARGET:.0%})",
        f"- ray.init(num_cpus={WORKERS}): {report['ray_init']:.1f} s, once",
    ]


def table_lines(report: dict[str, Any]) -> list[str]:
    baseline = report["rates"]["Interpreter"]
    lines = [
        "| configuration | rows/s median (warm) | min | max | vs Interpreter | start-up s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rates in report["rates"].items():
        vs = statistics.median([r / b for r, b in zip(rates, baseline)])
        startup = report["startup"][name]
        start = f"{statistics.median(startup):.2f}" if startup else "-"
        lines.append(
            f"| {name} | {format_rate(statistics.median(rates))} | {format_rate(min(rates))} | "
            f"{format_rate(max(rates))} | {vs:.2f}x | {start} |"
        )
    return lines


def markdown(report: dict[str, Any], command: str) -> str:
    return "\n".join(
        [
            *results_heading(
                "Batch inference scaling results",
                "bench_scale.py",
                command,
                report,
                f", ray {report['versions']['ray']}",
            ),
            "",
            (
                f"Model: MobileNetV2, float32, random weights (`benchmarks/make_models.py`); "
                f"{report['rows']} uint8 images of 224x224x3 in batches of {report['batch']}, "
                f"one call per batch; {report['rounds']} rounds. Start-up is the time before "
                "the warm part (see the script's docstring)."
            ),
            "",
            *summary_lines(report),
            "",
            *table_lines(report),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=480, help="images per configuration run")
    parser.add_argument("--batch", type=int, default=16, help="rows per batch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"rewrite {RESULTS_MD.name}")
    args = parser.parse_args(argv)
    if not MODEL.exists():
        parser.error(f"{MODEL} is missing: run benchmarks/make_models.py mobilenet_v2 first")
    report = run(args.rows, args.batch, args.rounds)
    print("\n".join(["", *summary_lines(report), "", *table_lines(report)]))
    if args.write:
        command = "python benchmarks/bench_scale.py " + " ".join(argv or sys.argv[1:])
        RESULTS_MD.write_text(markdown(report, command.strip()))
        print(f"wrote {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
