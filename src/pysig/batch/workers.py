"""One predictor per worker process, for process pools that call a function per batch.

``concurrent.futures.ProcessPoolExecutor`` and ``multiprocessing.Pool`` pickle a
task's function and arguments for every task; passing the predictor to each task
would ship the model bytes each time. Their ``initializer`` runs once per worker
process instead: ``install`` keeps the predictor there and ``predict`` uses it.
"""

from __future__ import annotations

from typing import Any

from ..errors import PysigError
from .predictor import BatchPredictor

_installed: BatchPredictor | None = None


def install(predictor: BatchPredictor) -> None:
    """Make ``predictor`` this process's predictor (a process pool's ``initializer``)."""
    global _installed  # noqa: PLW0603  one per process, by design
    _installed = predictor


def predict(batch: Any, predictor: BatchPredictor | None = None) -> Any:
    """Run ``predictor``, or the one ``install`` set in this process, on ``batch``."""
    chosen = predictor if predictor is not None else _installed
    if chosen is None:
        raise PysigError(
            "no predictor in this process: pass initializer=pysig.batch.install, "
            "initargs=(predictor,) to the process pool, or give the predictor"
        )
    return chosen(batch)
