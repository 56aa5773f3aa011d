"""Id columns (USER_ID, ITEM_ID) as ``int64`` or unicode ``str`` arrays.

``3`` and ``3.0`` are the same id; ``"3"`` is a different *type* and mixing it with numbers
is an error, as are floats with a fractional part, booleans and missing values.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .coded_ids import all_plain_strings
from .columns import as_array, finite_floats, first_bad, is_missing
from .errors import IdTypeError, MissingValueError

_INT64_MAX = int(np.iinfo(np.int64).max)
_FLOAT_EXACT = 2.0**53  # every integer up to this is exact in float64


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
        array = finite_floats(array, column)
        frac = array != np.floor(array)
        if frac.any():
            raise IdTypeError(
                f"{column} holds floats with a fractional part in {first_bad(frac, array)}; "
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
        return decode_utf8(array, column)
    if kind == "b":
        raise IdTypeError(f"{column} is boolean; ids must be integers or strings")
    if kind == "O":
        return _normalize_object_ids(array, column)
    raise IdTypeError(f"{column} has unsupported dtype {array.dtype}; use integers or strings")


def decode_utf8(value: Any, column: str) -> Any:
    """Decode bytes ids (a scalar or an ``S`` array) as UTF-8, or raise IdTypeError."""
    try:
        return value.decode("utf-8") if isinstance(value, bytes) else np.char.decode(
            value, "utf-8"
        )
    except UnicodeDecodeError as exc:
        raise IdTypeError(
            f"{column} has bytes that are not valid UTF-8 ({exc}); decode them to str first"
        ) from exc


def _normalize_object_ids(array: np.ndarray, column: str) -> np.ndarray:
    fast = all_plain_strings(array)
    if fast is not None:
        return fast
    types: set[type] = set()
    for i, v in enumerate(array):
        if isinstance(v, str):
            types.add(str)
        elif isinstance(v, (bool, np.bool_)):
            raise IdTypeError(f"{column} has a boolean value at row {i}; ids must be int or str")
        elif isinstance(v, numbers.Integral):
            types.add(int)
        elif is_missing(v):
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
        values = [decode_utf8(v, column) if isinstance(v, bytes) else v for v in array]
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
