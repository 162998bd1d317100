"""What a conversion is asked to do, and the parity tolerances that suit each quantization.

No TensorFlow here: the CLI builds these before deciding to import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

if TYPE_CHECKING:
    from ..model import SignatureEditor

QUANTIZATIONS = ("float16", "dynamic", "int8")

# (atol, rtol) per quantization. Float kernels of TFLite and TensorFlow agree to a few
# float32 ulps; float16 weights carry 11 significant bits; dynamic range and int8
# quantization round weights (and int8 activations) to 256 levels.
TOLERANCES = {
    None: (1e-5, 1e-4),
    "float16": (1e-2, 1e-2),
    "dynamic": (5e-2, 5e-2),
    "int8": (1e-1, 1e-1),
}


class ConvertOptions(NamedTuple):
    signature_keys: tuple[str, ...]  # empty: every signature
    edits: tuple[Callable[[SignatureEditor], None], ...]  # renames, in the order given
    select_tf_ops: bool
    quantize: str | None  # None or one of QUANTIZATIONS
    representative_data: str | None  # an .npz file, for int8

    def tolerances(self) -> tuple[float, float]:
        return TOLERANCES[self.quantize]
