"""Offline evaluation protocols: full ranking and sampled ranking (SASRec paper).

``model`` is duck-typed: any object with

* ``item_ids_`` -- a 1-D array of item ids, the column order of its scores, and
* ``score_items(interactions, return_user_ids=True) -> (user_ids, scores)`` -- raw
  ``(n_users, n_items)`` scores of the users present in ``interactions``.

Both ``seqrec_trainer.SequentialRecommender`` and the runtime's ``SeqrecRuntime`` qualify.
The exact rules are in ``docs/evaluation.md``.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from seqrec_runtime.errors import (
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
)
from seqrec_runtime.ranking import make_rng
from seqrec_runtime.vocabulary import id_dtype_name

from .metrics import check_k, check_ks, pessimistic_ranks, summarize
from .model_input import ColumnLookup, check_model, read_input, read_targets, score_batch

logger = logging.getLogger("seqrec")

PROTOCOLS: tuple[str, ...] = ("full", "sampled")


@dataclass
class TargetRanks:
    """Per-user ranks of the targets under one or more protocols.

    Attributes
    ----------
    user_ids, target_ids
        Evaluated users (ascending) and their target items.
    ranks
        protocol -> ``(n_users,)`` 0-based pessimistic ranks.
    n_candidates
        protocol -> ``(n_users,)`` number of ranked candidates, the target included.
    n_items
        Number of items the model scores.
    n_skipped_unknown_target
        Users left out because their target item is not in ``model.item_ids_``.
    n_skipped_no_history
        Users left out because they have no row in the input interactions.
    n_target_in_history
        Evaluated users whose target item already appears in their input history.
    """

    user_ids: np.ndarray
    target_ids: np.ndarray
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    n_candidates: dict[str, np.ndarray] = field(default_factory=dict)
    n_items: int = 0
    n_skipped_unknown_target: int = 0
    n_skipped_no_history: int = 0
    n_target_in_history: int = 0


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidParameterTypeError(f"{name} must be an int, got {value!r}")
    if int(value) < 1:
        raise InvalidParameterError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_protocols(protocols: Iterable[str]) -> tuple[str, ...]:
    if isinstance(protocols, str):
        protocols = (protocols,)
    checked = tuple(dict.fromkeys(protocols))
    bad = [p for p in checked if p not in PROTOCOLS]
    if bad or not checked:
        raise InvalidParameterError(f"protocol must be one of {PROTOCOLS}, got {bad or protocols}")
    return checked


def sample_negatives(
    seen: np.ndarray, target_cols: np.ndarray, n_negatives: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw negatives uniformly without replacement from the items a user never saw.

    Each row gets ``min(n_negatives, n_items)`` distinct columns, chosen uniformly among
    the columns that are neither ``seen`` nor the row's target. When fewer such columns
    exist, the shortfall is filled with forbidden columns flagged ``False`` in ``valid``.
    Draws ``rng.random((n_rows, n_items))`` row-major, so splitting rows into batches
    draws the same negatives as one call.

    Parameters
    ----------
    seen
        ``(n_rows, n_items)`` boolean mask of items in each user's input history.
    target_cols
        ``(n_rows,)`` column of each user's target.
    n_negatives
        Negatives per user.
    rng
        Random generator.

    Returns
    -------
    negatives : numpy.ndarray
        ``(n_rows, m)`` int64 columns, ascending per row.
    valid : numpy.ndarray
        ``(n_rows, m)`` boolean, ``False`` where a column is padding (not a negative).
    """
    n_rows, n_items = seen.shape
    forbidden = seen.copy()
    forbidden[np.arange(n_rows), target_cols] = True
    keys = rng.random((n_rows, n_items))
    keys[forbidden] = np.inf
    n = min(n_negatives, n_items)
    if n < n_items:
        negatives = np.argpartition(keys, n - 1, axis=1)[:, :n]
    else:
        negatives = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    negatives = np.sort(negatives, axis=1).astype(np.int64)
    valid = ~np.take_along_axis(forbidden, negatives, axis=1)
    return negatives, valid


