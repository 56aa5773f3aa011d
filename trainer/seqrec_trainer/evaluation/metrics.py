"""Ranking metrics for one held-out target per user (numpy only).

Every metric is a function of the target's 0-based *rank* among the candidates
(``0`` = ranked first). Ranks come from :func:`pessimistic_ranks`, which breaks score
ties *against* the target: a target is placed after every other candidate with the same
score, so a model that gives every item the same score ranks every target last instead
of first.

With a single relevant item per user, ``HR@k`` equals ``Recall@k`` and the ideal DCG is
``1``, so ``NDCG@k = 1 / log2(rank + 2)`` when ``rank < k`` and ``0`` otherwise.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
from seqrec_runtime.errors import InvalidParameterError, InvalidParameterTypeError

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)


def check_k(k: Any, name: str = "k") -> int:
    """Validate a cutoff: an int ``>= 1``.

    Raises
    ------
    InvalidParameterTypeError
        ``k`` is not an int (booleans are refused).
    InvalidParameterError
        ``k < 1``.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise InvalidParameterTypeError(f"{name} must be an int, got {k!r}")
    if int(k) < 1:
        raise InvalidParameterError(f"{name} must be >= 1, got {k}")
    return int(k)


def check_ks(ks: Any) -> tuple[int, ...]:
    """Validate a non-empty iterable of cutoffs; returns them sorted and deduplicated."""
    if isinstance(ks, numbers.Integral) and not isinstance(ks, (bool, np.bool_)):
        ks = (ks,)
    if not isinstance(ks, Iterable) or isinstance(ks, (str, bytes)):
        raise InvalidParameterTypeError(f"ks must be an iterable of ints, got {ks!r}")
    checked = sorted({check_k(k, "ks") for k in ks})
    if not checked:
        raise InvalidParameterError("ks must hold at least one cutoff")
    return tuple(checked)


def check_ranks(ranks: Any) -> np.ndarray:
    """Return ``ranks`` as a 1-D ``int64`` array of non-negative integers.

    Raises
    ------
    InvalidParameterError
        Not 1-D, negative values, or non-integral values.
    """
    array = np.asarray(ranks)
    if array.ndim != 1:
        raise InvalidParameterError(f"ranks must be 1-D, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.floor(array)):
            raise InvalidParameterError("ranks must be whole numbers")
    elif array.dtype.kind not in "iu":
        raise InvalidParameterError(f"ranks must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.min() < 0:
        raise InvalidParameterError("ranks are 0-based and must be >= 0")
    return array


def hits_at_k(ranks: Any, k: int) -> np.ndarray:
    """Per-user hit indicator (``1.0`` when ``rank < k``, else ``0.0``)."""
    k = check_k(k)
    return (check_ranks(ranks) < k).astype(np.float64)


def ndcg_gains_at_k(ranks: Any, k: int) -> np.ndarray:
    """Per-user NDCG@k: ``1 / log2(rank + 2)`` when ``rank < k``, else ``0.0``."""
    k = check_k(k)
    r = check_ranks(ranks)
    return np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)


def reciprocal_ranks(ranks: Any) -> np.ndarray:
    """Per-user reciprocal rank ``1 / (rank + 1)`` (no cutoff)."""
    return 1.0 / (check_ranks(ranks) + 1.0)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def hit_rate_at_k(ranks: Any, k: int) -> float:
    """Share of users whose target ranks in the top ``k`` (``nan`` for no users)."""
    return _mean(hits_at_k(ranks, k))


def ndcg_at_k(ranks: Any, k: int) -> float:
    """Mean NDCG@k over users (``nan`` for no users)."""
    return _mean(ndcg_gains_at_k(ranks, k))


def mrr(ranks: Any) -> float:
    """Mean reciprocal rank over users, without cutoff (``nan`` for no users)."""
    return _mean(reciprocal_ranks(ranks))


def summarize(ranks: Any, ks: Iterable[int] = DEFAULT_KS) -> dict[str, float]:
    """All metrics for the given cutoffs.

    Parameters
    ----------
    ranks
        0-based target ranks, one per user.
    ks
        Cutoffs; each gives ``"HR@k"`` and ``"NDCG@k"``.

    Returns
    -------
    dict
        ``{"HR@1": ..., ..., "NDCG@1": ..., ..., "MRR": ...}`` (HR keys first, ascending k).
    """
    r = check_ranks(ranks)
    cutoffs = check_ks(ks)
    out = {f"HR@{k}": hit_rate_at_k(r, k) for k in cutoffs}
    out.update({f"NDCG@{k}": ndcg_at_k(r, k) for k in cutoffs})
    out["MRR"] = mrr(r)
    return out


def pessimistic_ranks(
    target_scores: np.ndarray,
    other_scores: np.ndarray,
    other_mask: np.ndarray | None = None,
) -> np.ndarray:
    """0-based rank of each target among its candidates, ties counted against the target.

    ``rank = #(other candidates with score > target) + #(other candidates with score ==
    target)``, i.e. the number of other candidates scoring ``>=`` the target. NaN scores
    are treated as ``-inf`` (a NaN target ties with, and so ranks after, every NaN/-inf
    candidate).

    Parameters
    ----------
    target_scores
        ``(n,)`` score of each user's target.
    other_scores
        ``(n, m)`` scores of the *other* candidates (the target must not be among the
        columns selected by ``other_mask``).
    other_mask
        Optional ``(n, m)`` boolean mask of the columns that are real candidates.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 ranks in ``[0, number of other candidates]``.
    """
    target = np.nan_to_num(np.asarray(target_scores, dtype=np.float64), nan=-np.inf)
    others = np.asarray(other_scores)
    if np.issubdtype(others.dtype, np.floating) and np.isnan(others).any():
        others = np.where(np.isnan(others), -np.inf, others)
    beats = others >= target[:, None]
    if other_mask is not None:
        beats &= other_mask
    return np.count_nonzero(beats, axis=1).astype(np.int64)
