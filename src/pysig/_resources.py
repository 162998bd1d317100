"""Files shipped inside the package."""

from __future__ import annotations

import os

DEMO_MODEL_PATH = os.path.join(os.path.dirname(__file__), "data", "demo.tflite")


def demo_model_bytes() -> bytes:
    """The demo model: signatures `add`, `scale` and `argmax` (see README)."""
    with open(DEMO_MODEL_PATH, "rb") as file:
        return file.read()
