"""Leave-one-out split: per user, the last interaction is the test target, the one
before it the validation target, everything earlier is training data.

How the three tables are used (see ``docs/evaluation.md``)::

    split = leave_one_out_split(interactions)
    model.train(interactions_ds=split.train, valid_interactions_ds=split.valid)
    evaluate(model, input_interactions=split.test_input, targets=split.test)

* ``train`` is everything the model learns from.
* ``valid`` holds one row per user with >= 3 interactions: the target whose input is
  that user's ``train`` rows. The trainer only scores it (early stopping, model
  selection); it never trains on it.
* ``test`` holds one row per such user: the target whose input is ``test_input``, the
  user's ``train`` rows plus the ``valid`` row (everything before the test item).
  Nothing of a test row appears in ``train``, ``valid`` or ``test_input``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from seqrec_runtime.errors import EmptyInputError
from seqrec_runtime.sequences import sort_order
from seqrec_runtime.table import (
    ITEM_ID,
    OUTCOME,
    TIMESTAMP,
    USER_ID,
    get_columns,
    normalize_ids,
    normalize_timestamps,
)

Table = dict[str, np.ndarray]

#: Users with fewer interactions than this are training-only.
MIN_INTERACTIONS_FOR_EVAL = 3


class LeaveOneOutSplit(NamedTuple):
    """Result of :func:`leave_one_out_split`; unpacks as ``train, valid, test``.

    Attributes
    ----------
    train, valid, test
        Tables (dict column -> numpy array) with USER_ID, ITEM_ID, TIMESTAMP and, when
        the input had it, OUTCOME. Rows are sorted by (USER_ID, TIMESTAMP), ties in input
        order.
    """

    train: Table
    valid: Table
    test: Table

    @property
    def test_input(self) -> Table:
        """Input history of the test targets: ``train`` + ``valid`` rows, in order."""
        return concat_histories(self.train, self.valid)

    @property
    def valid_input(self) -> Table:
        """Input history of the validation targets: the ``train`` rows."""
        return self.train


def _read(interactions: Any) -> Table:
    cols = get_columns(interactions, [USER_ID, ITEM_ID, TIMESTAMP], [OUTCOME])
    if len(cols[USER_ID]) == 0:
        raise EmptyInputError("interactions has no rows; cannot split an empty table")
    table = {
        USER_ID: normalize_ids(cols[USER_ID], USER_ID),
        ITEM_ID: normalize_ids(cols[ITEM_ID], ITEM_ID),
        TIMESTAMP: normalize_timestamps(cols[TIMESTAMP], TIMESTAMP),
    }
    if OUTCOME in cols:
        table[OUTCOME] = cols[OUTCOME]
    return table


def _take(table: Table, rows: np.ndarray) -> Table:
    return {name: values[rows] for name, values in table.items()}


def positions_from_end(user_codes_sorted: np.ndarray) -> np.ndarray:
    """For rows grouped by user (sorted codes ``0..n-1``), ``0`` for each user's last
    row, ``1`` for the one before, and so on."""
    counts = np.bincount(user_codes_sorted)
    ends = np.cumsum(counts)
    return ends[user_codes_sorted] - 1 - np.arange(len(user_codes_sorted))


def leave_one_out_split(interactions: Any) -> LeaveOneOutSplit:
    """Split interactions per user into train, validation and test rows.

    Rows are sorted stably by (USER_ID, TIMESTAMP): rows of one user with equal
    timestamps keep their input order, so the later one in the input counts as later.
    For a user with ``n >= 3`` rows, rows ``0..n-3`` go to ``train``, row ``n-2`` to
    ``valid`` and row ``n-1`` to ``test``. Users with ``n < 3`` rows are training-only.

    Parameters
    ----------
    interactions
        dict / pandas DataFrame / pyarrow Table with USER_ID, ITEM_ID, TIMESTAMP and
        optionally OUTCOME (carried along). Other columns are dropped.

    Returns
    -------
    LeaveOneOutSplit
        ``(train, valid, test)`` plus the ``test_input`` property (train + valid).

    Raises
    ------
    SchemaError, MissingValueError, IdTypeError, TimestampTypeError, EmptyInputError
    """
    table = _read(interactions)
    _, user_codes = np.unique(table[USER_ID], return_inverse=True)
    user_codes = user_codes.reshape(-1)
    order = sort_order(user_codes, table[TIMESTAMP])
    table = _take(table, order)
    codes = user_codes[order]
    from_end = positions_from_end(codes)
    n_rows = np.bincount(codes)[codes]
    held_out = n_rows >= MIN_INTERACTIONS_FOR_EVAL
    is_test = held_out & (from_end == 0)
    is_valid = held_out & (from_end == 1)
    is_train = ~(is_test | is_valid)
    return LeaveOneOutSplit(
        train=_take(table, np.flatnonzero(is_train)),
        valid=_take(table, np.flatnonzero(is_valid)),
        test=_take(table, np.flatnonzero(is_test)),
    )


def concat_histories(*tables: Table) -> Table:
    """Concatenate tables and regroup rows by user, keeping each table's row order.

    Rows are ordered stably by USER_ID only: within a user, the rows of the first
    table come first, then those of the second, and so on. For ``(train, valid)`` of a
    split this is exactly the (USER_ID, TIMESTAMP) order of the original rows.
    """
    names = [n for n in tables[0] if all(n in t for t in tables)]
    merged = {n: np.concatenate([t[n] for t in tables]) for n in names}
    order = np.argsort(merged[USER_ID], kind="stable")
    return _take(merged, order)
