"""Runs a fuzz corpus in child processes, so that a crash is counted rather than fatal.

A corpus is a list of cases, (index, seed) pairs, and a harness: the driver
script a child runs them with (fuzz_driver.py for damaged model files,
sequence_driver.py for sequences of calls) and how a case is named in reports.

Cases run in batches, one child process per batch (fuzz_driver.py), several
batches at a time. When a child dies, the case it was running is re-run alone
in a fresh process: if it crashes there too, it is the culprit. If it does
not, the crash came from state left by earlier cases of the batch, which are
then re-run one per process to find the one that crashes alone; a crash that
no single case reproduces is still counted, as unattributed. The rest of the
batch goes on in a new child. A case that runs longer than ``case_timeout``
is killed and counted as a hang.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from fuzz_corpus import Case, describe

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Harness:
    """The child side of a campaign: the driver script, and how its cases are named."""

    driver: Path
    describe: Callable[[Case], str]


MODEL_FILES = Harness(HERE / "fuzz_driver.py", describe)


@dataclass
class Crash:
    case: Case | None  # None: no single case reproduces it
    status: str
    stderr_tail: str
    where: str = "unattributed (batch state)"

    def __str__(self) -> str:
        return f"{self.where}: {self.status}\n    {self.stderr_tail}"


@dataclass
class Summary:
    mode: str
    harness: Harness = MODEL_FILES
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_case: dict[int, str] = field(default_factory=dict)  # index -> outcome, crash or hang
    crashes: list[Crash] = field(default_factory=list)
    hangs: list[Case] = field(default_factory=list)
    unexpected: list[tuple[Case, str]] = field(default_factory=list)
    seconds: float = 0.0

    def merge(self, other: Summary) -> None:
        self.cases += other.cases
        self.outcomes.update(other.outcomes)
        self.by_case.update(other.by_case)
        self.crashes.extend(other.crashes)
        self.hangs.extend(other.hangs)
        self.unexpected.extend(other.unexpected)

    def report(self) -> str:
        loaded = sum(n for outcome, n in self.outcomes.items() if outcome.startswith("ran:"))
        refused = sum(n for outcome, n in self.outcomes.items() if outcome.startswith("refused:"))
        lines = [
            (
                f"{self.mode}: {self.cases} cases in {self.seconds:.0f} s: {len(self.crashes)} "
                f"crashed the process, {len(self.hangs)} hung, {refused} refused at load, "
                f"{loaded} loaded and ran, {len(self.unexpected)} raised a non-pysig exception"
            ),
        ]
        lines += [f"  crash: {crash}" for crash in self.crashes]
        lines += [f"  hang: {self.harness.describe(case)}" for case in self.hangs]
        lines += [
            f"  unexpected: {self.harness.describe(case)}: {text}" for case, text in self.unexpected
        ]
        return "\n".join(lines)


@dataclass
class _ChildResult:
    finished: dict[int, str]
    running: Case | None
    status: str  # "ok", "hang" or how the process died
    stderr_tail: str


def _run_child(
    harness: Harness, mode: str, cases: Sequence[Case], case_timeout: float
) -> _ChildResult:
    """Run ``cases`` in one child until they are done, it dies, or one overruns."""
    by_index = {case.index: case for case in cases}
    finished: dict[int, str] = {}
    running: Case | None = None
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(
            [sys.executable, str(harness.driver), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(json.dumps([[c.index, c.seed] for c in cases]).encode())
        child.stdin.close()
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)
        pending = b""
        deadline = time.monotonic() + case_timeout
        hung = False
        while True:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                child.kill()
                hung = True
                break
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                word, index, *rest = line.decode().split(" ", 2)
                if word == "start":
                    running = by_index[int(index)]
                    deadline = time.monotonic() + case_timeout
                else:
                    finished[int(index)] = rest[0] if rest else ""
                    running = None
        selector.close()
        child.stdout.close()
        code = child.wait()
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace").strip().splitlines()[-3:]
    if hung:
        status = "hang"
    elif code == 0 and running is None:
        status = "ok"
    else:
        status = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return _ChildResult(finished, running, status, " | ".join(tail))


def _crashes_alone(
    harness: Harness, mode: str, case: Case, case_timeout: float
) -> _ChildResult | None:
    result = _run_child(harness, mode, [case], case_timeout)
    return result if result.status not in ("ok", "hang") else None


def run_batch(
    mode: str, cases: Sequence[Case], case_timeout: float, harness: Harness = MODEL_FILES
) -> Summary:
    summary = Summary(mode, harness, cases=len(cases))
    remaining = list(cases)
    while remaining:
        result = _run_child(harness, mode, remaining, case_timeout)
        done_before = [c for c in remaining if c.index in result.finished]
        for case in done_before:
            outcome = result.finished[case.index]
            summary.outcomes[outcome.split(":", 1)[0] + ":" + _first_kind(outcome)] += 1
            summary.by_case[case.index] = outcome
            if "UNEXPECTED" in outcome:
                summary.unexpected.append((case, outcome))
        if result.status == "ok":
            break
        culprit = result.running
        if culprit is None:  # died between cases: count it against the batch
            summary.crashes.append(Crash(None, result.status, result.stderr_tail))
            break
        summary.by_case[culprit.index] = result.status
        if result.status == "hang":
            summary.hangs.append(culprit)
        else:
            alone = _crashes_alone(harness, mode, culprit, case_timeout)
            if alone is not None:
                where = harness.describe(culprit)
                summary.crashes.append(Crash(culprit, alone.status, alone.stderr_tail, where))
            else:
                found = [c for c in done_before if _crashes_alone(harness, mode, c, case_timeout)]
                summary.crashes.extend(
                    Crash(c, "crashes alone", "", harness.describe(c)) for c in found
                )
                if not found:
                    summary.crashes.append(Crash(None, result.status, result.stderr_tail))
        remaining = remaining[remaining.index(culprit) + 1 :]
    return summary


def _first_kind(outcome: str) -> str:
    """A coarse label of an outcome, for counting ("refused:ModelLoadError", "ran:ok")."""
    detail = outcome.split(":", 1)[1] if ":" in outcome else ""
    return detail.split(",", 1)[0].split(":", 1)[0][:40]


def run_campaign(
    mode: str,
    cases: Sequence[Case],
    *,
    batch_size: int = 100,
    workers: int = 2,
    case_timeout: float = 60.0,
    harness: Harness = MODEL_FILES,
) -> Summary:
    """Run every case of ``cases`` with ``mode`` (the driver's first argument)."""
    start = time.monotonic()
    batches = [cases[i : i + batch_size] for i in range(0, len(cases), batch_size)]
    summary = Summary(mode, harness)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch_summary in pool.map(lambda b: run_batch(mode, b, case_timeout, harness), batches):
            summary.merge(batch_summary)
    summary.seconds = time.monotonic() - start
    return summary
