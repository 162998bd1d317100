"""pysig.SignatureRunner: calling one signature by name, with copies or zero-copy views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from numpy.typing import NDArray

from . import _pysig
from ._convert import coerce
from ._pickling import Recipe, rebuild_runner, recipe_for_pickle, refuse_views
from ._timeout import call_with_timeout
from .model import SignatureSpec, TensorSpec


class TensorViews(Mapping[str, NDArray[Any]]):
    """Zero-copy numpy views of a signature's input or output tensors, by name.

    Each lookup returns a fresh view of the tensor's current memory. A view keeps
    the interpreter alive; while any view exists, operations that could move
    tensor memory (resizing, re-allocating, closing) raise BufferInUseError.
    """

    def __init__(self, names: tuple[str, ...], make_view: Any) -> None:
        self._names = names
        self._make_view = make_view

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self._make_view(name)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<pysig.TensorViews {list(self._names)}>"

    def __reduce__(self) -> tuple[Any, ...]:
        raise refuse_views("tensor views")


class SignatureRunner(_pysig.Runner):
    """Runs one signature of an :class:`Interpreter`; get it from ``get_signature_runner``.

    ``runner(x=a, y=b)`` returns a dict of new arrays: inputs whose shape differs
    from the tensor's are resized first (tensors are re-allocated only then), and
    values are converted to the tensor's dtype only where no value can change
    (numpy 'safe' casting; Python numbers convert when they fit exactly).
    ``runner.inputs["x"][...] = a``, ``runner.invoke()`` and ``runner.outputs["y"]``
    work in place, without copies. ``__call__`` and ``invoke`` are implemented in C++.
    """

    def __init__(
        self,
        session: Any,
        signature: SignatureSpec,
        arg_reductions: Sequence[tuple[int, int]],
        value_sized: frozenset[int],
        recipe: Recipe | None = None,
    ) -> None:
        super().__init__(
            session,
            "" if signature.synthesized else signature.key,
            signature.key,
            signature.subgraph_index,
            [(n, t.index, list(t.shape_signature)) for n, t in signature.inputs.items()],
            [(n, t.index, list(t.shape_signature)) for n, t in signature.outputs.items()],
            coerce,
            list(arg_reductions),
            sorted(value_sized),
        )
        self._session = session
        self._signature = signature
        self._recipe = recipe  # its interpreter's, for pickling
        self.inputs: Mapping[str, NDArray[Any]] = TensorViews(self.input_names, self._input_view)
        self.outputs: Mapping[str, NDArray[Any]] = TensorViews(self.output_names, self._output_view)

    @property
    def signature_key(self) -> str:
        return self._signature.key

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self._signature.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self._signature.outputs)

    def run(
        self,
        inputs: Mapping[str, Any],
        out: Mapping[str, NDArray[Any]] | None = None,
        timeout: float | None = None,
    ) -> dict[str, NDArray[Any]]:
        """Like calling the runner, but outputs named in ``out`` are written into those arrays.

        Each array in ``out`` must be C-contiguous, writeable, of the output's dtype
        and shape. The returned dict holds those arrays and new ones for the rest.

        With ``timeout`` (seconds), a call still running after that long is
        cancelled and raises InvokeCancelledError; the interpreter stays usable.
        The time counts from the call, including any wait for the interpreter's
        lock. Cancellation takes effect between graph nodes: a node that a
        delegate such as XNNPACK runs (often the whole graph) finishes first.
        """
        arguments = (dict(inputs), None if out is None else dict(out))
        if timeout is None:
            return self._run(*arguments)
        return call_with_timeout(
            lambda: self._run(*arguments),
            self._session.cancel,
            timeout,
            f"signature {self.signature_key!r}",
        )

    def cancel(self) -> None:
        """Stop the invocation in progress on this interpreter, from any thread.

        The runtime checks for cancellation between graph nodes; the cancelled
        call raises InvokeCancelledError and the interpreter stays usable. A
        cancel with nothing running has no effect on later calls. A delegate
        (XNNPACK, on by default) often runs the whole graph as one node, so the
        cancel then lands only when that node is done: build the interpreter
        with ``op_resolver="builtin_without_default_delegates"`` when prompt
        cancellation matters more than speed.
        """
        self._session.cancel()

    def resize_input(self, name: str, shape: Sequence[int], strict: bool = False) -> None:
        """Resize an input tensor; tensors are re-allocated on the next use or ``allocate()``.

        With ``strict=True`` only dimensions that are -1 in the shape signature may change.
        """
        self._resize_input(name, [int(d) for d in shape], strict)

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        """Input name -> tf.lite's tensor details (name, index, shape, shape_signature,
        dtype, quantization, quantization_parameters, sparsity_parameters)."""
        return self._details(self._signature.inputs)

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        """Output name -> tf.lite's tensor details, as for ``get_input_details``."""
        return self._details(self._signature.outputs)

    @property
    def runtime(self) -> str:
        """The runtime that runs this signature: ``"tflite"`` or ``"litert"``."""
        return str(self._session.runtime)

    def _details(self, tensors: Mapping[str, TensorSpec]) -> dict[str, dict[str, Any]]:
        """The file's facts, with each tensor's current shape from the runtime."""
        return {name: spec.details(self._shape(name)) for name, spec in tensors.items()}

    def _live_shapes(self) -> dict[int, list[int]]:
        """Tensor index -> current shape, for this signature's inputs and outputs."""
        return {
            spec.index: self._shape(name)
            for tensors in (self._signature.inputs, self._signature.outputs)
            for name, spec in tensors.items()
        }

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its interpreter's model and options plus its signature key."""
        what = f"the runner of signature {self.signature_key!r}"
        recipe = recipe_for_pickle(self._recipe, bool(self._session.closed), what)
        return rebuild_runner, (recipe, self.signature_key)

    if TYPE_CHECKING:

        def __call__(self, **inputs: Any) -> dict[str, NDArray[Any]]:
            """Run with the given inputs; return every output as a new array."""

    def __repr__(self) -> str:
        return (
            f"<pysig.SignatureRunner {self.signature_key!r} inputs={list(self.input_names)} "
            f"outputs={list(self.output_names)}>"
        )


# `runner(**inputs)` is served by the C++ type's call slot (see src/cpp/module.cpp).
_pysig.install_call_slot(SignatureRunner)
