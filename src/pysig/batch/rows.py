"""Turning a batch's column into one input's rows, of the tensor's dtype.

Conversion follows pysig's rules (see _convert.py): a numeric column converts as
a whole, numpy's 'safe' casting; a column of cells (pandas holds arrays and
lists that way, Ray a column of arrays of different shapes) converts cell by
cell, so a cell that cannot be used is reported with its row.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from .._convert import coerce
from ..errors import BatchRowError, PysigError

# Rows stacked into one array along a new first axis, or one array per row when
# their shapes differ.
Rows = Union[NDArray[Any], List[NDArray[Any]]]

# The usual way a numeric cell becomes a string.
_STRING_CELL_HINT = (
    " (Dask turns object columns into strings, array cells included, unless its config "
    "'dataframe.convert-string' is False)"
)


def describe_row(row: int, labels: Sequence[Any] | None) -> str:
    if labels is None or labels[row] == row:
        return f"row {row}"
    return f"row {row} (index label {labels[row]!r})"


def row_error(
    row: int, labels: Sequence[Any] | None, error: object, last: int | None = None
) -> BatchRowError:
    """The error of ``row``, or of rows ``row`` to ``last`` that ran as one call."""
    label = None if labels is None else labels[row]
    if last is None or last == row:
        return BatchRowError(f"{describe_row(row, labels)}: {error}", row, label)
    return BatchRowError(f"rows {row} to {last} (run as one call): {error}", row, label)


def convert_column(
    values: NDArray[Any],
    dtype: np.dtype[Any],
    signature_key: str,
    input_name: str,
    labels: Sequence[Any] | None,
) -> Rows:
    """The column's rows as ``dtype``: stacked when every row has the same shape."""
    if values.dtype != object or (dtype == object and _holds_scalar_strings(values)):
        return coerce(values, dtype, signature_key, input_name)
    rows: list[NDArray[Any]] = []
    for row, cell in enumerate(values):
        try:
            rows.append(coerce(cell, dtype, signature_key, input_name))
        except PysigError as error:
            hint = _STRING_CELL_HINT if isinstance(cell, str) and dtype != object else ""
            raise row_error(row, labels, f"{error}{hint}") from error
    if rows and all(row.shape == rows[0].shape for row in rows):
        together: NDArray[Any] = np.stack(rows)
        return together
    return rows


def row_shapes(rows: Rows) -> list[tuple[int, ...]]:
    if isinstance(rows, np.ndarray):
        return [rows.shape[1:]] * len(rows)
    return [row.shape for row in rows]


def stacked(rows: Rows, input_name: str, labels: Sequence[Any] | None) -> NDArray[Any]:
    """The rows as one array, or the first row whose shape differs from row 0's."""
    if isinstance(rows, np.ndarray):
        return rows
    first = rows[0].shape
    row = next(i for i, value in enumerate(rows) if value.shape != first)
    raise BatchRowError(
        f"{describe_row(row, labels)}: input {input_name!r} has shape {rows[row].shape}, "
        f"but row 0 has {first}; the model runs these rows together, so they must match",
        row,
        None if labels is None else labels[row],
    )


def _holds_scalar_strings(values: NDArray[Any]) -> bool:
    return all(isinstance(cell, (str, bytes, np.bytes_, np.str_)) for cell in values)
