"""Column access and value normalisation for interaction tables.

Accepts a ``dict`` of column -> array/list, a pandas ``DataFrame`` or a pyarrow ``Table``
without importing either library (duck typing), and turns the columns seqrec needs into
1-D numpy arrays with one canonical dtype per kind of value:

* ids (USER_ID, ITEM_ID) become ``int64`` or unicode ``str`` arrays. ``3`` and ``3.0`` are
  the same id; ``"3"`` is a different *type* and mixing it with numbers is an error, as are
  floats with a fractional part, booleans and missing values.
* TIMESTAMP becomes ``int64`` (integers, and datetimes as nanoseconds since the epoch) or
  ``float64``. Text is refused: it would sort as text, not as time.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import IdTypeError, MissingValueError, SchemaError, TimestampTypeError

USER_ID = "USER_ID"
ITEM_ID = "ITEM_ID"
TIMESTAMP = "TIMESTAMP"
OUTCOME = "OUTCOME"

_INT64_MAX = np.iinfo(np.int64).max


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


def _column_values(data: Any, name: str) -> Any:
    if isinstance(data, Mapping):
        return data[name]
    if hasattr(data, "column_names") and hasattr(data, "column"):  # pyarrow.Table
        return data.column(name).to_numpy(zero_copy_only=False)
    values = data[name]  # pandas: positional values, the index is ignored
    return values.to_numpy() if hasattr(values, "to_numpy") else values


def as_array(values: Any, column: str) -> np.ndarray:
    """Turn one column into a 1-D numpy array (no copy when it already is one)."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(values, (list, tuple, range)) or isinstance(values, Iterable):
        values = list(values)
        has_str = any(isinstance(v, str) for v in values)
        array = np.array(values, dtype=object if has_str or not values else None)
        if array.dtype == object and values and not has_str:
            array = np.array(values)
    else:
        raise SchemaError(f"column {column!r} must be a 1-D array or list, got {type(values)}")
    if array.ndim != 1:
        raise SchemaError(
            f"column {column!r} must be 1-D, got an array of shape {array.shape}; "
            "pass one value per interaction row (e.g. arr.ravel() if that is what you meant)"
        )
    return array


