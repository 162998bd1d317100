"""Reading the runtime's error messages.

tflite_runtime's wrapper collects what the runtime reports in a buffer and only
shows it in the exception of a wrapper call that fails. pysig calls the runtime
directly, so after a failure it makes one harmless wrapper call fail on purpose
(resizing tensor -1, which the runtime rejects before touching anything) and
reads the text from that exception. The buffer is never emptied in 2.14.0 (it
holds every message since the interpreter was built), so the position already
read is kept on the interpreter object and only the newer text is returned.

The runtime also runs its messages together ("(3 != 4)Node number 0 ...",
"failed to prepare.Encountered ...") and reports some twice; ``as_sentences``
turns any runtime text into plain sentences, and every pysig error that quotes
the runtime goes through it.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

_PROBE_SHAPE = np.array([1], dtype=np.int32)
_PROBE_COMPLAINT = re.compile(r"/\S*subgraph\.cc:\d+ tensor_index < .*? was not true\.\s*$")
_READ_UP_TO = "_pysig_error_text_read"


def take_error_text(interpreter: Any) -> str:
    """Return the runtime's messages reported since the last call (or a placeholder)."""
    try:
        interpreter._interpreter.ResizeInputTensor(-1, _PROBE_SHAPE, False, 0)
    except (RuntimeError, ValueError) as error:
        text = str(error)
    else:  # pragma: no cover - the runtime always rejects tensor -1
        return "no details reported"
    start = getattr(interpreter, _READ_UP_TO, 0)
    setattr(interpreter, _READ_UP_TO, len(text))
    return as_sentences(_PROBE_COMPLAINT.sub("", text[start:])) or "no details reported"


# Where one message of the runtime ends and the next begins without a space: after
# a closing bracket or full stop, before a capital or a source path, and before the
# runtime's "Node number N (OP) failed to ..." wherever it is glued on.
_RUN_TOGETHER = re.compile(r"(?<=[.)\]])(?=[A-Z/])|\s*(?=Node number \d)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def as_sentences(text: str) -> str:
    """Runtime text as one line of sentences, each ending in a full stop, none twice."""
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(_RUN_TOGETHER.sub("\n", text)):
        sentence = " ".join(piece.split())
        if not sentence:
            continue
        if sentence[-1] not in ".!?:":
            sentence += "."
        if sentence not in sentences:
            sentences.append(sentence)
    return " ".join(sentences)