def compute_ranks(
    model: Any,
    input_interactions: Any,
    targets: Any,
    protocols: Iterable[str] = ("full",),
    n_negatives: int = 100,
    random_state: Any = 0,
    batch_size: int = 1024,
) -> TargetRanks:
    """Rank every user's target under each protocol (one scoring pass for all).

    Parameters
    ----------
    model
        Object with ``item_ids_`` and ``score_items(interactions, return_user_ids=True)``.
    input_interactions
        Table with USER_ID, ITEM_ID, TIMESTAMP (and optional OUTCOME): the history the
        model scores from, also the "seen" items excluded from the candidates.
    targets
        Table with USER_ID, ITEM_ID, one row per user.
    protocols
        Any of ``"full"`` and ``"sampled"``.
    n_negatives
        Negatives per user for ``"sampled"``.
    random_state
        Seed (int), ``numpy.random.Generator`` or ``None`` for the negative sampling.
    batch_size
        Users scored per ``score_items`` call; memory is about
        ``batch_size * n_items * 14`` bytes on top of the model's own.

    Returns
    -------
    TargetRanks
    """
    protocols = _check_protocols(protocols)
    n_negatives = check_k(n_negatives, "n_negatives")
    batch_size = _check_positive_int(batch_size, "batch_size")
    rng = make_rng(random_state)
    lookup = ColumnLookup(check_model(model))
    n_items = len(lookup.ids)
    t_users, t_items = read_targets(targets)
    data = read_input(input_interactions, lookup)
    if len(data.users) and id_dtype_name(data.users) != id_dtype_name(t_users):
        raise IdTypeError("USER_ID of targets and input_interactions have different types")

    t_cols = lookup.columns(t_items)
    lo = np.searchsorted(data.users, t_users, side="left")
    hi = np.searchsorted(data.users, t_users, side="right")
    unknown = t_cols < 0
    no_history = ~unknown & (hi == lo)
    keep = ~(unknown | no_history)
    users, cols, lo, hi = t_users[keep], t_cols[keep], lo[keep], hi[keep]
    result = TargetRanks(
        users,
        t_items[keep],
        n_items=n_items,
        n_skipped_unknown_target=int(unknown.sum()),
        n_skipped_no_history=int(no_history.sum()),
    )
    if result.n_skipped_unknown_target or result.n_skipped_no_history:
        logger.info(
            "evaluation skips %d user(s) with a target unknown to the model and %d "
            "without input history",
            result.n_skipped_unknown_target,
            result.n_skipped_no_history,
        )
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {p: [] for p in protocols}
    for start in range(0, len(users), batch_size):
        sl = slice(start, start + batch_size)
        scores, seen = score_batch(model, data, users[sl], lo[sl], hi[sl], n_items)
        rows = np.arange(len(scores))
        target_scores = scores[rows, cols[sl]]
        result.n_target_in_history += int(seen[rows, cols[sl]].sum())
        if "full" in parts:
            others = ~seen
            others[rows, cols[sl]] = False
            ranks = pessimistic_ranks(target_scores, scores, others)
            parts["full"].append((ranks, others.sum(axis=1) + 1))
        if "sampled" in parts:
            negatives, valid = sample_negatives(seen, cols[sl], n_negatives, rng)
            negative_scores = np.take_along_axis(scores, negatives, axis=1)
            ranks = pessimistic_ranks(target_scores, negative_scores, valid)
            parts["sampled"].append((ranks, valid.sum(axis=1) + 1))
    for p, chunks in parts.items():
        result.ranks[p] = np.concatenate([c[0] for c in chunks] or [np.zeros(0, np.int64)])
        result.n_candidates[p] = np.concatenate(
            [c[1] for c in chunks] or [np.zeros(0, np.int64)]
        ).astype(np.int64)
    return result


