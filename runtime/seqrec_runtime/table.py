"""Column access and value normalisation for interaction tables (one import for all).

The work is split by concern: :mod:`.columns` (reading columns from a dict, DataFrame or
pyarrow Table), :mod:`.ids` (USER_ID / ITEM_ID values), :mod:`.timestamps` (TIMESTAMP
values) and :mod:`.coded_ids` (long text id columns grouped by their own library). This
module re-exports their public names.
"""

from __future__ import annotations

from .coded_ids import FACTORIZE_MIN_ROWS, CodedIds, coded_text_ids
from .columns import (
    ITEM_ID,
    OUTCOME,
    TIMESTAMP,
    USER_ID,
    as_array,
    column_names,
    column_values,
    get_columns,
)
from .ids import normalize_ids
from .timestamps import normalize_timestamps

__all__ = [
    "FACTORIZE_MIN_ROWS",
    "ITEM_ID",
    "OUTCOME",
    "TIMESTAMP",
    "USER_ID",
    "CodedIds",
    "as_array",
    "coded_text_ids",
    "column_names",
    "column_values",
    "get_columns",
    "normalize_ids",
    "normalize_timestamps",
]
