"""Column access for interaction tables: a ``dict`` of column -> array/list, a pandas
``DataFrame`` or a pyarrow ``Table``, without importing either library (duck typing).

Each column comes back as a 1-D numpy array (or, for long text id columns, as
:class:`~seqrec_runtime.coded_ids.CodedIds`); :mod:`.ids` and :mod:`.timestamps` then give
each kind of value its canonical dtype.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .coded_ids import CodedIds, coded_text_ids
from .errors import MissingValueError, SchemaError

USER_ID = "USER_ID"
ITEM_ID = "ITEM_ID"
TIMESTAMP = "TIMESTAMP"
OUTCOME = "OUTCOME"


def column_names(data: Any) -> list[str]:
    """Return the column names of a dict, pandas DataFrame or pyarrow Table."""
    if isinstance(data, Mapping):
        return [str(k) for k in data.keys()]
    names = getattr(data, "column_names", None)  # pyarrow.Table
    if names is not None and not callable(names):
        return [str(n) for n in names]
    columns = getattr(data, "columns", None)  # pandas.DataFrame
    if columns is not None:
        return [str(c) for c in columns]
    raise SchemaError(
        f"interactions must be a dict of column -> array, a pandas DataFrame or a pyarrow "
        f"Table; got {type(data).__name__}"
    )


def column_values(data: Any, name: str) -> Any:
    if isinstance(data, Mapping):
        return data[name]
    if hasattr(data, "column_names") and hasattr(data, "column"):  # pyarrow.Table
        column = data.column(name)
        if name in (USER_ID, ITEM_ID):  # as_array / coded_text_ids may dictionary-encode it
            return column
        return column.to_numpy(zero_copy_only=False)
    return data[name]  # pandas: as_array takes positional values, the index is ignored


def as_array(values: Any, column: str, text_codes: bool = True) -> np.ndarray:
    """Turn one column into a 1-D numpy array (no copy when it already is one).

    A long pandas/pyarrow text id column goes through :func:`coded_text_ids` first
    (``text_codes=False``: the caller has tried that already).

    Raises
    ------
    SchemaError
        A scalar, a string, an unordered container (set, dict) or a ragged/nested list
        given as a column, or an array that is not 1-D.
    MissingValueError
        A numpy masked array with masked entries.
    """
    if isinstance(values, (str, bytes, bytearray, memoryview, Mapping, set, frozenset)):
        raise SchemaError(
            f"column {column!r} must be a 1-D array or list with one value per row, got a "
            f"{type(values).__name__}; a string is not a column and a set or dict has no row "
            "order (wrap a single value in a list)"
        )
    if getattr(getattr(values, "dtype", None), "tz", None) is not None and hasattr(values, "dt"):
        # tz-aware pandas datetimes: the same instants as naive UTC datetime64[ns]
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    coded = coded_text_ids(values) if text_codes and column in (USER_ID, ITEM_ID) else None
    if coded is not None:
        return coded.expand()
    if hasattr(values, "dictionary_encode") and hasattr(values, "to_numpy"):  # pyarrow
        values = values.to_numpy(zero_copy_only=False)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(values, (list, tuple, range)) or isinstance(values, Iterable):
        values = list(values)
        types = set(map(type, values))
        has_str = any(issubclass(t, str) for t in types)
        # numpy turns True into 1 (or 1.0) next to numbers: keep such a column as objects
        # so that the id and timestamp checks see (and refuse) the booleans
        bools = [issubclass(t, (bool, np.bool_)) for t in types]
        mixed_bool = any(bools) and not all(bools)
        as_objects = has_str or mixed_bool or not values
        try:
            array = np.array(values, dtype=object if as_objects else None)
            if array.dtype == object and not as_objects:
                array = np.array(values)
        except (ValueError, TypeError) as exc:  # ragged nested lists
            raise SchemaError(
                f"column {column!r} must hold one scalar per row (got nested or ragged "
                f"values): {exc}"
            ) from exc
    else:
        raise SchemaError(f"column {column!r} must be a 1-D array or list, got {type(values)}")
    if isinstance(array, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(array)
        if mask.any():
            raise MissingValueError(
                f"{column} has masked (missing) values in {first_bad(mask, array.data)}; "
                "drop or fill those rows first"
            )
        array = array.data
    if array.ndim != 1:
        raise SchemaError(
            f"column {column!r} must be 1-D, got an array of shape {array.shape}; "
            "pass one value per interaction row (e.g. arr.ravel() if that is what you meant)"
        )
    return array


def get_columns(
    data: Any, required: Iterable[str], optional: Iterable[str] = (), coded_ids: bool = False
) -> dict[str, Any]:
    """Extract ``required`` (and present ``optional``) columns as 1-D numpy arrays.

    Extra columns are ignored. All returned columns have the same length. With
    ``coded_ids``, a long pandas/pyarrow text id column that passes its checks comes back
    as :class:`CodedIds` (grouped by its own library) instead of one string per row; a
    :class:`CodedIds` value in a dict is passed through (expanded without ``coded_ids``).

    Raises
    ------
    SchemaError
        When a required column is missing, a column is not 1-D or lengths differ.
    """
    names = column_names(data)
    required = list(required)
    missing = [c for c in required if c not in names]
    if missing:
        raise SchemaError(
            f"missing required column(s) {missing}; got columns {names}. "
            f"Rename your columns to {required} (upper case)."
        )
    duplicated = [c for c in [*required, *optional] if names.count(c) > 1]
    if duplicated:
        raise SchemaError(
            f"column {duplicated[0]!r} appears {names.count(duplicated[0])} times (columns "
            f"{names}); keep one of them"
        )
    def column(name: str) -> Any:
        values = column_values(data, name)
        if isinstance(values, CodedIds):  # grouped already (e.g. a trainer dataset's columns)
            return values if coded_ids else values.expand()
        if coded_ids and name in (USER_ID, ITEM_ID):
            coded = coded_text_ids(values)
            if coded is not None:
                return coded
        return as_array(values, name, text_codes=not coded_ids)

    out = {c: column(c) for c in required}
    for c in optional:
        if c in names:
            out[c] = column(c)
    lengths = {c: len(a) for c, a in out.items()}
    if len(set(lengths.values())) > 1:
        raise SchemaError(f"columns have different lengths: {lengths}")
    return out


def first_bad(mask: np.ndarray, values: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    return f"{len(rows)} row(s), first at row {int(rows[0])} (value {values[rows[0]]!r})"


def finite_floats(array: np.ndarray, column: str) -> np.ndarray:
    """``array`` as float64, or :class:`MissingValueError` naming its first NaN/inf row."""
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        raise MissingValueError(
            f"{column} has missing/infinite values in {first_bad(bad, array)}; "
            "drop or fill those rows first"
        )
    return array


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and not np.isfinite(value):
        return True
    try:
        return bool(value != value)  # NaN, pandas NA/NaT
    except (TypeError, ValueError):
        return True
