"""At `import pysig`: load every installed runtime and check pysig's declarations of it
against the live library. A runtime that fails its check is refused (asking for it
raises the check's AbiMismatchError; "auto" passes it over); the other still works."""

from __future__ import annotations

from .. import _float_environment
from ..errors import AbiMismatchError
from . import choose


def check_installed_runtimes() -> None:
    if choose.installed("tflite"):
        try:
            # tflite_runtime's library sets flush-to-zero on aarch64 when it loads.
            with _float_environment.preserved():
                from . import tflite_abi_check
            tflite_abi_check.verify_runtime_layout()
        except AbiMismatchError as error:
            choose.refuse("tflite", error)
    if choose.installed("litert"):
        try:
            from . import litert_abi_check

            litert_abi_check.verify_runtime_layout()
        except AbiMismatchError as error:
            choose.refuse("litert", error)
