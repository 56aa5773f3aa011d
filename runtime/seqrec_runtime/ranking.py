"""Top-k selection and temperature sampling on score matrices (numpy only).

Both the trainer and the runtime rank through these functions, so that given the same
scores they return the same items, including sampled ones under the same ``random_state``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .errors import InvalidParameterError, InvalidParameterTypeError
from .warn import warn

_FLOAT64_MAX = float(np.finfo(np.float64).max)


def check_flag(value: Any, name: str) -> bool:
    """Validate a boolean argument (``exclude_seen``, ``return_user_ids``, ...)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_top_k(top_k: Any, n_candidates: int) -> int:
    """Validate ``top_k``; clip it (with a warning) to ``n_candidates``."""
    if isinstance(top_k, (bool, np.bool_)) or not isinstance(top_k, numbers.Integral):
        raise InvalidParameterTypeError(f"top_k must be an int, got {top_k!r}")
    top_k = int(top_k)
    if top_k <= 0:
        raise InvalidParameterError(f"top_k must be >= 1, got {top_k}")
    if n_candidates <= 0:
        raise InvalidParameterError("there are no candidate items left to recommend")
    if top_k > n_candidates:
        warn(
            f"top_k={top_k} is larger than the {n_candidates} candidate items; "
            f"returning {n_candidates} per user",
            UserWarning,
        )
        top_k = n_candidates
    return top_k


def check_temperature(sampling_temperature: Any) -> float:
    """Validate a sampling temperature: a finite number >= 0 (0 = deterministic)."""
    if isinstance(sampling_temperature, (bool, np.bool_)) or not isinstance(
        sampling_temperature, numbers.Real
    ):
        raise InvalidParameterTypeError(
            f"sampling_temperature must be a number, got {sampling_temperature!r}"
        )
    try:
        value = float(sampling_temperature)
    except OverflowError:  # an int or Fraction beyond float64 (e.g. 10**400)
        value = math.inf
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise InvalidParameterError(
            f"sampling_temperature must be a finite number >= 0, got {sampling_temperature!r}"
        )
    return value


def make_rng(random_state: Any) -> np.random.Generator:
    """``None`` (fresh entropy), an int seed, or a ``numpy.random.Generator``."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral):
        raise InvalidParameterTypeError(
            f"random_state must be None, an int or a numpy.random.Generator, got {random_state!r}"
        )
    if int(random_state) < 0:
        raise InvalidParameterError(f"random_state must be >= 0, got {random_state}")
    return np.random.default_rng(int(random_state))


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest scores per row, best first.

    Ties are broken by the lower column index, so the result is deterministic.
    ``-inf`` entries are ranked last. ``k`` must be ``<= scores.shape[1]``.
    """
    n_rows, n_cols = scores.shape
    if k < n_cols:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # argpartition may pick any of several tied values at the boundary: re-select
        # deterministically among everything >= the k-th value.
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        if np.count_nonzero(scores >= kth) != n_rows * k:
            return _stable_top_k(scores, k)
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _stable_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def gumbel_top_k(
    scores: np.ndarray, k: int, temperature: float, rng: np.random.Generator
) -> np.ndarray:
    """Sample ``k`` distinct columns per row from ``softmax(scores / temperature)``.

    Gumbel-top-k: adding i.i.d. Gumbel(0, 1) noise to the logits and taking the top ``k``
    samples without replacement from the softmax. Noise is drawn row-major in one stream, so
    scoring in chunks draws exactly the same numbers as scoring all rows at once.
    ``-inf`` (excluded) entries are never sampled while other candidates remain.
    """
    noise = rng.gumbel(size=scores.shape)
    scores64 = scores.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        logits = scores64 / temperature + noise
    # A tiny temperature (e.g. 1e-310) overflows finite scores to +-inf, where they tie
    # and rank by column instead of by score. ``scores + temperature * noise`` ranks like
    # ``scores / temperature + noise`` (temperature > 0) and cannot overflow there, so
    # such rows use it (and tend to the deterministic ranking, as they should).
    overflow = (np.isinf(logits) & np.isfinite(scores64)).any(axis=1)
    if overflow.any():
        logits[overflow] = scores64[overflow] + temperature * noise[overflow]
    # Keep candidates finite: -inf belongs to excluded items only.
    np.clip(logits, -_FLOAT64_MAX, _FLOAT64_MAX, out=logits)
    logits[np.isneginf(scores)] = -np.inf
    return top_k_indices(logits, k)


def seen_mask(items: np.ndarray, n_items: int) -> np.ndarray:
    """Boolean ``(n_rows, n_items)`` mask of the items present in each padded row.

    ``items`` holds model indices (1-based, 0 = padding); column ``j`` is index ``j + 1``.
    """
    mask = np.zeros((items.shape[0], n_items + 1), dtype=bool)
    rows = np.broadcast_to(np.arange(items.shape[0])[:, None], items.shape)
    mask[rows, items] = True
    return mask[:, 1:]


def rank(
    scores: np.ndarray,
    top_k: int,
    sampling_temperature: float,
    rng: np.random.Generator | None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Deterministic (``temperature == 0``) or sampled top-k column indices per row.

    ``rng`` is only used (and then required) when sampling.
    """
    if exclude is not None:
        scores = np.where(exclude, -np.inf, scores)
    if sampling_temperature == 0.0:
        return top_k_indices(scores, top_k)
    if rng is None:
        raise ValueError("sampling (temperature > 0) needs a random generator")
    return gumbel_top_k(scores, top_k, sampling_temperature, rng)


def candidates_after_exclusion(exclude_counts: np.ndarray, n_items: int) -> int:
    """Smallest number of items left for any user once their excluded items are removed."""
    return int(n_items - (exclude_counts.max() if len(exclude_counts) else 0))
