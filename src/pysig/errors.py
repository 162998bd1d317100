"""The exceptions pysig raises.

Every one derives from :class:`PysigError` and from the built-in exception a
caller would expect (``ValueError`` for bad values, ``TypeError`` for bad types,
``KeyError`` for unknown names...), so existing ``except`` clauses keep working.
"""

from __future__ import annotations

from typing import Sequence


class PysigError(Exception):
    """Base class of every pysig error."""


class ModelLoadError(PysigError, ValueError):
    """The model file or bytes cannot be loaded (empty, truncated, not TFLite...)."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """The model path does not exist."""


class UnsupportedOpError(ModelLoadError):
    """The model needs operators this runtime does not have.

    ``ops`` lists their names when the runtime reported them.
    """

    def __init__(self, message: str, ops: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.ops = tuple(ops)


class FlexOpError(UnsupportedOpError):
    """The model needs TensorFlow ("Select TF" / Flex) ops, which tflite-runtime lacks."""


class SignatureEditError(PysigError, ValueError):
    """An edit of a model's signatures that cannot be made: an unknown key or name, a
    name used twice, a tensor that is not an input or output of the subgraph..."""


class ModelWriteError(PysigError, RuntimeError):
    """A model file cannot be written: a library it needs is missing, or it is too large."""


class UnsupportedTypeError(PysigError, TypeError):
    """A tensor's element type has no numpy equivalent (resource, variant, int4)."""


class UnsupportedMethodError(PysigError, AttributeError):
    """A tf.lite Interpreter method pysig deliberately does not offer; the message says
    what to use instead."""


class NameNotFoundError(PysigError, KeyError):
    """No signature, input or output has that name; the message lists the valid ones."""

    def __str__(self) -> str:
        # KeyError would show the repr of the message, quotes and all.
        return str(self.args[0]) if self.args else ""


class SignatureNotFoundError(NameNotFoundError):
    """No signature has that key."""


class InputNameError(PysigError, ValueError):
    """Inputs are missing, or inputs were given that the signature does not have."""


class InputTypeError(PysigError, TypeError):
    """An input cannot be converted to its tensor's dtype without changing values."""


class InputShapeError(PysigError, ValueError):
    """The runtime cannot run the signature with an input of that shape."""


class OutputBufferError(PysigError, ValueError):
    """An array given through ``out=`` does not fit the output it should receive."""


class InvokeError(PysigError, RuntimeError):
    """The runtime failed while running the model."""


class InvokeCancelledError(InvokeError):
    """The invocation was stopped by ``cancel()`` or a timeout; the interpreter stays usable."""


class BufferInUseError(PysigError, RuntimeError):
    """An operation that may move tensor memory was refused while views are alive."""


class ClosedError(PysigError, RuntimeError):
    """The interpreter has been closed."""


class OutOfMemoryError(ClosedError, MemoryError):
    """The runtime ran out of memory allocating tensors; the interpreter is unusable.

    tflite-runtime 2.14 is not exception-safe when an allocation fails: destroying
    that interpreter would free memory twice. pysig closes it and keeps it alive
    until the process exits instead (a bounded leak rather than a crash).
    """


class AbiMismatchError(PysigError, ImportError):
    """pysig's declarations of the runtime's layout do not match the installed runtime."""


class UnpicklableError(PysigError, TypeError):
    """The object cannot be pickled (views of tensor memory, native delegates...)."""


class BatchColumnError(PysigError, ValueError):
    """A batch lacks a column an input needs, or its columns do not fit the signature."""


class BatchRowError(PysigError, ValueError):
    """One row of a batch could not be run; ``row`` is its position in the batch.

    ``label`` is the row's index label when the batch is a pandas DataFrame, and
    the original error is chained as ``__cause__``.
    """

    def __init__(self, message: str, row: int, label: object = None) -> None:
        super().__init__(message)
        self.row = row
        self.label = label


class ConversionError(PysigError, RuntimeError):
    """``pysig convert`` could not read its source or TensorFlow could not convert it."""
