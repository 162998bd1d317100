"""pysig.Interpreter: a loaded model and the runners of its signatures."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Sequence

from ._pickling import Recipe, rebuild_interpreter, recipe_for_pickle
from .errors import (
    ClosedError,
    PysigError,
    SignatureNotFoundError,
    UnsupportedMethodError,
    UnsupportedOpError,
    UnsupportedTypeError,
)
from .model import Model, ModelFile, SignatureSpec, TensorSpec, read_model
from .model.graph import GraphFacts
from .model.reader import verified_model
from .runtime.choose import candidates, installed
from .signature_runner import SignatureRunner

if TYPE_CHECKING:
    from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

# tf.lite's Interpreter methods that work on tensors by index outside any
# signature: pysig runs signatures only, so each names what to use instead.
_INSTEAD_OF_TFLITE = {
    "allocate_tensors": "pysig allocates every signature's tensors when it loads the model; "
    "after runner.resize_input(), runner.allocate() re-allocates",
    "invoke": "call a signature runner, interpreter.get_signature_runner(key)(**inputs), "
    "or write runner.inputs[name][...] and call runner.invoke()",
    "set_tensor": "pass inputs to the runner call, runner(name=value), or write "
    "runner.inputs[name][...] = value",
    "get_tensor": "use the dict a runner call returns, or runner.outputs[name]",
    "tensor": "runner.inputs[name] and runner.outputs[name] are zero-copy numpy views",
    "resize_tensor_input": "call the runner with the new shape, or use "
    "runner.resize_input(name, shape)",
    "reset_all_variables": "variables keep their values for the interpreter's life; "
    "build a new pysig.Interpreter to start from the model's initial values",
}


class Interpreter:
    """A TensorFlow Lite model loaded once, run through its signatures.

    Give exactly one of ``model_path`` and ``model_content``. ``runtime`` chooses what
    runs it: ``"tflite"`` (tflite-runtime 2.14.0), ``"litert"`` (ai-edge-litert 2.3.0)
    or ``"auto"``, the runtime that runs the model correctly and fastest (see
    ``pysig.runtime.choose``); ``Interpreter.runtime`` says which one it is.
    ``num_threads`` and ``op_resolver`` (``"auto"``, ``"builtin"``, ``"builtin_ref"`` or
    ``"builtin_without_default_delegates"``: with or without XNNPACK) apply to both;
    ``delegates`` (objects from ``tflite_runtime.interpreter.load_delegate``) are
    tflite_runtime's and select the tflite runtime.

    All runners of one interpreter share its tensors and variables, so they share
    one lock: calls from many threads are safe and run one at a time. Use one
    interpreter per thread (or :class:`pysig.Pool`) to run in parallel.
    """

    _file: ModelFile | None
    _signatures: dict[str, SignatureSpec]
    _facts: GraphFacts  # what the runners check, per subgraph (empty: nothing)
    _session: Any
    _runners: dict[str, SignatureRunner]
    _runners_lock: threading.Lock

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        model_content: bytes | None = None,
        num_threads: int | None = None,
        delegates: Sequence[Any] | None = None,
        op_resolver: str = "auto",
        runtime: str = "auto",
    ) -> None:
        self._load(
            read_model(model_path, model_content), num_threads, delegates, op_resolver, runtime
        )

    @classmethod
    def _from_model(
        cls,
        model: Model,
        *,
        num_threads: int | None = None,
        delegates: Sequence[Any] | None = None,
        op_resolver: str = "auto",
        runtime: str = "auto",
    ) -> Interpreter:
        """An interpreter over a model already read and verified (pysig.Pool's many)."""
        self = cls.__new__(cls)
        self._load(model, num_threads, delegates, op_resolver, runtime)
        return self

    def _load(
        self,
        model: Model,
        num_threads: int | None,
        delegates: Sequence[Any] | None,
        op_resolver: str,
        runtime: str,
    ) -> None:
        tried = candidates(runtime, delegates)
        for position, name in enumerate(tried):
            fallback = position + 1 < len(tried)
            if name == "tflite":
                from .runtime.tflite import build_interpreter

                tflite = build_interpreter(
                    model,
                    num_threads=num_threads,
                    delegates=delegates,
                    op_resolver=op_resolver,
                )
                # tflite sizes outputs while it runs, so value-sized outputs need no check.
                facts = GraphFacts(model.facts.arg_reductions, [])
                self._attach(tflite, model.source, facts, model.file)
                break
            try:
                self._attach_litert(model, num_threads, op_resolver, check=fallback)
                break
            except (UnsupportedOpError, UnsupportedTypeError):
                if not fallback:
                    raise
        # Every construction option and the runtime "auto" chose: pickling rebuilds from these.
        options = {
            "num_threads": num_threads,
            "delegates": delegates,
            "op_resolver": op_resolver,
            "runtime": runtime,
        }
        self._recipe: Recipe | None = Recipe(model, options, self.runtime)

    def _attach_litert(
        self, model: Model, num_threads: int | None, op_resolver: str, check: bool
    ) -> None:
        """Compile on LiteRT; with `check`, refuse (for the next runtime) what it gets wrong."""
        from .runtime import litert
        from .runtime.flex import refuse_flex_off_tflite

        refuse_flex_off_tflite(model.file, model.source, "litert")
        litert.refuse_partial_signatures(model.file, model.source)
        session = litert.build_session(model.content, model.source, num_threads, op_resolver)
        litert.prepare(session, model.source)
        if check:
            litert.check_supported(session, model.file.signatures, model.facts.value_sized)
        self._file = model.file
        self._signatures = model.file.signatures
        # LiteRT refuses empty dimensions itself, so ARG_MAX/ARG_MIN never see one.
        self._facts = GraphFacts([], model.facts.value_sized)
        self._session = session
        self._runners = {}
        self._runners_lock = threading.Lock()

    @classmethod
    def from_tflite(cls, interpreter: TfliteInterpreter) -> Interpreter:
        """Wrap an existing ``tflite_runtime.interpreter.Interpreter``.

        Use it for loading options pysig does not take itself (custom op
        registerers, ``experimental_preserve_all_tensors``...). pysig allocates its
        tensors; do not use the tflite_runtime object directly afterwards.
        """
        if not installed("tflite"):
            raise PysigError("from_tflite needs tflite-runtime: pip install tflite-runtime==2.14.0")
        from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

        if not isinstance(interpreter, TfliteInterpreter):
            raise TypeError(
                f"expected a tflite_runtime Interpreter, got {type(interpreter).__name__}"
            )
        self = cls.__new__(cls)
        # Built with options pysig cannot know, so it cannot be rebuilt by pickling.
        self._recipe = None
        source = "the tflite_runtime interpreter"
        content = getattr(interpreter, "_model_content", None)
        if isinstance(content, bytes):
            model = verified_model(content, source)
            self._attach(
                interpreter, source, GraphFacts(model.facts.arg_reductions, []), model.file
            )
        else:
            # Loaded from a path: its bytes are out of reach, so unverified (no
            # ARG_MAX/ARG_MIN shape check) and described by the runtime.
            self._attach(interpreter, source, GraphFacts([], []), None)
        return self

    def _attach(
        self,
        tflite: TfliteInterpreter,
        source: str,
        facts: GraphFacts,
        file: ModelFile | None,
    ) -> None:
        from . import _pysig
        from .runtime.tflite import signatures_from_interpreter, translate_load_error

        self._file = file
        self._signatures = (
            file.signatures if file is not None else signatures_from_interpreter(tflite)
        )
        self._facts = facts
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
        self._session = _pysig.tflite.session(tflite, tflite._native_handle())
        # Built on first use (a signature with a tensor type numpy lacks fails
        # only when asked for), under a lock so that threads asking at once share one.
        self._runners = {}
        self._runners_lock = threading.Lock()

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        """Signature keys with their input and output names, in tf.lite's format."""
        return {
            key: {"inputs": list(sig.inputs), "outputs": list(sig.outputs)}
            for key, sig in self._signatures.items()
        }

    def get_input_details(self) -> list[dict[str, Any]]:
        """tf.lite's details of the main graph's inputs (its subgraph 0), a list of dicts."""
        return self._graph_details(self._main_graph("inputs"))

    def get_output_details(self) -> list[dict[str, Any]]:
        """tf.lite's details of the main graph's outputs, a list of dicts."""
        return self._graph_details(self._main_graph("outputs"))

    def get_tensor_details(self) -> list[dict[str, Any]]:
        """tf.lite's details of every tensor of the main graph, in index order."""
        return self._graph_details(self._main_graph("tensors"))

    def _main_graph(self, which: str) -> list[TensorSpec]:
        if self._file is not None:
            main = self._file.subgraphs[0]
            chosen = {"inputs": main.inputs, "outputs": main.outputs}
            indices = chosen.get(which, range(main.tensor_count))
            return [self._file.tensor(0, i) for i in indices]
        tflite = self._session.owner
        if tflite is None:
            raise ClosedError("the interpreter has been closed")
        # Built from a path, its bytes out of reach: the runtime describes the graph.
        details = getattr(tflite, f"get_{which[:-1]}_details")()
        return [TensorSpec.from_details(d) for d in details]

    def _graph_details(self, tensors: Sequence[TensorSpec]) -> list[dict[str, Any]]:
        """Details with each tensor's current shape where a signature of the main graph
        has resized it."""
        shapes: dict[int, list[int]] = {}
        with self._runners_lock:
            runners = list(self._runners.values())
        # Only a runner can have resized a tensor: those not built yet have not.
        for runner in runners:
            if runner.subgraph_index == 0:
                shapes.update(runner._live_shapes())
        return [spec.details(shapes.get(spec.index)) for spec in tensors]

    def __getattr__(self, name: str) -> Any:
        instead = _INSTEAD_OF_TFLITE.get(name)
        if instead is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        raise UnsupportedMethodError(
            f"pysig.Interpreter does not offer tf.lite's {name}(): {instead}"
        )

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
                reductions = self._facts.arg_reductions
                sized = self._facts.value_sized
                runner = SignatureRunner(
                    self._session,
                    signature,
                    reductions[index] if reductions else (),
                    sized[index] if sized else frozenset(),
                    self._recipe,
                )
                self._runners[signature_key] = runner
        return runner

    @property
    def runtime(self) -> str:
        """The runtime running the model: ``"tflite"`` or ``"litert"``."""
        return str(self._session.runtime)

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
