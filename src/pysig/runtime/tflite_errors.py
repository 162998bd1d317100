"""Reading the runtime's error messages.

tflite_runtime's wrapper collects what the runtime reports in a buffer and only
shows it in the exception of a wrapper call that fails. pysig calls the runtime
directly, so after a failure it makes one harmless wrapper call fail on purpose
(resizing tensor -1, which the runtime rejects before touching anything) and
reads the text from that exception. The buffer is never emptied in 2.14.0 (it
holds every message since the interpreter was built), so the position already
read is kept on the interpreter object and only the newer text is returned.

The text is returned as the runtime wrote it: the core turns every runtime's
text into sentences in one place (pysig.runtime.messages).
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
    return _PROBE_COMPLAINT.sub("", text[start:]).strip() or "no details reported"