def get_columns(
    data: Any, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Extract ``required`` (and present ``optional``) columns as 1-D numpy arrays.

    Extra columns are ignored. All returned arrays have the same length.

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
    out = {c: as_array(_column_values(data, c), c) for c in required}
    for c in optional:
        if c in names:
            out[c] = as_array(_column_values(data, c), c)
    lengths = {c: len(a) for c, a in out.items()}
    if len(set(lengths.values())) > 1:
        raise SchemaError(f"columns have different lengths: {lengths}")
    return out


def _first_bad(mask: np.ndarray, values: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    return f"{len(rows)} row(s), first at row {int(rows[0])} (value {values[rows[0]]!r})"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and not np.isfinite(value):
        return True
    try:
        return bool(value != value)  # NaN, pandas NA/NaT
    except (TypeError, ValueError):
        return True


def normalize_ids(values: Any, column: str) -> np.ndarray:
    """Return ids as an ``int64`` or unicode string array.

    Parameters
    ----------
    values
        A 1-D array or list of ids.
    column
        Column name used in error messages.

    Raises
    ------
    MissingValueError
        NaN, None, or inf in the column.
    IdTypeError
        Booleans, floats with a fractional part, integers beyond int64, or a mix of
        text and numbers.
    """
    array = as_array(values, column)
    kind = array.dtype.kind
    if kind in "iu":
        if kind == "u" and array.size and array.max() > _INT64_MAX:
            raise IdTypeError(f"{column} has values above the int64 range; use string ids")
        return array.astype(np.int64, copy=False)
    if kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            raise MissingValueError(
                f"{column} has missing/infinite values in {_first_bad(bad, array)}; "
                "drop or fill those rows first"
            )
        frac = array != np.floor(array)
        if frac.any():
            raise IdTypeError(
                f"{column} holds floats with a fractional part in {_first_bad(frac, array)}; "
                "ids must be integers or strings"
            )
        if array.size and np.abs(array).max() >= 2.0**63:
            raise IdTypeError(f"{column} has float values beyond the int64 range")
        return array.astype(np.int64)
    if kind == "U":
        return array
    if kind == "S":
        return np.char.decode(array, "utf-8")
    if kind == "b":
        raise IdTypeError(f"{column} is boolean; ids must be integers or strings")
    if kind == "O":
        return _normalize_object_ids(array, column)
    raise IdTypeError(f"{column} has unsupported dtype {array.dtype}; use integers or strings")


def _normalize_object_ids(array: np.ndarray, column: str) -> np.ndarray:
    types = set()
    for i, v in enumerate(array):
        if isinstance(v, str):
            types.add(str)
        elif isinstance(v, (bool, np.bool_)):
            raise IdTypeError(f"{column} has a boolean value at row {i}; ids must be int or str")
        elif isinstance(v, numbers.Integral):
            types.add(int)
        elif _is_missing(v):
            raise MissingValueError(
                f"{column} has a missing value ({v!r}) at row {i}; drop or fill those rows first"
            )
        elif isinstance(v, numbers.Real):
            types.add(float)
        elif isinstance(v, bytes):
            types.add(str)
        else:
            raise IdTypeError(f"{column} has a value of type {type(v).__name__} at row {i}")
    if str in types and len(types) > 1:
        raise IdTypeError(
            f"{column} mixes text and numbers (e.g. 3 and '3'); they would silently become "
            "different items. Convert the column to one type first (all int or all str)."
        )
    if types == {str}:
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in array],
                        dtype=str)
    if not types:
        return np.zeros(0, dtype=np.int64)
    if float in types:
        return normalize_ids(np.array(array, dtype=np.float64), column)
    try:
        return np.array(array, dtype=np.int64)
    except OverflowError as exc:
        raise IdTypeError(f"{column} has integers beyond the int64 range; use string ids") from exc


def normalize_timestamps(values: Any, column: str = TIMESTAMP) -> np.ndarray:
    """Return timestamps as ``int64`` (ints, datetimes in ns) or ``float64``.

    Raises
    ------
    TimestampTypeError
        Text or other values that cannot be ordered as time.
    MissingValueError
        NaN, NaT, None or inf.
    """
    array = as_array(values, column)
    kind = array.dtype.kind
    if kind == "M":
        bad = np.isnat(array)
        if bad.any():
            raise MissingValueError(f"{column} has NaT in {_first_bad(bad, array)}")
        return array.astype("datetime64[ns]").view(np.int64)
    if kind in "iu":
        return array.astype(np.int64, copy=False)
    if kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            raise MissingValueError(
                f"{column} has missing/infinite values in {_first_bad(bad, array)}; "
                "drop or fill those rows first"
            )
        return array.astype(np.float64, copy=False)
    if kind in "USO":
        return _normalize_object_timestamps(array, column)
    raise TimestampTypeError(
        f"{column} has dtype {array.dtype}; use numbers (e.g. unix seconds) or datetime64"
    )


def _normalize_object_timestamps(array: np.ndarray, column: str) -> np.ndarray:
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    sample = array[0]
    if all(isinstance(v, _dt.datetime) for v in array):
        return normalize_timestamps(np.array(array, dtype="datetime64[ns]"), column)
    if isinstance(sample, (str, bytes, np.str_)) or any(isinstance(v, (str, bytes)) for v in array):
        raise TimestampTypeError(
            f"{column} holds text (e.g. {sample!r}); text sorts as text, not as time. "
            "Parse it first, e.g. pandas.to_datetime(df.TIMESTAMP) or int unix seconds."
        )
    for i, v in enumerate(array):
        if _is_missing(v):
            raise MissingValueError(f"{column} has a missing value ({v!r}) at row {i}")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TimestampTypeError(f"{column} has a {type(v).__name__} value at row {i}")
    if all(isinstance(v, numbers.Integral) for v in array):
        return np.array(array, dtype=np.int64)
    return normalize_timestamps(np.array(array, dtype=np.float64), column)
