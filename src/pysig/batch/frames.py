"""The two batch formats engines hand a predictor: a dict of numpy columns, or a DataFrame.

Ray Data's "numpy" batch format is a dict of column name to array (one row per
item of the leading axis); Dask and Spark give pandas DataFrames. pandas is
imported only when a DataFrame arrives, so ``import pysig`` never needs it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray


def is_dataframe(batch: object) -> bool:
    # Duck-typed on the class, so pandas need not be imported to tell.
    return any(
        cls.__module__.startswith("pandas") and cls.__name__ == "DataFrame"
        for cls in type(batch).__mro__
    )


def column_names(batch: Any) -> list[str]:
    return [str(name) for name in batch]


def column(batch: Any, name: str) -> NDArray[Any]:
    """A column as a numpy array: one item per row (object items for array cells)."""
    values = batch[name]
    if is_dataframe(batch):
        return values.to_numpy()  # type: ignore[no-any-return]
    return np.asarray(values) if not isinstance(values, np.ndarray) else values


def row_count(batch: Any, names: Sequence[str]) -> int:
    if is_dataframe(batch):
        return len(batch)
    lengths = {name: len(batch[name]) for name in names}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the batch's columns have different lengths: {lengths}")
    return next(iter(lengths.values()), 0)


def row_labels(batch: Any) -> Sequence[Any] | None:
    """The DataFrame's index labels, which name rows in errors better than positions."""
    return list(batch.index) if is_dataframe(batch) else None


def with_columns(batch: Any, columns: Mapping[str, NDArray[Any]]) -> Any:
    """A new batch of the same kind: the input's columns, then ``columns`` added."""
    if is_dataframe(batch):
        # A DataFrame column holds scalars; an output with more axes per row goes in
        # as one array per row.
        return batch.assign(
            **{
                name: values if values.ndim == 1 else cells(values)
                for name, values in columns.items()
            }
        )
    return {**batch, **columns}


def cells(rows: Sequence[NDArray[Any]] | NDArray[Any]) -> NDArray[Any]:
    """A 1-d object array holding one array per row (given row by row: numpy would
    otherwise stack arrays of one shape into more axes)."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out
