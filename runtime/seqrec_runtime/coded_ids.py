"""Long text id columns as their own library grouped them: distinct values + codes.

pandas (``factorize``) and pyarrow (``dictionary_encode``) group a text column in C; only
its few distinct values are then checked and converted, instead of one Python ``str`` per
row. Neither library is imported here (duck typing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Below this many rows, converting every row is as fast as factorizing.
FACTORIZE_MIN_ROWS = 4096

_TYPE_OF = np.frompyfunc(type, 1, 1)
_LEN_OF = np.frompyfunc(len, 1, 1)


def all_plain_strings(array: np.ndarray) -> np.ndarray | None:
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
            or len(values) < FACTORIZE_MIN_ROWS:
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
    plain = all_plain_strings(distinct)
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
