"""Baselines scored on the same split as a model: popularity, item-item and transitions.

All are duck-typed models for :func:`~seqrec_trainer.evaluation.evaluate` (``item_ids_``
and ``score_items(interactions, return_user_ids=True)``), fitted on the rows a model was
trained on and scored from the same input histories, so their numbers sit beside the
model's on equal terms:

* :class:`PopularityBaseline` ranks every item by its number of training users.
* :class:`ItemItemBaseline` scores ``h @ B`` for the user's history indicator ``h``, with
  ``B`` the EASE matrix (Steck 2019) for catalogues up to
  :data:`~seqrec_trainer.model.item_prior.MAX_PRIOR_ITEMS` items and the low-rank ridge item
  autoencoder beyond (the same closed forms as the model's item prior,
  :mod:`seqrec_trainer.model.item_prior`).
* :class:`TransitionsBaseline` scores the neighbours of the user's most recent items among
  the items that sit near each other in training histories (the ``"transitions"`` item
  prior, :mod:`seqrec_trainer.model.transition_prior`): the one order-aware baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from seqrec_runtime.sequences import sort_order
from seqrec_runtime.table import (
    ITEM_ID,
    TIMESTAMP,
    USER_ID,
    get_columns,
    normalize_ids,
    normalize_timestamps,
)

from ..model.item_prior import (
    MAX_PRIOR_ITEMS,
    cooccurrence_gram,
    ease_matrix,
    low_rank_ridge,
)
from ..model.transition_prior import (
    NEIGHBORS,
    RECENCY_DECAY,
    RECENT_ITEMS,
    TRANSITION_DECAY,
    TRANSITION_WINDOW,
    transition_neighbors,
    transition_scores_numpy,
)

Table = dict[str, np.ndarray]

#: Default ridge ``lambda`` of the item-item baseline (the EASE paper's value).
DEFAULT_L2 = 500.0
#: Width of the low-rank item-item baseline beyond :data:`MAX_PRIOR_ITEMS` items.
DEFAULT_RANK = 256


def _users_and_items(interactions: Any) -> tuple[np.ndarray, np.ndarray]:
    cols = get_columns(interactions, [USER_ID, ITEM_ID], [])
    return normalize_ids(cols[USER_ID], USER_ID), normalize_ids(cols[ITEM_ID], ITEM_ID)


class _Baseline:
    """Shared vocabulary handling: item ids sorted, unknown history items ignored."""

    name = "baseline"
    #: One line saying what the baseline is (set when fitted).
    description = ""
    item_ids_: np.ndarray

    def _columns(self, items: np.ndarray) -> np.ndarray:
        """0-based column of each item, -1 for items outside the training catalogue."""
        pos = np.searchsorted(self.item_ids_, items)
        pos = np.minimum(pos, len(self.item_ids_) - 1)
        return np.where(self.item_ids_[pos] == items, pos, -1)

    def _history_matrix(self, interactions: Any) -> tuple[np.ndarray, np.ndarray]:
        """Distinct users and their 0/1 history indicators ``(n_users, n_items)``."""
        users, items = _users_and_items(interactions)
        user_ids, user_rows = np.unique(users, return_inverse=True)
        columns = self._columns(items)
        known = columns >= 0
        history = np.zeros((len(user_ids), len(self.item_ids_)), dtype=np.float32)
        history[user_rows[known], columns[known]] = 1.0
        return user_ids, history

    def _scores(self, history: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_items(self, interactions: Any, return_user_ids: bool = False):
        """Scores ``(n_users, n_items)`` in ``item_ids_`` order (seen items not removed)."""
        user_ids, history = self._history_matrix(interactions)
        scores = self._scores(history).astype(np.float32, copy=False)
        return (user_ids, scores) if return_user_ids else scores


class PopularityBaseline(_Baseline):
    """Every user gets the items ranked by how many training users interacted with them.

    Parameters
    ----------
    train
        USER_ID, ITEM_ID table of the training rows.
    """

    name = "popularity"

    def __init__(self, train: Any) -> None:
        users, items = _users_and_items(train)
        self.item_ids_, columns = np.unique(items, return_inverse=True)
        pairs = np.unique(np.stack([np.unique(users, return_inverse=True)[1], columns]), axis=1)
        self.counts_ = np.bincount(pairs[1], minlength=len(self.item_ids_)).astype(np.float32)
        self.description = "training users per item"

    def _scores(self, history: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts_, history.shape).copy()


class ItemItemBaseline(_Baseline):
    """EASE (up to ``MAX_PRIOR_ITEMS`` items) or its low-rank form (beyond) on the histories.

    Parameters
    ----------
    train
        USER_ID, ITEM_ID table of the training rows.
    l2
        Ridge ``lambda`` (default :data:`DEFAULT_L2`).
    kind
        ``"auto"`` (default): ``"ease"`` while the catalogue has at most
        ``MAX_PRIOR_ITEMS`` items, ``"low_rank"`` beyond; or either one explicitly.
    rank
        Width of the ``"low_rank"`` form.
    """

    name = "item-item"

    def __init__(self, train: Any, l2: float = DEFAULT_L2, kind: str = "auto",
                 rank: int = DEFAULT_RANK) -> None:
        users, items = _users_and_items(train)
        self.item_ids_, columns = np.unique(items, return_inverse=True)
        user_codes = np.unique(users, return_inverse=True)[1]
        n_items = len(self.item_ids_)
        if kind == "auto":
            kind = "ease" if n_items <= MAX_PRIOR_ITEMS else "low_rank"
        self.kind = kind
        self.weights_: np.ndarray | None = None
        self.factors_: np.ndarray | None = None
        if kind == "ease":
            gram = cooccurrence_gram(user_codes, columns + 1, n_items)
            self.weights_ = ease_matrix(gram, l2).astype(np.float32)
            self.description = f"EASE item-item, lambda {l2:g}"
        else:
            factors, scales = low_rank_ridge(user_codes, columns + 1, n_items, rank, l2)
            self.factors_ = factors.astype(np.float32)
            self.scales_ = scales.astype(np.float32)
            # Diagonal of V diag(s) V^T, removed like EASE's zero diagonal.
            self.diagonal_ = ((factors**2) @ scales).astype(np.float32)
            self.description = f"low-rank ridge item-item, rank {rank}, lambda {l2:g}"

    def _scores(self, history: np.ndarray) -> np.ndarray:
        if self.weights_ is not None:
            return history @ self.weights_
        assert self.factors_ is not None
        projected = (history @ self.factors_) * self.scales_
        return projected @ self.factors_.T - history * self.diagonal_


def _chronological(interactions: Any) -> tuple[np.ndarray, np.ndarray]:
    """Users and items sorted by (user, TIMESTAMP); without TIMESTAMP, in row order."""
    cols = get_columns(interactions, [USER_ID, ITEM_ID], [TIMESTAMP])
    users = normalize_ids(cols[USER_ID], USER_ID)
    items = normalize_ids(cols[ITEM_ID], ITEM_ID)
    codes = np.unique(users, return_inverse=True)[1]
    if cols.get(TIMESTAMP) is None:
        order = np.argsort(codes, kind="stable")
    else:
        order = sort_order(codes, normalize_timestamps(cols[TIMESTAMP]))
    return users[order], items[order]


class TransitionsBaseline(_Baseline):
    """The items near the user's most recent ones in training histories, alone.

    The model's ``"transitions"`` item prior without the network
    (:mod:`seqrec_trainer.model.transition_prior`); rows are read in TIMESTAMP order
    (row order without it).

    Parameters
    ----------
    train
        USER_ID, ITEM_ID (and TIMESTAMP) table of the training rows.
    neighbors, window, decay, recent_items, recency_decay
        The prior's settings (default: the library's constants, which the model's prior
        uses); other values serve studies of those settings.
    """

    name = "transitions"

    def __init__(self, train: Any, neighbors: int = NEIGHBORS,
                 window: int = TRANSITION_WINDOW, decay: float = TRANSITION_DECAY,
                 recent_items: int = RECENT_ITEMS, recency_decay: float = RECENCY_DECAY,
                 ) -> None:
        users, items = _chronological(train)
        self.item_ids_, columns = np.unique(items, return_inverse=True)
        rows = np.unique(users, return_inverse=True)[1]
        self.indices_, self.weights_ = transition_neighbors(
            rows, columns + 1, len(self.item_ids_), neighbors, window, decay)
        self.recent_items = recent_items
        self.recency_decay = recency_decay
        self.description = "items near the last ones in training histories"

    def score_items(self, interactions: Any, return_user_ids: bool = False):
        """Scores ``(n_users, n_items)`` in ``item_ids_`` order (seen items not removed)."""
        users, items = _chronological(interactions)
        user_ids, starts = np.unique(users, return_index=True)
        columns = self._columns(items)
        bounds = np.append(starts, len(users))
        histories = []
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            known = columns[start:stop]
            histories.append(known[known >= 0])
        scores = transition_scores_numpy(histories, self.indices_, self.weights_,
                                         len(self.item_ids_), self.recent_items,
                                         self.recency_decay).astype(np.float32)
        return (user_ids, scores) if return_user_ids else scores


def fit_baselines(train: Any) -> list[_Baseline]:
    """Popularity, item-item and transitions baselines fitted on ``train``."""
    return [PopularityBaseline(train), ItemItemBaseline(train), TransitionsBaseline(train)]
