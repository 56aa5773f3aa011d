"""The TIMESTAMP column as ``int64`` (integers, and datetimes as nanoseconds since the
epoch) or ``float64``. Text is refused: it would sort as text, not as time.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from typing import Any

import numpy as np

from .columns import TIMESTAMP, as_array, finite_floats, first_bad, is_missing
from .errors import MissingValueError, TimestampTypeError

_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
#: datetime64 values of coarser units are range-checked against these before becoming ns
_NS_RANGE = (np.datetime64("1678-01-01", "D"), np.datetime64("2262-01-01", "D"))
_FINER_THAN_NS = ("ns", "ps", "fs", "as")
_EPOCH = _dt.datetime(1970, 1, 1)
_ONE_US = _dt.timedelta(microseconds=1)


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
            raise MissingValueError(f"{column} has NaT in {first_bad(bad, array)}")
        return _datetime64_to_ns(array, column)
    if kind == "u" and array.size and array.max() > _INT64_MAX:
        raise TimestampTypeError(f"{column} has values above the int64 range")
    if kind in "iu":
        return array.astype(np.int64, copy=False)
    if kind == "f":
        return finite_floats(array, column)
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
            if is_missing(v):  # pandas NaT is a datetime too
                raise MissingValueError(f"{column} has a missing value ({v!r}) at row {i}")
        return _datetimes_to_ns(array, column)
    if isinstance(sample, (str, bytes, np.str_)) or any(isinstance(v, (str, bytes)) for v in array):
        raise TimestampTypeError(
            f"{column} holds text (e.g. {sample!r}); text sorts as text, not as time. "
            "Parse it first, e.g. pandas.to_datetime(df.TIMESTAMP) or int unix seconds."
        )
    for i, v in enumerate(array):
        if is_missing(v):
            raise MissingValueError(f"{column} has a missing value ({v!r}) at row {i}")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TimestampTypeError(f"{column} has a {type(v).__name__} value at row {i}")
    if all(isinstance(v, numbers.Integral) for v in array):
        try:
            return np.array(array, dtype=np.int64)
        except OverflowError as exc:
            raise TimestampTypeError(f"{column} has integers beyond the int64 range") from exc
    return normalize_timestamps(np.array(array, dtype=np.float64), column)
