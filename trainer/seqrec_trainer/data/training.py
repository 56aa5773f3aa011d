"""From validated interaction columns to training sequences and honest validation targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from seqrec_runtime.errors import InvalidParameterError
from seqrec_runtime.sequences import build_sequences, factorize, sort_order
from seqrec_runtime.table import ITEM_ID, OUTCOME, TIMESTAMP, USER_ID, CodedIds
from seqrec_runtime.vocabulary import ItemVocabulary
from seqrec_runtime.warn import warn

from ..errors import NotEnoughDataError
from ..estimator.training import TrainingData, ValidationData
from .windows import all_windows

logger = logging.getLogger("seqrec")


@dataclass
class PreparedData:
    """Everything ``fit`` needs, plus counts for the training summary."""

    train: TrainingData
    valid: ValidationData | None
    popularity: np.ndarray
    summary: dict[str, int]
    histories: tuple[np.ndarray, np.ndarray] | None = None
    """``(user_code, item_index)`` of every training row (the item prior's co-occurrences)."""


def build_vocabulary(interactions: dict[str, Any], items: dict[str, np.ndarray] | None):
    """Sorted union of interaction items and catalogue items (same id type required)."""
    return vocabulary_and_index(interactions, items)[0]


def vocabulary_and_index(
    interactions: dict[str, Any], items: dict[str, np.ndarray] | None
) -> tuple[ItemVocabulary, np.ndarray]:
    """:func:`build_vocabulary` and each interaction row's model index.

    The index equals ``vocabulary.encode(interactions[ITEM_ID])``; it comes from the same
    grouping of the ids that builds the vocabulary, so the ids are not looked up twice.
    ``interactions[ITEM_ID]`` may be :class:`~seqrec_runtime.table.CodedIds` (ids grouped
    by pandas/pyarrow already): then only its distinct ids are grouped.
    """
    ids = interactions[ITEM_ID]
    distinct, row_codes = (ids.distinct, ids.codes) if isinstance(ids, CodedIds) else (ids, None)
    combined = distinct
    if items is not None:
        extra = items[ITEM_ID]
        ItemVocabulary(distinct[:1]).check_same_type(extra, "items_ds ITEM_ID")
        combined = np.concatenate([distinct, extra])
    uniques, codes = factorize(combined)
    vocabulary = ItemVocabulary(uniques)
    codes = codes[: len(distinct)]
    if row_codes is not None:
        codes = codes[row_codes]
    codes += 1  # model indices start at 1 (0 is padding); codes is a fresh array
    return vocabulary, codes


def _validation_cut(
    su: np.ndarray, sorted_rows: np.ndarray, index: np.ndarray, timestamps: np.ndarray,
    valid_user: np.ndarray, valid_index: np.ndarray, valid_time: np.ndarray, n_users: int,
) -> np.ndarray:
    """Per sorted row: True when it stays in training given each user's validation event.

    For a user with a validation interaction at time ``t``, training keeps only rows that
    come before it: rows with TIMESTAMP < t, and — when the validation row itself is in
    the training table — tied rows that precede its first copy in the stable sort.
    ``su`` is the user code of each sorted row (ascending).
    """
    st = timestamps[sorted_rows]
    si = index[sorted_rows]
    has_valid = np.zeros(n_users, dtype=bool)
    has_valid[valid_user] = True
    vt = np.zeros(n_users, dtype=timestamps.dtype)
    vt[valid_user] = valid_time.astype(timestamps.dtype, copy=False)
    vi = np.zeros(n_users, dtype=np.int64)
    vi[valid_user] = valid_index

    starts = np.searchsorted(su, np.arange(n_users))
    position = np.arange(len(su)) - starts[su]
    cut = np.bincount(su, weights=(st < vt[su]), minlength=n_users).astype(np.int64)
    exact = np.flatnonzero(has_valid[su] & (st == vt[su]) & (si == vi[su]))
    if len(exact):
        users_with_copy, first = np.unique(su[exact], return_index=True)
        cut[users_with_copy] = position[exact[first]]
    return ~has_valid[su] | (position < cut[su])


def prepare(
    interactions: dict[str, Any],
    valid: dict[str, np.ndarray] | None,
    vocabulary: ItemVocabulary,
    max_len: int,
    history_windows: str = "last",
    item_index: np.ndarray | None = None,
) -> PreparedData:
    """Build ``(n, max_len + 1)`` training sequences and validation inputs/targets.

    Rows are sorted stably by (USER_ID, TIMESTAMP) (ties keep input order) and the last
    ``max_len + 1`` per user are kept (``history_windows="all"``: plus earlier windows, see
    :mod:`.windows`). A validation target is never a training target: each validated user's
    training rows stop before the validation interaction. ``item_index`` (optional) is
    ``vocabulary.encode(interactions[ITEM_ID])`` when the caller already has it
    (:func:`vocabulary_and_index`). The id columns may be
    :class:`~seqrec_runtime.table.CodedIds`.
    """
    users, user_codes = factorize(interactions[USER_ID])
    index = vocabulary.encode(interactions[ITEM_ID]) if item_index is None else item_index
    timestamps = interactions[TIMESTAMP]
    kept = sort_order(user_codes, timestamps)
    # the sort groups rows by user code, so the sorted rows' codes are runs of 0, 1, ...
    kept_users = np.repeat(
        np.arange(len(users)), np.bincount(user_codes, minlength=len(users))
    )
    del user_codes  # no longer needed: free it before the padded matrices are built
    valid_data = None
    n_valid_dropped = 0
    if valid is not None:
        valid_user, valid_index, valid_time, valid_outcome, n_valid_dropped = _match_validation(
            valid, users, vocabulary
        )
        if valid_time.dtype.kind != timestamps.dtype.kind and not (
            valid_time.dtype.kind in "if" and timestamps.dtype.kind in "if"
        ):
            raise InvalidParameterError("validation TIMESTAMP type differs from training")
        if valid_time.dtype != timestamps.dtype:
            timestamps = timestamps.astype(np.float64)
            valid_time = valid_time.astype(np.float64)
        stay = _validation_cut(
            kept_users, kept, index, timestamps, valid_user, valid_index, valid_time, len(users)
        )
        kept, kept_users = kept[stay], kept_users[stay]
    kept_index = index[kept]  # rows in (user, time) order
    outcome = interactions.get(OUTCOME)
    aligned = {OUTCOME: outcome[kept]} if outcome is not None else None
    n_kept = len(kept)
    del kept
    seqs = build_sequences(kept_users, kept_index, None, max_len + 1, aligned, presorted=True)
    # build_sequences re-numbers users among those with kept rows; map back for validation
    has_target = seqs.lengths >= 2
    if not has_target.any():
        raise NotEnoughDataError(
            "no user has 2 or more interactions before their validation item, so there is "
            "no (history, next item) pair to train on; pass longer histories"
        )
    if valid is not None:
        row = np.minimum(np.searchsorted(seqs.user_ids, valid_user), len(seqs.user_ids) - 1)
        usable = (seqs.user_ids[row] == valid_user) & (seqs.lengths[row] > 0)
        if not usable.all():
            warn(
                f"{int((~usable).sum())} validation user(s) have no training history before "
                "their validation item; they are left out of validation",
                UserWarning,
            )
        if not usable.any():
            raise NotEnoughDataError(
                "no validation row is usable (unknown items or users without earlier "
                "interactions); check valid_interactions_ds"
            )
        valid_data = ValidationData(
            inputs=seqs.items[row[usable], 1:],
            targets=valid_index[usable],
            outcomes=valid_outcome[usable] if valid_outcome is not None else None,
        )
    popularity = np.bincount(kept_index, minlength=len(vocabulary) + 1)[1:].astype(np.float64)
    popularity = (popularity / max(popularity.sum(), 1.0)).astype(np.float32)
    if history_windows == "all":
        known = kept_index != 0
        windows, aligned_windows = all_windows(
            kept_users[known],
            kept_index[known],
            max_len + 1,
            {name: values[known] for name, values in (aligned or {}).items()},
        )
        train = TrainingData(sequences=windows, outcomes=aligned_windows.get(OUTCOME))
    else:
        every = has_target.all()  # then the matrices are used as they are, not copied
        train = TrainingData(
            sequences=seqs.items if every else seqs.items[has_target],
            outcomes=None if outcome is None else
            seqs.aligned[OUTCOME] if every else seqs.aligned[OUTCOME][has_target],
        )
    summary = {
        "n_interactions": int(len(index)),
        "n_train_rows_used": int(n_kept),
        "n_users": int(len(users)),
        "n_train_sequences": int(len(train.sequences)),
        "n_items": int(len(vocabulary)),
        "n_valid_targets": int(len(valid_data.targets)) if valid_data is not None else 0,
        "n_valid_dropped": int(n_valid_dropped),
    }
    histories = (kept_users, kept_index)
    return PreparedData(train, valid_data, popularity, summary, histories)


def _match_validation(valid: dict[str, np.ndarray], users: np.ndarray, vocabulary: ItemVocabulary):
    """Map validation rows to training user codes and item indices; one row per user."""
    vocabulary.check_same_type(valid[ITEM_ID], "valid ITEM_ID")
    if len(valid[USER_ID]) and len(users) and (valid[USER_ID].dtype.kind == "U") != (
        users.dtype.kind == "U"
    ):
        raise InvalidParameterError(
            "valid_interactions_ds USER_ID type differs from interactions_ds USER_ID type"
        )
    vu, counts = np.unique(valid[USER_ID], return_counts=True)
    if (counts > 1).any():
        raise InvalidParameterError(
            f"valid_interactions_ds must hold at most one row per user (the held-out next "
            f"item); user {vu[np.argmax(counts)]!r} has {counts.max()} rows"
        )
    pos = np.searchsorted(users, valid[USER_ID])
    pos = np.minimum(pos, len(users) - 1)
    known_user = users[pos] == valid[USER_ID]
    valid_index = vocabulary.encode(valid[ITEM_ID])
    usable = known_user & (valid_index > 0)
    dropped = int((~usable).sum())
    if dropped:
        warn(
            f"{dropped} validation row(s) have a user or item never seen in training; "
            "they are left out of validation",
            UserWarning,
        )
    outcome = valid.get(OUTCOME)
    return (
        pos[usable],
        valid_index[usable],
        valid[TIMESTAMP][usable],
        outcome[usable] if outcome is not None else None,
        dropped,
    )
