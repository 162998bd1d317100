"""pysig.BatchPredictor: one signature run over batches of rows, for distributed engines."""

from __future__ import annotations

import os
from typing import Any, Mapping, NamedTuple, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from ..errors import BatchColumnError, BatchRowError, PysigError
from ..interpreter import Interpreter
from ..signature_runner import SignatureRunner
from . import frames
from .rows import Rows, convert_column, row_error, row_shapes, stacked

ModelSource = Union[str, "os.PathLike[str]", bytes, Interpreter]
OutputSpec = Union[Sequence[str], Mapping[str, str], None]


class _Calls(NamedTuple):
    """How the rows of a batch go through the model."""

    batched: bool  # rows are stacked along the inputs' first axis (else: one call per row)
    rows_per_call: int | None  # None: all rows in one call (a dynamic first axis)


class BatchPredictor:
    """Runs one signature of a model over batches of rows; build it once per worker.

    ``model`` is a path, model bytes, a :class:`pysig.Interpreter`, or a Ray
    ``ObjectRef`` of one of those (resolved with ``ray.get`` here, so the bytes
    travel through Ray's object store once). ``runtime``, ``num_threads`` (default
    1: one worker per core) and other keyword options build the interpreter; they
    cannot be given with an Interpreter, which has its own.

    Calling it with a batch (a dict of column name to numpy array, Ray Data's
    "numpy" format, or a pandas DataFrame) returns a batch of the same kind with
    the output columns added. Each signature input reads the column of its name,
    or ``inputs[name]``; ``outputs`` picks outputs (a list) or names their
    columns (a dict of output name to column name), by default every output
    under its own name. Rows are stacked along the input's first axis when a row
    has one axis less than the tensor: a dynamic first axis is resized to the
    batch, a fixed one (a batch of 1 is common) runs the rows in slices of that
    size (the last slice padded with copies of its last row, their outputs
    dropped). Rows with as many axes as the tensor run one call per row. Values
    convert to the tensor's dtype by pysig's rules; a row that fails raises
    :class:`pysig.BatchRowError` naming the row.

    It pickles as its interpreter (model bytes and options, see
    :class:`pysig.Interpreter`) and its settings.
    """

    def __init__(
        self,
        model: ModelSource | Any,
        signature: str | None = None,
        *,
        inputs: Mapping[str, str] | None = None,
        outputs: OutputSpec = None,
        runtime: str | None = None,
        num_threads: int | None = None,
        **interpreter_options: Any,
    ) -> None:
        model = _resolve_object_ref(model)
        if isinstance(model, Interpreter):
            if runtime is not None or num_threads is not None or interpreter_options:
                raise TypeError(
                    "runtime, num_threads and interpreter options apply to a model path or "
                    "bytes; an Interpreter keeps the options it was built with"
                )
            self._interpreter = model
        else:
            options = dict(
                interpreter_options, num_threads=1 if num_threads is None else num_threads
            )
            if runtime is not None:
                options["runtime"] = runtime
            if isinstance(model, (bytes, bytearray, memoryview)):
                self._interpreter = Interpreter(model_content=bytes(model), **options)
            else:
                self._interpreter = Interpreter(model, **options)
        self._runner: SignatureRunner = self._interpreter.get_signature_runner(signature)
        self._inputs = self._input_columns(inputs)
        self._outputs = self._output_columns(outputs)
        self._input_details = self._runner.get_input_details()
        self._output_details = self._runner.get_output_details()
        if not self._inputs:
            raise BatchColumnError(
                f"signature {self.signature_key!r} has no inputs, so there are no rows to map"
            )

    @property
    def signature_key(self) -> str:
        return self._runner.signature_key

    @property
    def interpreter(self) -> Interpreter:
        return self._interpreter

    def __call__(self, batch: Any) -> Any:
        """The batch with the output columns added, of the same kind (dict or DataFrame)."""
        names = frames.column_names(batch)
        self._check_columns(names)
        labels = frames.row_labels(batch)
        count = frames.row_count(batch, names)
        if count == 0:
            # No values to convert or run; an engine may pass one to learn the columns.
            return frames.with_columns(
                batch,
                {
                    self._outputs[n]: v
                    for n, v in self._empty_outputs(self._empty_layout(batch)).items()
                },
            )
        rows = {
            name: convert_column(
                frames.column(batch, column),
                _tensor_dtype(self._input_details[name]["dtype"]),
                self.signature_key,
                name,
                labels,
            )
            for name, column in self._inputs.items()
        }
        calls = self._calls(rows)
        if calls.batched:
            results = self._run_stacked(
                {name: stacked(value, name, labels) for name, value in rows.items()},
                calls.rows_per_call or count,
                labels,
            )
        else:
            results = self._run_each(rows, count, labels)
        return frames.with_columns(
            batch, {self._outputs[name]: results[name] for name in self._outputs}
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (
            self._interpreter,
            self.signature_key,
            self._inputs,
            self._outputs,
        )

    def __repr__(self) -> str:
        return (
            f"<pysig.BatchPredictor {self.signature_key!r} inputs={self._inputs} "
            f"outputs={self._outputs}>"
        )

    # -- settings

    def _input_columns(self, inputs: Mapping[str, str] | None) -> dict[str, str]:
        names = self._runner.input_names
        mapping = dict(inputs or {})
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise BatchColumnError(
                f"inputs= names {unknown}, which signature {self.signature_key!r} does not "
                f"have; its inputs: {list(names)}"
            )
        return {name: mapping.get(name, name) for name in names}

    def _output_columns(self, outputs: OutputSpec) -> dict[str, str]:
        names = self._runner.output_names
        if outputs is None:
            mapping = {name: name for name in names}
        elif isinstance(outputs, Mapping):
            mapping = dict(outputs)
        elif isinstance(outputs, str):
            raise TypeError("outputs= takes a list of output names or a dict, not one string")
        else:
            mapping = {name: name for name in outputs}
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise BatchColumnError(
                f"outputs= names {unknown}, which signature {self.signature_key!r} does not "
                f"have; its outputs: {list(names)}"
            )
        return mapping

    def _check_columns(self, names: Sequence[str]) -> None:
        missing = sorted(set(self._inputs.values()) - set(names))
        if missing:
            raise BatchColumnError(
                f"the batch has no column {', '.join(map(repr, missing))} for signature "
                f"{self.signature_key!r}; its columns: {list(names)} (map inputs to columns "
                "with inputs={input: column})"
            )
        taken = sorted(set(self._outputs.values()) & set(names))
        if taken:
            raise BatchColumnError(
                f"output column {', '.join(map(repr, taken))} is already in the batch; name "
                "the output columns with outputs={output: column}"
            )

    # -- planning

    def _calls(self, rows: Mapping[str, Rows]) -> _Calls:
        """Stacked or one call per row, decided by each input's row rank."""
        kinds: dict[str, bool] = {}
        per_call: set[int] = set()
        for name, value in rows.items():
            signature = self._input_details[name]["shape_signature"]
            ranks = {len(shape) for shape in row_shapes(value)} or {len(signature) - 1}
            if ranks == {len(signature) - 1}:
                kinds[name] = True
                if signature[0] >= 0:
                    per_call.add(int(signature[0]))
            elif ranks == {len(signature)}:
                kinds[name] = False
            else:
                raise BatchColumnError(
                    f"signature {self.signature_key!r}: input {name!r} has shape signature "
                    f"{list(signature)}, so a row of it needs {len(signature) - 1} axes (rows "
                    f"stacked along the first) or {len(signature)} (one call per row), not "
                    f"{sorted(ranks)}"
                )
        if len(set(kinds.values())) > 1:
            raise BatchColumnError(
                f"signature {self.signature_key!r}: inputs {sorted(k for k, v in kinds.items() if v)} "
                f"take rows stacked along their first axis but "
                f"{sorted(k for k, v in kinds.items() if not v)} one row per call"
            )
        if len(per_call) > 1:
            raise BatchColumnError(
                f"signature {self.signature_key!r}: the inputs fix different batch sizes "
                f"{sorted(per_call)}"
            )
        batched = next(iter(kinds.values()))
        return _Calls(batched, next(iter(per_call), None) if batched else 1)

    # -- running

    def _run_stacked(
        self,
        inputs: Mapping[str, NDArray[Any]],
        rows_per_call: int,
        labels: Sequence[Any] | None,
    ) -> dict[str, NDArray[Any]]:
        count = len(next(iter(inputs.values())))
        parts: dict[str, list[NDArray[Any]]] = {name: [] for name in self._outputs}
        for start in range(0, count, rows_per_call):
            stop = min(start + rows_per_call, count)
            chunk = {
                name: _padded(value[start:stop], rows_per_call) for name, value in inputs.items()
            }
            outputs = self._call(chunk, start, stop, labels)
            for name in self._outputs:
                value = outputs[name]
                if value.ndim == 0 or value.shape[0] != rows_per_call:
                    raise BatchColumnError(
                        f"signature {self.signature_key!r}: output {name!r} has shape "
                        f"{list(value.shape)} for {rows_per_call} rows, not one row per input "
                        "row; leave it out with outputs=[...]"
                    )
                parts[name].append(value[: stop - start])
        return {name: _joined(values, concatenate=True) for name, values in parts.items()}

    def _run_each(
        self, inputs: Mapping[str, Rows], count: int, labels: Sequence[Any] | None
    ) -> dict[str, NDArray[Any]]:
        parts: dict[str, list[NDArray[Any]]] = {name: [] for name in self._outputs}
        for row in range(count):
            outputs = self._call(
                {name: value[row] for name, value in inputs.items()}, row, row + 1, labels
            )
            for name in self._outputs:
                parts[name].append(outputs[name])
        return {name: _joined(values, concatenate=False) for name, values in parts.items()}

    def _call(
        self,
        inputs: Mapping[str, NDArray[Any]],
        start: int,
        stop: int,
        labels: Sequence[Any] | None,
    ) -> dict[str, NDArray[Any]]:
        try:
            return self._runner(**inputs)
        except BatchRowError:
            raise
        except PysigError as error:
            raise row_error(start, labels, error, stop - 1) from error

    def _empty_layout(self, batch: Any) -> bool:
        """Whether rows would be stacked, for a batch without rows.

        An array column still has the axes of a row; a column of cells (or an empty
        list) has none, and then a first axis of -1 or 1 is taken for the batch axis.
        """
        for name, column in self._inputs.items():
            values = frames.column(batch, column)
            rank = len(self._input_details[name]["shape_signature"])
            if values.dtype != object and values.ndim > 1:
                return bool(values.ndim == rank)
        first = {
            int(d["shape_signature"][0])
            for d in self._input_details.values()
            if len(d["shape_signature"])
        }
        return bool(first) and first <= {-1, 1}

    def _empty_outputs(self, batched: bool) -> dict[str, NDArray[Any]]:
        """Zero rows of each output, shaped as the model declares one row."""
        results = {}
        for name in self._outputs:
            detail = self._output_details[name]
            shape = [max(int(d), 0) for d in detail["shape_signature"]]
            row = shape[1:] if batched else shape
            results[name] = np.empty([0, *row], dtype=_tensor_dtype(detail["dtype"]))
        return results


def _tensor_dtype(detail: Any) -> np.dtype[Any]:
    """The dtype pysig's conversion takes: strings (tf.lite reports bytes_) are objects."""
    dtype = np.dtype(detail)
    return np.dtype(object) if dtype.kind == "S" else dtype


def _padded(rows: NDArray[Any], size: int) -> NDArray[Any]:
    """``rows`` filled up to ``size`` with copies of its last row (a fixed batch's tail)."""
    if len(rows) == size:
        return rows
    return np.concatenate([rows, np.repeat(rows[-1:], size - len(rows), axis=0)])


def _joined(parts: list[NDArray[Any]], concatenate: bool) -> NDArray[Any]:
    """Per-call outputs as one column; one array per row if their shapes differ."""
    shapes = {part.shape[1:] if concatenate else part.shape for part in parts}
    if len(shapes) == 1:
        return np.concatenate(parts) if concatenate else np.stack(parts)
    rows = [row for part in parts for row in part] if concatenate else parts
    return frames.cells(rows)


def _resolve_object_ref(model: Any) -> Any:
    """A Ray ObjectRef's value (fetched on the worker that builds the predictor)."""
    cls = type(model)
    if cls.__name__ == "ObjectRef" and cls.__module__.startswith("ray"):
        import ray

        return ray.get(model)
    return model


def _rebuild(
    interpreter: Interpreter,
    signature_key: str,
    inputs: dict[str, str],
    outputs: dict[str, str],
) -> BatchPredictor:
    return BatchPredictor(interpreter, signature_key, inputs=inputs, outputs=outputs)
