"""What an evaluation reads: the model's columns, the input histories, the targets.

Helpers of :mod:`.protocols`: item id -> score column lookup, the input table grouped by
user, one target row per user, and one batch of users scored by a duck-typed model (see
:mod:`.protocols` for the model contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from seqrec_runtime.errors import (
    EmptyInputError,
    IdTypeError,
    InvalidParameterTypeError,
    SchemaError,
)
from seqrec_runtime.table import (
    ITEM_ID,
    OUTCOME,
    TIMESTAMP,
    USER_ID,
    get_columns,
    normalize_ids,
    normalize_timestamps,
)
from seqrec_runtime.vocabulary import id_dtype_name


class ColumnLookup:
    """Item id -> score column index (``-1`` when unknown)."""

    def __init__(self, item_ids: np.ndarray) -> None:
        self.ids = item_ids
        self.sorter = np.argsort(item_ids, kind="stable")
        self.sorted = item_ids[self.sorter]
        if len(item_ids) > 1 and np.any(self.sorted[1:] == self.sorted[:-1]):
            raise SchemaError("model.item_ids_ holds duplicate item ids")

    def columns(self, ids: np.ndarray, column: str = ITEM_ID) -> np.ndarray:
        """Score column of each id, ``-1`` for ids the model does not know."""
        if len(ids) and len(self.ids) and id_dtype_name(ids) != id_dtype_name(self.ids):
            raise IdTypeError(
                f"{column} values are {id_dtype_name(ids)} but the model's item ids are "
                f"{id_dtype_name(self.ids)}; convert them to the same type"
            )
        if len(ids) == 0 or len(self.ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted, ids), len(self.sorted) - 1)
        found = self.sorted[pos] == ids
        return np.where(found, self.sorter[pos], -1).astype(np.int64)



def check_model(model: Any) -> np.ndarray:
    """The model's item ids, after checking it has ``item_ids_`` and ``score_items``."""
    if not callable(getattr(model, "score_items", None)) or not hasattr(model, "item_ids_"):
        raise InvalidParameterTypeError(
            "model must have an item_ids_ array and a score_items(interactions, "
            f"return_user_ids=True) method; got {type(model).__name__}"
        )
    return normalize_ids(np.asarray(model.item_ids_), "model.item_ids_")



@dataclass
class EvaluationInput:
    """The input table, with its rows ordered by user and their score columns."""

    users: np.ndarray  # normalised user ids, sorted (stable)
    order: np.ndarray  # row order that sorts the input by user
    columns: dict[str, np.ndarray]
    item_cols: np.ndarray  # score column per input row (-1 unknown), in input order


def read_input(input_interactions: Any, lookup: ColumnLookup) -> EvaluationInput:
    """Read USER_ID, ITEM_ID, TIMESTAMP (and OUTCOME) rows, grouped by user (stable)."""
    cols = get_columns(input_interactions, [USER_ID, ITEM_ID, TIMESTAMP], [OUTCOME])
    table = {
        USER_ID: normalize_ids(cols[USER_ID], USER_ID),
        ITEM_ID: normalize_ids(cols[ITEM_ID], ITEM_ID),
        TIMESTAMP: normalize_timestamps(cols[TIMESTAMP], TIMESTAMP),
    }
    if OUTCOME in cols:
        table[OUTCOME] = cols[OUTCOME]
    order = np.argsort(table[USER_ID], kind="stable")
    return EvaluationInput(table[USER_ID][order], order, table, lookup.columns(table[ITEM_ID]))


def read_targets(targets: Any) -> tuple[np.ndarray, np.ndarray]:
    """Users (sorted) and their target items; one row per user, else SchemaError."""
    cols = get_columns(targets, [USER_ID, ITEM_ID])
    if len(cols[USER_ID]) == 0:
        raise EmptyInputError("targets has no rows; pass one (USER_ID, ITEM_ID) row per user")
    users = normalize_ids(cols[USER_ID], USER_ID)
    items = normalize_ids(cols[ITEM_ID], ITEM_ID)
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    dup = np.flatnonzero(users[1:] == users[:-1])
    if len(dup):
        raise SchemaError(
            f"targets must hold one row per user; USER_ID {users[dup[0]]!r} has several"
        )
    return users, items


def score_batch(
    model: Any, data: EvaluationInput, users: np.ndarray, lo: np.ndarray, hi: np.ndarray,
    n_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(b, n_items)`` in ``users`` order and the seen mask of each user."""
    lengths = hi - lo
    offsets = np.cumsum(lengths) - lengths
    sorted_rows = np.arange(int(lengths.sum())) + np.repeat(lo - offsets, lengths)
    rows = data.order[sorted_rows]
    batch = {name: values[rows] for name, values in data.columns.items()}
    out_users, scores = model.score_items(batch, return_user_ids=True)
    scores = np.asarray(scores)
    out_users = normalize_ids(np.asarray(out_users), USER_ID)
    if scores.ndim != 2 or scores.shape != (len(out_users), n_items):
        raise SchemaError(
            f"model.score_items returned scores of shape {scores.shape}; expected "
            f"({len(out_users)}, {n_items}) (one row per returned user, one column per item)"
        )
    sorter = np.argsort(out_users, kind="stable")
    pos = np.minimum(np.searchsorted(out_users[sorter], users), max(len(out_users) - 1, 0))
    found = out_users[sorter][pos] == users if len(out_users) else np.zeros(len(users), bool)
    if not found.all():
        missing = users[np.flatnonzero(~found)[0]]
        raise SchemaError(f"model.score_items returned no scores for USER_ID {missing!r}")
    seen = np.zeros((len(users), n_items), dtype=bool)
    user_row = np.repeat(np.arange(len(users)), lengths)
    item_cols = data.item_cols[rows]
    known = item_cols >= 0
    seen[user_row[known], item_cols[known]] = True
    return scores[sorter[pos]], seen
