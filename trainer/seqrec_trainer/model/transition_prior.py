"""The ``"transitions"`` item prior: items that sit near each other in users' histories.

A sparse, order-aware item-item model in the family of sequential rules (Ludewig &
Jannach, "Evaluation of session-based recommendation algorithms", 2018): every pair of
items at distance ``d <= TRANSITION_WINDOW`` in one user's chronological history adds
``TRANSITION_DECAY ** (d - 1)`` to the count ``C[a, b]`` (earlier ``a``, later ``b``) and
the same to ``C[b, a]``. Each row is divided by the square root of its sum (so a very
common item does not drown the others), then the whole matrix by its largest cell, and
only the :data:`NEIGHBORS` largest cells per row are kept.

A user's prior scores are the neighbour rows of their :data:`RECENT_ITEMS` most recent
items, the latest weighted 1, the one before :data:`RECENCY_DECAY`, and so on. It stores
``n_items x NEIGHBORS`` indices and weights, so it has no catalogue cap, and it reads the
order of the history, which the ``"ease"`` and ``"low_rank"`` priors do not: on
short-history catalogues (Amazon-style purchase journeys) the items bought next to each
other are a strong signal.
"""

from __future__ import annotations

import numpy as np
import torch

#: Largest distance between two items of one history that still counts as a pair.
TRANSITION_WINDOW = 3
#: Weight of a pair at distance ``d``: ``TRANSITION_DECAY ** (d - 1)``.
TRANSITION_DECAY = 0.8
#: Most recent items of a history whose neighbours are scored.
RECENT_ITEMS = 8
#: Weight of the ``j``-th most recent item (0 = latest): ``RECENCY_DECAY ** j``.
RECENCY_DECAY = 0.5
#: Neighbours kept per item.
NEIGHBORS = 50


def transition_counts(
    rows: np.ndarray, items: np.ndarray, n_items: int, window: int = TRANSITION_WINDOW,
    decay: float = TRANSITION_DECAY,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric, distance-decayed pair counts of the histories, as coordinate arrays.

    Parameters
    ----------
    rows, items
        One entry per interaction, grouped by ``rows`` and in chronological order within
        each row; ``items`` are model indices ``1..n_items`` (0 = padding, skipped).
    n_items
        Catalogue size.
    window, decay
        Largest distance counted, and the weight ``decay ** (d - 1)`` of distance ``d``.

    Returns
    -------
    (source, target, count)
        0-based item columns and the summed weight of each distinct pair, sorted by
        ``(source, target)``; an item is never paired with itself.
    """
    rows, items = np.asarray(rows, dtype=np.int64), np.asarray(items, dtype=np.int64)
    known = items > 0
    rows, items = rows[known], items[known] - 1
    keys, weights = [], []
    for distance in range(1, window + 1):
        same_row = rows[distance:] == rows[:-distance]
        earlier, later = items[:-distance][same_row], items[distance:][same_row]
        distinct = earlier != later
        earlier, later = earlier[distinct], later[distinct]
        weight = decay ** (distance - 1)
        keys += [earlier * n_items + later, later * n_items + earlier]
        weights += [np.full(2 * len(earlier), weight)]
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    pairs, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate(weights), minlength=len(pairs))
    return pairs // n_items, pairs % n_items, counts


def transition_neighbors(
    rows: np.ndarray, items: np.ndarray, n_items: int, neighbors: int = NEIGHBORS,
    window: int = TRANSITION_WINDOW, decay: float = TRANSITION_DECAY,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``"transitions"`` prior's tables, fitted on training histories.

    Parameters
    ----------
    rows, items, n_items, window, decay
        As in :func:`transition_counts`.
    neighbors
        Cells kept per item (the largest ones).

    Returns
    -------
    (indices, weights)
        ``(n_items, neighbors)`` int64 score columns and float32 weights in ``[0, 1]``;
        unused slots point at column 0 with weight 0.
    """
    source, target, counts = transition_counts(rows, items, n_items, window, decay)
    indices = np.zeros((n_items, neighbors), dtype=np.int64)
    weights = np.zeros((n_items, neighbors), dtype=np.float32)
    if len(counts) == 0:
        return indices, weights
    row_sums = np.bincount(source, weights=counts, minlength=n_items)
    scaled = counts / np.sqrt(row_sums[source])
    scaled /= scaled.max()
    order = np.lexsort((-scaled, source))  # by source, largest cells first
    source, target, scaled = source[order], target[order], scaled[order]
    starts = np.searchsorted(source, np.arange(n_items))
    slot = np.arange(len(source)) - starts[source]
    kept = slot < neighbors
    indices[source[kept], slot[kept]] = target[kept]
    weights[source[kept], slot[kept]] = scaled[kept]
    return indices, weights


def transition_scores(
    item_seq: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor, n_items: int
) -> torch.Tensor:
    """Prior scores ``(B, n_items)`` of left-padded, chronological ``item_seq`` rows.

    Sums the neighbour rows (:func:`transition_neighbors`) of each row's
    :data:`RECENT_ITEMS` last items, the ``j``-th most recent weighted
    ``RECENCY_DECAY ** j``; padding (index 0) adds nothing. Exports to ONNX as Gather +
    ScatterElements (add).
    """
    recent = item_seq[:, -RECENT_ITEMS:]
    width = recent.shape[1]
    age = (width - 1) - torch.arange(width, device=item_seq.device)
    recency = torch.pow(torch.full_like(age, RECENCY_DECAY, dtype=weights.dtype), age)
    known = (recent > 0).to(weights.dtype) * recency
    rows = (recent - 1).clamp(min=0)
    columns = indices[rows].reshape(recent.shape[0], -1)
    values = (weights[rows] * known.unsqueeze(-1)).reshape(recent.shape[0], -1)
    scores = torch.zeros(recent.shape[0], n_items, dtype=weights.dtype, device=item_seq.device)
    return scores.scatter_add(1, columns, values)


def transition_scores_numpy(
    histories: list[np.ndarray], indices: np.ndarray, weights: np.ndarray, n_items: int,
    recent_items: int = RECENT_ITEMS, recency_decay: float = RECENCY_DECAY,
) -> np.ndarray:
    """:func:`transition_scores` for chronological 0-based column histories, in numpy.

    ``recent_items`` and ``recency_decay`` may differ from the graph's constants (for
    studies of the prior's settings).
    """
    scores = np.zeros((len(histories), n_items), dtype=np.float64)
    for row, history in enumerate(histories):
        recent = np.asarray(history, dtype=np.int64)[-recent_items:]
        recency = recency_decay ** np.arange(len(recent))[::-1]
        np.add.at(scores[row], indices[recent].ravel(),
                  (weights[recent] * recency[:, None]).ravel())
    return scores