def summarize_ranks(
    ranks: TargetRanks, protocol: str, ks: Iterable[int], n_negatives: int | None = None
) -> dict[str, Any]:
    """Metrics and counts of one protocol as a flat, JSON-friendly dict."""
    r = ranks.ranks[protocol]
    n_candidates = ranks.n_candidates[protocol]
    out: dict[str, Any] = {"protocol": protocol}
    out.update(summarize(r, ks))
    out.update(
        n_users=int(len(r)),
        n_skipped=ranks.n_skipped_unknown_target + ranks.n_skipped_no_history,
        n_skipped_unknown_target=ranks.n_skipped_unknown_target,
        n_skipped_no_history=ranks.n_skipped_no_history,
        n_target_in_history=ranks.n_target_in_history,
        n_items=ranks.n_items,
        mean_candidates=float(n_candidates.mean()) if len(n_candidates) else float("nan"),
    )
    if protocol == "sampled":
        out["n_negatives"] = n_negatives
    return out


def evaluate_many(
    model: Any,
    input_interactions: Any,
    targets: Any,
    protocols: Iterable[str] = PROTOCOLS,
    ks: Iterable[int] = (10,),
    n_negatives: int = 100,
    random_state: Any = 0,
    batch_size: int = 1024,
) -> dict[str, dict[str, Any]]:
    """Evaluate several protocols from one scoring pass.

    Returns
    -------
    dict
        protocol -> the dict :func:`evaluate` returns for it. The sampled negatives are
        the same as when ``evaluate(protocol="sampled")`` runs alone with the same seed.
    """
    ks = check_ks(ks)
    ranks = compute_ranks(
        model, input_interactions, targets, protocols, n_negatives, random_state, batch_size
    )
    return {p: summarize_ranks(ranks, p, ks, n_negatives) for p in ranks.ranks}


def evaluate(
    model: Any,
    input_interactions: Any,
    targets: Any,
    protocol: str = "full",
    ks: Iterable[int] = (10,),
    n_negatives: int = 100,
    random_state: Any = 0,
    batch_size: int = 1024,
) -> dict[str, Any]:
    """Evaluate ``model`` on one held-out target per user.

    Protocols (ties are always counted against the target):

    * ``"full"``: the target is ranked against every item of ``model.item_ids_`` except
      the items in the user's input history. The target itself stays a candidate even
      when it also appears in that history (repeat consumption); such users are counted
      in ``n_target_in_history``.
    * ``"sampled"``: the target is ranked against ``n_negatives`` distinct items drawn
      uniformly (seeded by ``random_state``) from the model's items that are neither in
      the user's input history nor the target (SASRec paper protocol).

    Users whose target is not in ``model.item_ids_`` (``n_skipped_unknown_target``) or
    who have no row in ``input_interactions`` (``n_skipped_no_history``) are left out of
    every metric; ``n_skipped`` is their sum.

    Parameters
    ----------
    model
        Object with ``item_ids_`` and ``score_items(interactions, return_user_ids=True)``
        returning raw (not seen-masked) scores.
    input_interactions
        USER_ID, ITEM_ID, TIMESTAMP table: each user's history before the target
        (for a leave-one-out test: ``split.test_input``).
    targets
        USER_ID, ITEM_ID table, one row per user (for a leave-one-out test: ``split.test``).
    protocol
        ``"full"`` or ``"sampled"``.
    ks
        Cutoffs for HR@k and NDCG@k.
    n_negatives
        Negatives per user for ``"sampled"``.
    random_state
        Seed for the negative sampling.
    batch_size
        Users scored per ``score_items`` call.

    Returns
    -------
    dict
        ``{"protocol", "HR@k"..., "NDCG@k"..., "MRR", "n_users", "n_skipped",
        "n_skipped_unknown_target", "n_skipped_no_history", "n_target_in_history",
        "n_items", "mean_candidates"}`` plus ``"n_negatives"`` for ``"sampled"``.
        Metrics are ``nan`` when no user could be evaluated.
    """
    if not isinstance(protocol, str):
        raise InvalidParameterTypeError(f"protocol must be a str, got {protocol!r}")
    return evaluate_many(
        model, input_interactions, targets, (protocol,), ks, n_negatives, random_state, batch_size
    )[protocol]
