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
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import IdTypeError, MissingValueError, SchemaError, TimestampTypeError

USER_ID = "USER_ID"
ITEM_ID = "ITEM_ID"
TIMESTAMP = "TIMESTAMP"
OUTCOME = "OUTCOME"

_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_FLOAT_EXACT = 2.0**53  # every integer up to this is exact in float64
#: datetime64 values of coarser units are range-checked against these before becoming ns
_NS_RANGE = (np.datetime64("1678-01-01", "D"), np.datetime64("2262-01-01", "D"))
_FINER_THAN_NS = ("ns", "ps", "fs", "as")
_FACTORIZE_MIN_ROWS = 4096  # below this, converting every row is as fast
_EPOCH = _dt.datetime(1970, 1, 1)
_ONE_US = _dt.timedelta(microseconds=1)


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
                f"{column} has masked (missing) values in {_first_bad(mask, array.data)}; "
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
        values = _column_values(data, name)
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
        array = array.astype(np.float64, copy=False)
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
        # 2**53 itself is ambiguous too: the integer 2**53 + 1 rounds to the same float
        if array.size and np.abs(array).max() >= _FLOAT_EXACT:
            raise IdTypeError(
                f"{column} has float ids at or beyond 2**53, where float64 cannot tell "
                f"neighbouring integers apart (e.g. {array[np.argmax(np.abs(array))]!r}); pass "
                "them as int64 or strings"
            )
        return array.astype(np.int64)
    if kind == "U":
        return array
    if kind == "S":
        return _decode_utf8(array, column)
    if kind == "b":
        raise IdTypeError(f"{column} is boolean; ids must be integers or strings")
    if kind == "O":
        return _normalize_object_ids(array, column)
    raise IdTypeError(f"{column} has unsupported dtype {array.dtype}; use integers or strings")


def _decode_utf8(value: Any, column: str) -> Any:
    """Decode bytes ids (a scalar or an ``S`` array) as UTF-8, or raise IdTypeError."""
    try:
        return value.decode("utf-8") if isinstance(value, bytes) else np.char.decode(
            value, "utf-8"
        )
    except UnicodeDecodeError as exc:
        raise IdTypeError(
            f"{column} has bytes that are not valid UTF-8 ({exc}); decode them to str first"
        ) from exc


_TYPE_OF = np.frompyfunc(type, 1, 1)
_LEN_OF = np.frompyfunc(len, 1, 1)


def _all_plain_strings(array: np.ndarray) -> np.ndarray | None:
    """Fast path for text columns (pandas/pyarrow hand them over as object arrays).

    Returns the unicode array when every value is a ``str`` that numpy stores exactly
    (no trailing NUL), else ``None`` so the checking loop below reports the problem.
    """
    if not len(array) or not (_TYPE_OF(array) == str).all():  # noqa: E721 (vectorised)
        return None
    out = array.astype(str)
    if (_LEN_OF(array).astype(np.int64) != np.char.str_len(out)).any():
        return None
    return out


@dataclass(frozen=True)
class CodedIds:
    """Text ids as their distinct values and each row's code: the ids are
    ``distinct[codes]``. ``distinct`` is a normalised unicode array without repeats."""

    distinct: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def expand(self) -> np.ndarray:
        """One id per row (what :func:`normalize_ids` returns for the column)."""
        return self.distinct[self.codes]


def coded_text_ids(values: Any) -> CodedIds | None:
    """Fast path for a long pandas or pyarrow text id column: the column is factorized by
    its own library (a hash table in C) and only the few distinct values are checked and
    converted.

    Skips turning millions of rows into Python ``str`` objects (several seconds and GiB at
    10M rows). Returns None (the caller converts and checks every row, so its errors name
    the row) unless the column holds only plain strings and no missing values.
    """
    if isinstance(values, np.ndarray) or not hasattr(values, "__len__") \
            or len(values) < _FACTORIZE_MIN_ROWS:
        return None
    try:
        encoded = _encoded_text(values)
    except Exception:  # noqa: BLE001 - e.g. unhashable cells, an arrow type it cannot encode:
        return None  # the checked row-by-row path below handles (or reports) them
    if encoded is None:
        return None
    codes, distinct = encoded
    if codes.shape != (len(values),) or codes.dtype.kind not in "iu" or (codes < 0).any():
        return None  # missing values: the row-by-row check reports them
    plain = _all_plain_strings(distinct)
    return None if plain is None else CodedIds(plain, codes)


