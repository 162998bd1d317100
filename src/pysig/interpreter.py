"""pysig.Interpreter: a loaded model and the runners of its signatures."""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

from . import _pysig
from ._pickling import Recipe, rebuild_interpreter, recipe_for_pickle
from .errors import ClosedError, SignatureNotFoundError
from .model import Model, read_model
from .model.graph import ArgReductions
from .runtime.tflite import build_interpreter, translate_load_error
from .signature_runner import Signature, SignatureRunner, signatures_of

SYNTHESIZED_KEY = "serving_default"


class Interpreter:
    """A TensorFlow Lite model loaded once, run through its signatures.

    Give exactly one of ``model_path`` and ``model_content``. ``num_threads``,
    ``delegates`` (objects from ``tflite_runtime.interpreter.load_delegate``) and
    ``op_resolver`` (``"auto"``, ``"builtin"``, ``"builtin_ref"`` or
    ``"builtin_without_default_delegates"``) are passed to tflite_runtime.

    All runners of one interpreter share its tensors and variables, so they share
    one lock: calls from many threads are safe and run one at a time. Use one
    interpreter per thread (or :class:`pysig.Pool`) to run in parallel.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        model_content: bytes | None = None,
        num_threads: int | None = None,
        delegates: Sequence[Any] | None = None,
        op_resolver: str = "auto",
    ) -> None:
        self._load(
            read_model(model_path, model_content),
            num_threads=num_threads,
            delegates=delegates,
            op_resolver=op_resolver,
        )

    @classmethod
    def _from_model(cls, model: Model, **options: Any) -> Interpreter:
        """An interpreter over a model already read and verified (pysig.Pool's many).

        ``options`` are the keyword options of ``__init__``.
        """
        self = cls.__new__(cls)
        self._load(model, **options)
        return self

    def _load(self, model: Model, **options: Any) -> None:
        tflite = build_interpreter(model.content, model.source, **options)
        self._attach(tflite, model.source, model.arg_reductions)
        # Every construction option, whatever they are, and the runtime "auto" chose:
        # pickling rebuilds from these.
        self._recipe: Recipe | None = Recipe(model, options, getattr(self, "runtime", None))

    @classmethod
    def from_tflite(cls, interpreter: TfliteInterpreter) -> Interpreter:
        """Wrap an existing ``tflite_runtime.interpreter.Interpreter``.

        Use it for loading options pysig does not take itself (custom op
        registerers, ``experimental_preserve_all_tensors``...). pysig allocates its
        tensors; do not use the tflite_runtime object directly afterwards.
        """
        if not isinstance(interpreter, TfliteInterpreter):
            raise TypeError(
                f"expected a tflite_runtime Interpreter, got {type(interpreter).__name__}"
            )
        self = cls.__new__(cls)
        # Its model bytes are out of reach, so unverified: no ARG_MAX/ARG_MIN shape check.
        self._attach(interpreter, "the tflite_runtime interpreter", [])
        self._recipe = None
        return self

    def _attach(
        self, tflite: TfliteInterpreter, source: str, arg_reductions: ArgReductions
    ) -> None:
        self._signatures: dict[str, Signature] = signatures_of(tflite, SYNTHESIZED_KEY)
        self._arg_reductions = arg_reductions
        try:
            # Applies the default delegate (XNNPACK) to every subgraph, as users of
            # tflite_runtime get by calling allocate_tensors() first.
            tflite.allocate_tensors()
            # Allocating every signature now means no allocation later moves
            # memory under a view, unless an input is resized.
            for signature in self._signatures.values():
                tflite._interpreter.AllocateTensors(signature.subgraph_index)
        except (ValueError, RuntimeError) as error:
            raise translate_load_error(str(error), source) from error
        self._session = _pysig.Session(tflite, tflite._native_handle())
        # Built on first use (a signature with a tensor type numpy lacks fails
        # only when asked for), under a lock so that threads asking at once share one.
        self._runners: dict[str, SignatureRunner] = {}
        self._runners_lock = threading.Lock()

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        """Signature keys with their input and output names, in tf.lite's format."""
        return {
            key: {"inputs": list(sig.inputs), "outputs": list(sig.outputs)}
            for key, sig in self._signatures.items()
        }

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        """The runner of one signature; the key may be omitted when there is only one.

        A model without SignatureDefs has one synthesized signature,
        ``"serving_default"``, whose inputs and outputs are named by their tensor names.
        """
        if self.closed:
            raise ClosedError("the interpreter has been closed")
        if signature_key is None:
            if len(self._signatures) != 1:
                raise SignatureNotFoundError(
                    f"the model has {len(self._signatures)} signatures, so a key is needed: "
                    f"{', '.join(map(repr, self._signatures))}"
                )
            signature_key = next(iter(self._signatures))
        signature = self._signatures.get(signature_key)
        if signature is None:
            raise SignatureNotFoundError(
                f"no signature {signature_key!r}; the model has: "
                f"{', '.join(map(repr, self._signatures)) or 'none'}"
            )
        with self._runners_lock:
            runner = self._runners.get(signature_key)
            if runner is None:
                index = signature.subgraph_index
                reductions = self._arg_reductions[index] if self._arg_reductions else ()
                runner = SignatureRunner(self._session, signature, reductions, self._recipe)
                self._runners[signature_key] = runner
        return runner

    def close(self) -> None:
        """Release the model. Refused while zero-copy views of its tensors are alive."""
        self._session.close()

    @property
    def closed(self) -> bool:
        return bool(self._session.closed)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as the verified model bytes and construction options (see _pickling.py)."""
        recipe = recipe_for_pickle(self._recipe, self.closed, "this interpreter")
        return rebuild_interpreter, (recipe,)

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"signatures={list(self._signatures)}"
        return f"<pysig.Interpreter {state}>"
