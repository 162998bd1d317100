"""Bounding how long a call may run, with the runtime's cancellation.

A timer thread calls the interpreter's ``cancel()`` when the time is up. The
runtime checks its cancellation flag between graph nodes and clears it at the
start of every invocation (``Interpreter::Invoke`` and
``SignatureRunner::Invoke`` both reset it), so a cancel that lands after an
invocation has ended is forgotten by the next one. The timer is disarmed,
under a lock, before the call returns: once ``call_with_timeout`` is done,
its timer can no longer cancel anything.
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Callable, TypeVar

from .errors import InvokeCancelledError, PysigError

T = TypeVar("T")


def check_timeout(timeout: float) -> float:
    """The timeout as a float; raises ValueError unless it is a positive finite number."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive, finite number of seconds, not {timeout!r}")
    return float(timeout)


def call_with_timeout(
    call: Callable[[], T], cancel: Callable[[], None], timeout: float, label: str
) -> T:
    """Run ``call``; if it runs longer than ``timeout`` seconds, ``cancel()`` it.

    A cancelled call raises InvokeCancelledError saying that the time ran out.
    """
    seconds = check_timeout(timeout)
    guard = threading.Lock()
    running = True
    fired = False

    def expire() -> None:
        nonlocal fired
        with guard:
            if not running:
                return
            fired = True
            # Closed meanwhile: there is no invocation left to stop.
            with contextlib.suppress(PysigError):
                cancel()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        return call()
    except InvokeCancelledError as error:
        if fired:
            raise InvokeCancelledError(
                f"{label}: cancelled after its {seconds:g} s timeout; the interpreter "
                "remains usable"
            ) from error
        raise
    finally:
        with guard:
            running = False
        timer.cancel()
