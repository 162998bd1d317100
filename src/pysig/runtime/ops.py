"""Which operators each runtime pysig can use provides, as facts of the pinned versions.

pysig verifies models against tflite-runtime 2.14's schema, so every builtin
operator a verified model names is one both runtimes register; custom operators
are the ones that differ. Flex (``Flex...``) ops need TensorFlow's kernels,
which neither runtime carries; the tflite runtime can use TensorFlow 2.14's (see flex.py).
"""

from __future__ import annotations

import importlib.util
from typing import NamedTuple


class RuntimeOps(NamedTuple):
    package: str  # the Python package the runtime comes in
    custom_ops: frozenset[str]  # custom operators its op resolver registers


RUNTIME_OPS = {
    "tflite": RuntimeOps(
        "tflite_runtime",
        frozenset({"AudioSpectrogram", "Mfcc", "TFLite_Detection_PostProcess"}),
    ),
    "litert": RuntimeOps(
        "ai_edge_litert",
        frozenset(
            {
                "AudioSpectrogram",
                "Mfcc",
                "TFLite_Detection_PostProcess",
                # MediaPipe's operators, which LiteRT's resolver includes.
                "Convolution2DTransposeBias",
                "MaxPoolingWithArgmax2D",
                "MaxUnpooling2D",
            }
        ),
    ),
}


def installed_runtimes() -> list[str]:
    """The runtimes whose packages are installed (found without importing them)."""
    return [name for name, ops in RUNTIME_OPS.items() if importlib.util.find_spec(ops.package)]
