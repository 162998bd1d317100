"""The short call-sequence campaign: a refused call never poisons the interpreter.

Random interleavings of good calls, wrong ranks, dims, dtypes, empty and huge
dimensions, views, resizes and cancels over every test model, on both op
resolvers, each batch in a child process; after every refusal the next good call
must equal what an interpreter that never saw the refusal returns.
scripts/fuzz_sequences.py runs the long campaign and the same on tflite_runtime.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_campaign import Harness, run_campaign
from sequence_corpus import case_model, corpus, counts, describe, sequence_models

SEQUENCES = Harness(Path(__file__).resolve().parent / "sequence_driver.py", describe)
SHORT_CAMPAIGN = int(os.environ.get("PYSIG_FUZZ_SEQUENCES", "60"))
SEED = 11
# 200 chained matrix products: about a second per call on the reference kernels, a
# third of the short campaign's time on its own; the long campaign runs it too.
SLOW_MODELS = frozenset({"slow.tflite"})


def test_the_sequences_cover_every_loadable_model() -> None:
    assert {case_model(case) for case in corpus(200, SEED)} == set(sequence_models())
    short = corpus(SHORT_CAMPAIGN, SEED, skip=SLOW_MODELS)
    assert {case_model(case).name for case in short} == {
        path.name for path in sequence_models()
    } - SLOW_MODELS


def test_pysig_survives_the_short_sequence_campaign(runtime: str) -> None:
    short = corpus(SHORT_CAMPAIGN, SEED, skip=SLOW_MODELS)
    summary = run_campaign(f"pysig:{runtime}", short, batch_size=20, harness=SEQUENCES)
    assert not summary.crashes, summary.report()
    assert not summary.hangs, summary.report()
    # Mismatches with the reference and false OutOfMemoryErrors are reported as unexpected.
    assert not summary.unexpected, summary.report()
    totals = counts(summary.by_case)
    assert totals["sequences"] == SHORT_CAMPAIGN
    assert totals["refusals"] > SHORT_CAMPAIGN  # the campaign does get calls refused
    assert totals["compared"] > totals["refusals"]