def _encoded_text(values: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, distinct values as objects)`` of a pandas text column or a pyarrow string
    array (duck-typed: neither library is imported), else None."""
    arrow_type = getattr(values, "type", None)
    if arrow_type is not None and hasattr(values, "dictionary_encode"):  # pyarrow
        if str(arrow_type) not in ("string", "large_string", "string_view") \
                or values.null_count:
            return None
        if hasattr(values, "combine_chunks"):  # one dictionary for the whole column
            values = values.combine_chunks()
        encoded = values.dictionary_encode()
        return np.asarray(encoded.indices), np.array(encoded.dictionary.to_pylist(), dtype=object)
    if getattr(getattr(values, "dtype", None), "kind", None) != "O" \
            or not hasattr(values, "factorize"):
        return None
    codes, uniques = values.factorize()  # pandas object, string or categorical column
    return np.asarray(codes), np.asarray(uniques, dtype=object)


def _normalize_object_ids(array: np.ndarray, column: str) -> np.ndarray:
    fast = _all_plain_strings(array)
    if fast is not None:
        return fast
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
        values = [_decode_utf8(v, column) if isinstance(v, bytes) else v for v in array]
        out = np.array(values, dtype=str)
        # numpy strings drop trailing NULs: "a\x00" would silently become the id "a"
        dropped = np.fromiter(map(len, values), np.int64, len(values)) != np.char.str_len(out)
        if dropped.any():
            i = int(np.argmax(dropped))
            raise IdTypeError(
                f"{column} value {values[i]!r} at row {i} ends with a NUL character, which "
                "numpy strings drop (it would become the same id as without it); strip it first"
            )
        return out
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
        return _datetime64_to_ns(array, column)
    if kind == "u" and array.size and array.max() > _INT64_MAX:
        raise TimestampTypeError(f"{column} has values above the int64 range")
    if kind in "iu":
        return array.astype(np.int64, copy=False)
    if kind == "f":
        array = array.astype(np.float64, copy=False)
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


def _out_of_ns_range(column: str) -> TimestampTypeError:
    return TimestampTypeError(
        f"{column} has datetimes outside 1678..2261, the range of datetime64[ns] that "
        "seqrec orders time in; use numeric timestamps (e.g. unix seconds) for such dates"
    )


def _datetime64_to_ns(array: np.ndarray, column: str) -> np.ndarray:
    """datetime64 of any unit -> int64 ns, refusing values that would wrap around."""
    unit = np.datetime_data(array.dtype)[0]
    if array.size and unit not in _FINER_THAN_NS and unit != "generic":
        lo, hi = (bound.astype(array.dtype) for bound in _NS_RANGE)
        if bool((array < lo).any() or (array > hi).any()):
            raise _out_of_ns_range(column)
    return array.astype("datetime64[ns]").view(np.int64)


def _datetimes_to_ns(array: np.ndarray, column: str) -> np.ndarray:
    """Python/pandas datetimes -> int64 ns since the epoch (aware ones via UTC)."""
    aware = [v.tzinfo is not None and v.utcoffset() is not None for v in array]
    if any(aware) and not all(aware):
        raise TimestampTypeError(
            f"{column} mixes timezone-aware and naive datetimes (e.g. row {aware.index(False)}"
            "); their order is ambiguous. Localize or convert them all to one timezone first"
        )
    out = np.empty(len(array), dtype=np.int64)
    for i, (v, tz) in enumerate(zip(array, aware, strict=True)):
        try:  # astimezone overflows for aware datetimes at the ends of years 1..9999
            naive = v.astimezone(_dt.timezone.utc).replace(tzinfo=None) if tz else v
        except (OverflowError, ValueError):
            raise _out_of_ns_range(column) from None
        ns = (naive - _EPOCH) // _ONE_US * 1000 + int(getattr(v, "nanosecond", 0))
        if not _INT64_MIN < ns <= _INT64_MAX:
            raise _out_of_ns_range(column)
        out[i] = ns
    return out


def _normalize_object_timestamps(array: np.ndarray, column: str) -> np.ndarray:
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    sample = array[0]
    if all(isinstance(v, _dt.datetime) for v in array):
        for i, v in enumerate(array):
            if _is_missing(v):  # pandas NaT is a datetime too
                raise MissingValueError(f"{column} has a missing value ({v!r}) at row {i}")
        return _datetimes_to_ns(array, column)
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
        try:
            return np.array(array, dtype=np.int64)
        except OverflowError as exc:
            raise TimestampTypeError(f"{column} has integers beyond the int64 range") from exc
    return normalize_timestamps(np.array(array, dtype=np.float64), column)
