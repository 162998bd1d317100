"""Runtime messages as sentences, for every error that quotes a runtime.

Both runtimes run their messages together ("(3 != 4)Node number 0 ...",
"failed to prepare.Encountered ...") and report some twice. The C++ core passes
every backend's error text through ``as_sentences`` (Session::take_error_text), and
the Python load paths of both runtimes do the same with what they quote.
"""

from __future__ import annotations

import re

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
