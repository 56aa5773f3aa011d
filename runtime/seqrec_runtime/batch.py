"""Chunked scoring and ranking of many users (shared by trainer and runtime).

``score_fn`` maps a left-padded ``(rows, width)`` int64 index matrix to ``(rows, n_items)``
float32 scores; it is the torch network in the trainer and the ONNX session in the runtime.
Models with an item prior (``with_history=True``) also read each row's whole history:
``score_fn(items, history_items)`` with the matrix of :func:`~.sequences.distinct_history`.
Everything else (chunking, trimming, cold-user fallback, exclusion, top-k, sampling) is
here once, so both give identical rankings from identical scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .errors import InvalidParameterError
from .ranking import check_top_k, rank
from .sequences import Sequences, distinct_history
from .warn import warn

ScoreFn = Callable[..., np.ndarray]


def iter_chunks(seqs: Sequences, batch_size: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, items)`` per chunk, trimmed to the chunk's longest real row."""
    n = len(seqs.user_ids)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        width = max(1, int(seqs.lengths[start:stop].max()))
        yield start, stop, seqs.window(start, stop, width)


def score_chunk(
    seqs: Sequences, start: int, stop: int, items: np.ndarray, score_fn: ScoreFn,
    fallback: np.ndarray, with_history: bool = False,
) -> np.ndarray:
    """Scores of one chunk with cold rows (no known item) replaced by ``fallback``."""
    if with_history:
        history = distinct_history(seqs, start, stop, len(fallback))
        scores = np.asarray(score_fn(items, history), dtype=np.float32)
    else:
        scores = np.asarray(score_fn(items), dtype=np.float32)
    cold = seqs.lengths[start:stop] == 0
    if cold.any():
        scores[cold] = fallback
    return scores


def score_all(
    seqs: Sequences, score_fn: ScoreFn, fallback: np.ndarray, batch_size: int,
    columns: np.ndarray | None = None, with_history: bool = False,
) -> np.ndarray:
    """Score every row; ``columns`` restricts the output to a subset of item columns."""
    n_cols = len(fallback) if columns is None else len(columns)
    out = np.empty((len(seqs.user_ids), n_cols), dtype=np.float32)
    for start, stop, items in iter_chunks(seqs, batch_size):
        scores = score_chunk(seqs, start, stop, items, score_fn, fallback, with_history)
        out[start:stop] = scores if columns is None else scores[:, columns]
    return out


def distinct_seen_counts(seqs: Sequences, n_items: int, columns: np.ndarray | None) -> np.ndarray:
    """Per row, how many distinct candidate items the whole history contains."""
    rows = np.repeat(np.arange(len(seqs.user_ids)), seqs.history_counts())
    items = seqs.history_items
    if columns is not None:
        candidate = np.zeros(n_items + 1, dtype=bool)
        candidate[columns + 1] = True
        keep = candidate[items]
        rows, items = rows[keep], items[keep]
    pairs = np.unique(rows.astype(np.int64) * (n_items + 1) + items)
    return np.bincount(pairs // (n_items + 1), minlength=len(seqs.user_ids))


def resolve_top_k(
    top_k: object, seqs: Sequences, n_items: int, exclude_seen: bool,
    columns: np.ndarray | None = None,
) -> int:
    """Validate ``top_k`` against the candidates left after exclusion (clip with a warning)."""
    n_candidates = n_items if columns is None else len(columns)
    k = check_top_k(top_k, n_candidates)
    if exclude_seen:
        left = n_candidates - int(distinct_seen_counts(seqs, n_items, columns).max(initial=0))
        if left <= 0:
            raise InvalidParameterError(
                "exclude_seen=True leaves no candidate item for some user (they have seen "
                "every item); call with exclude_seen=False"
            )
        if k > left:
            warn(
                f"exclude_seen leaves only {left} candidate items for some user; top_k "
                f"clipped from {k} to {left}",
                UserWarning,
            )
            k = left
    return k


def recommend_all(
    seqs: Sequences,
    score_fn: ScoreFn,
    fallback: np.ndarray,
    top_k: int,
    sampling_temperature: float,
    rng: np.random.Generator | None,
    exclude_seen: bool,
    batch_size: int,
    columns: np.ndarray | None = None,
    with_history: bool = False,
) -> np.ndarray:
    """Top-k (or sampled) item COLUMN indices per row, never holding all scores at once.

    ``top_k`` must already be resolved with :func:`resolve_top_k`.
    """
    n_items = len(fallback)
    out = np.empty((len(seqs.user_ids), top_k), dtype=np.int64)
    for start, stop, items in iter_chunks(seqs, batch_size):
        scores = score_chunk(seqs, start, stop, items, score_fn, fallback, with_history)
        exclude = seqs.seen_mask(start, stop, n_items) if exclude_seen else None
        if columns is not None:
            scores = scores[:, columns]
            exclude = exclude[:, columns] if exclude is not None else None
        picked = rank(scores, top_k, sampling_temperature, rng, exclude)
        out[start:stop] = picked if columns is None else columns[picked]
    return out
