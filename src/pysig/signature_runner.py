"""pysig.SignatureRunner: calling one signature by name, with copies or zero-copy views."""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Iterator,
    Mapping,
    NamedTuple,
    Sequence,
)

from numpy.typing import NDArray
from tflite_runtime.interpreter import Interpreter as TfliteInterpreter

from . import _pysig
from ._convert import coerce
from ._pickling import Recipe, rebuild_runner, recipe_for_pickle, refuse_views
from ._timeout import call_with_timeout
from .errors import ClosedError


class Signature(NamedTuple):
    """One signature: names mapped to tensor indices in its subgraph."""

    key: str
    subgraph_index: int
    inputs: dict[str, int]
    outputs: dict[str, int]
    synthesized: bool


def signatures_of(tflite: TfliteInterpreter, synthesized_key: str) -> dict[str, Signature]:
    """The model's signatures, or one synthesized from the main graph if it has none."""
    full = tflite._get_full_signature_list()
    if full:
        wrapper = tflite._interpreter
        return {
            key: Signature(
                key,
                wrapper.GetSubgraphIndexFromSignature(key),
                dict(sig["inputs"]),
                dict(sig["outputs"]),
                False,
            )
            for key, sig in full.items()
        }
    inputs = _unique_names(tflite.get_input_details(), "input")
    outputs = _unique_names(tflite.get_output_details(), "output")
    return {synthesized_key: Signature(synthesized_key, 0, inputs, outputs, True)}


def _unique_names(details: Sequence[Mapping[str, Any]], kind: str) -> dict[str, int]:
    """Tensor names as signature names; a missing or repeated one becomes `<kind>_<i>`."""
    names = [d["name"] for d in details]
    return {
        (name if name and names.count(name) == 1 else f"{kind}_{i}"): int(d["index"])
        for i, (name, d) in enumerate(zip(names, details))
    }


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
        signature: Signature,
        arg_reductions: Sequence[tuple[int, int]],
        recipe: Recipe | None = None,
    ) -> None:
        super().__init__(
            session,
            "" if signature.synthesized else signature.key,
            signature.key,
            signature.subgraph_index,
            list(signature.inputs.items()),
            list(signature.outputs.items()),
            coerce,
            list(arg_reductions),
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

    def _details(self, tensors: Mapping[str, int]) -> dict[str, dict[str, Any]]:
        with self._session:
            tflite = self._session.owner
            if tflite is None:
                raise ClosedError("the interpreter has been closed")
            return {
                name: tflite._get_tensor_details(index, self._signature.subgraph_index)
                for name, index in tensors.items()
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
