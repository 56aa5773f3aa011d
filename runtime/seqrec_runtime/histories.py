"""From a raw interactions table to model-ready histories (shared by trainer and runtime)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .errors import EmptyInputError
from .hashing import sort_distinct
from .sequences import Sequences, build_sequences
from .table import (
    ITEM_ID,
    TIMESTAMP,
    USER_ID,
    CodedIds,
    get_columns,
    normalize_ids,
    normalize_timestamps,
)
from .vocabulary import ItemVocabulary
from .warn import warn

logger = logging.getLogger("seqrec")


class ColdUserWarning(UserWarning):
    """Some users have no known item in their history; they get the popularity fallback."""


def read_histories(interactions: Any, vocabulary: ItemVocabulary, max_len: int) -> Sequences:
    """Validate ``interactions`` and build each user's last ``max_len`` known items.

    Parameters
    ----------
    interactions
        dict / pandas DataFrame / pyarrow Table with USER_ID, ITEM_ID, TIMESTAMP
        (other columns, such as OUTCOME, are ignored).
    vocabulary
        The model's item vocabulary; unknown items are skipped.
    max_len
        Number of most recent known items kept per user.

    Raises
    ------
    SchemaError, MissingValueError, IdTypeError, TimestampTypeError, EmptyInputError
    """
    cols = get_columns(interactions, [USER_ID, ITEM_ID, TIMESTAMP], coded_ids=True)
    if len(cols[USER_ID]) == 0:
        raise EmptyInputError("interactions has no rows; pass at least one (user, item) row")
    users, user_codes = cols[USER_ID], None
    if isinstance(users, CodedIds):  # grouped by pandas/pyarrow already
        users, user_codes = sort_distinct(users.distinct, users.codes)
    else:
        users = normalize_ids(users, USER_ID)
    items = cols[ITEM_ID]
    if not isinstance(items, CodedIds):  # CodedIds: each distinct item is looked up once
        items = normalize_ids(items, ITEM_ID)
    timestamps = normalize_timestamps(cols[TIMESTAMP], TIMESTAMP)
    index = vocabulary.encode(items)
    n_unknown = int(np.count_nonzero(index == 0))
    if n_unknown:
        logger.info("skipping %d interaction(s) with items unknown to the model", n_unknown)
    seqs = build_sequences(users, index, timestamps, max_len, user_codes=user_codes)
    cold = seqs.lengths == 0
    if cold.any():
        warn(
            f"{int(cold.sum())} user(s) have no item known to the model (e.g. USER_ID "
            f"{seqs.user_ids[np.flatnonzero(cold)[0]].item()!r}); they get the popularity fallback",
            ColdUserWarning,
        )
    return seqs
