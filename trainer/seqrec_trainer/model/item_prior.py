"""Item-item co-occurrence priors added to the SASRec logits.

The transformer reads the order of the last ``max_len`` items; the prior adds an
order-free "people who interacted with these items also interacted with" term learned in
closed form from the same training rows. Scores become::

    scores = encode_last(item_seq) @ item_embeddings.T + weight * (h @ B)

where ``h`` is the 0/1 indicator of the items of the user's history and ``X`` below is
the 0/1 user x item matrix of the training histories. Two kinds of ``B``:

``"ease"`` (Steck 2019)
    ``P = (X^T X + l2 * I)^-1``, ``B = -P / diag(P)`` column-wise, ``diag(B) = 0``
    (:func:`ease_matrix`). Costs an ``n_items x n_items`` float32 matrix in the model and
    in each exported graph, and an ``O(n_items^3)`` solve when fitting, hence
    :data:`MAX_PRIOR_ITEMS`.
``"low_rank"``
    The ridge item autoencoder ``(X^T X + l2 * I)^-1 X^T X`` truncated to the top
    ``rank`` right singular vectors ``V`` of ``X``: ``B = V diag(s^2 / (s^2 + l2)) V^T``
    (:func:`low_rank_ridge`), used with its diagonal set to zero like EASE's (an item
    never scores itself; the network subtracts it). Costs ``n_items x rank`` floats and a
    randomized SVD of the sparse ``X``, so it has no catalogue cap.
``"transitions"``
    Not a ``h @ B`` product: the items near each other in users' histories, scored from
    the order of the user's most recent items (:mod:`.transition_prior`). Costs
    ``n_items x 50`` indices and weights and no solve, so it has no catalogue cap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from seqrec_runtime.param_checks import Choice, Int, Real, check_params

from ..errors import InvalidParameterError
from .transition_prior import transition_neighbors

if TYPE_CHECKING:
    from .network import SASRecNetwork

PRIOR_KINDS = ("ease", "low_rank", "transitions")
#: The prior's parameters (0 weight turns the prior off).
PRIOR_PARAMS = {
    "item_prior_weight": Real(low=0.0),
    "item_prior_l2": Real(low=0.0, low_open=True),
    "item_prior_kind": Choice(choices=PRIOR_KINDS),
    "item_prior_rank": Int(low=1),
}
"""Values of ``item_prior_kind``."""

MAX_PRIOR_ITEMS = 15_000
"""Largest catalogue for the ``"ease"`` prior (its matrix is ``4 * n_items**2`` bytes: 0.9 GB
here); ``"low_rank"`` has no cap."""

_ROWS_PER_CHUNK = 2048


def distinct_pairs(
    rows: np.ndarray, items: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The non-zero cells of the 0/1 row x item matrix, sorted by (row, item).

    ``rows`` are any non-negative ints (renumbered ``0..n_rows - 1`` in order), ``items``
    are ``1..n_items`` (0 = padding, dropped); a repeated pair appears once. Returns
    ``(row_codes, item_columns, n_rows)`` with 0-based item columns.
    """
    rows = np.asarray(rows, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    keep = items > 0
    _, row_codes = np.unique(rows[keep], return_inverse=True)
    keys = np.unique(row_codes.reshape(-1) * n_items + (items[keep] - 1))
    n_rows = int(row_codes.max()) + 1 if len(row_codes) else 0
    return keys // n_items, keys % n_items, n_rows


def cooccurrence_gram(rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """``X^T X`` of the 0/1 matrix with ``X[r, i - 1] = 1`` for every ``(rows, items)`` pair.

    Parameters
    ----------
    rows
        Row (e.g. user) code of each pair, any non-negative ints.
    items
        Item index ``1..n_items`` of each pair (0 = padding, ignored). Repeated pairs count
        once.
    n_items
        Catalogue size.

    Returns
    -------
    numpy.ndarray
        ``(n_items, n_items)`` float64: ``G[i, j]`` = number of rows holding both items.
    """
    row_codes, items, n_rows = distinct_pairs(rows, items, n_items)
    gram = np.zeros((n_items, n_items), dtype=np.float64)
    bounds = np.searchsorted(row_codes, np.arange(0, n_rows + _ROWS_PER_CHUNK, _ROWS_PER_CHUNK))
    for start, stop in zip(bounds[:-1], bounds[1:], strict=False):
        if start == stop:
            continue
        first = row_codes[start]
        chunk = np.zeros((int(row_codes[stop - 1] - first) + 1, n_items), dtype=np.float32)
        chunk[row_codes[start:stop] - first, items[start:stop]] = 1.0
        gram += (chunk.T @ chunk).astype(np.float64)  # float32 sums of 0/1 are exact < 2**24
    return gram


def ease_matrix(gram: np.ndarray, l2: float) -> np.ndarray:
    """Closed-form EASE weights ``B`` (``diag(B) = 0``) from a Gram matrix.

    ``B`` minimises ``||X - X B||^2 + l2 ||B||^2`` subject to ``diag(B) = 0``; a history
    indicator row ``h`` scores item ``j`` as ``(h @ B)[j]``.
    """
    n = gram.shape[0]
    precision = np.linalg.inv(gram + float(l2) * np.eye(n))
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def low_rank_ridge(
    rows: np.ndarray, items: np.ndarray, n_items: int, rank: int, l2: float,
    seed: int = 0, power_iterations: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``rank`` ridge item autoencoder ``B = V diag(scales) V^T`` of the 0/1 matrix.

    Parameters
    ----------
    rows, items
        As in :func:`cooccurrence_gram`: one ``(row code, item index 1..n_items)`` pair
        per interaction; padding (item 0) is ignored and repeated pairs count once.
    n_items
        Catalogue size.
    rank
        Number of singular directions kept (the factor's width).
    l2
        Ridge ``lambda``: ``scales = s^2 / (s^2 + l2)`` for the singular values ``s``.
    seed
        Seed of the randomized SVD's test matrix (the result is reproducible).
    power_iterations
        Subspace iterations of the randomized SVD (more = closer to the exact top
        singular vectors).

    Returns
    -------
    factors : numpy.ndarray
        ``(n_items, rank)`` float64, orthonormal columns ``V`` (zero columns when ``X``
        has fewer than ``rank`` non-zero singular values).
    scales : numpy.ndarray
        ``(rank,)`` float64 in ``[0, 1)``, 0 for the zero columns.
    """
    row_codes, columns, n_rows = distinct_pairs(rows, items, n_items)
    factors = np.zeros((n_items, rank), dtype=np.float64)
    scales = np.zeros(rank, dtype=np.float64)
    width = min(rank, n_rows, n_items)
    if width == 0:
        return factors, scales
    matrix = torch.sparse_coo_tensor(
        torch.as_tensor(np.stack([row_codes, columns])),
        torch.ones(len(columns), dtype=torch.float64),
        (n_rows, n_items), check_invariants=True,
    ).coalesce()
    oversampled = min(width + max(10, width // 4), n_rows, n_items)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        _, singular, right = torch.svd_lowrank(matrix, q=oversampled, niter=power_iterations)
    values, vectors = singular[:width].numpy(), right[:, :width].numpy()
    nonzero = values > values[0] * 1e-10  # all False for an all-zero X
    factors[:, :width] = vectors * nonzero
    scales[:width] = np.where(nonzero, values**2 / (values**2 + float(l2)), 0.0)
    return factors, scales


def check_prior_params(
    weight: object, l2: object, kind: object = "ease", rank: object = 256
) -> None:
    """Raise :class:`InvalidParameterError` for a bad ``item_prior_*`` parameter."""
    check_params({"item_prior_weight": weight, "item_prior_l2": l2, "item_prior_kind": kind,
                  "item_prior_rank": rank}, PRIOR_PARAMS)


def check_prior_size(n_items: int) -> None:
    """Refuse catalogues whose ``n_items x n_items`` prior would not fit a model file."""
    if n_items > MAX_PRIOR_ITEMS:
        gigabytes = 4 * n_items**2 / 1e9
        raise InvalidParameterError(
            f"item_prior_kind='ease' needs an n_items x n_items matrix ({n_items} items: "
            f"{gigabytes:.1f} GB per copy); the prior supports at most {MAX_PRIOR_ITEMS} "
            "items. Use item_prior_kind='low_rank' (an n_items x item_prior_rank prior with "
            "no catalogue cap) or item_prior_weight=0 for this catalogue."
        )


def fit_item_prior(
    network: SASRecNetwork, histories: tuple[np.ndarray, np.ndarray], n_items: int,
    kind: str, weight: float, l2: float, seed: int = 0,
) -> None:
    """Fit the prior on training histories and fill ``network``'s prior buffers.

    Parameters
    ----------
    network
        A :class:`~seqrec_trainer.model.SASRecNetwork` built with this prior's kind (and,
        for ``"low_rank"``, its rank: the size of ``item_prior_scales``).
    histories
        ``(row_codes, item_indices)`` of the training interactions (0 = padding).
    n_items, kind, weight, l2, seed
        Catalogue size and the ``item_prior_*`` parameters; ``seed`` drives the
        randomized SVD of ``"low_rank"``.

    ``"ease"`` fills ``item_prior_matrix`` with ``weight * B``; ``"low_rank"`` fills
    ``item_prior_factors`` (``V``) and ``item_prior_scales`` (the ridge shrinkage times the
    weight).
    """
    if kind == "ease":
        gram = cooccurrence_gram(*histories, n_items)
        buffers = {"item_prior_matrix": weight * ease_matrix(gram, l2)}
    elif kind == "transitions":
        if network.item_prior_neighbor_weights is None:
            raise ValueError("the network was built without a transitions item prior")
        width = int(network.item_prior_neighbor_weights.shape[1])
        indices, weights = transition_neighbors(*histories, n_items, width)
        buffers = {"item_prior_neighbor_items": indices,
                   "item_prior_neighbor_weights": weight * weights}
    else:
        if network.item_prior_scales is None:
            raise ValueError("the network was built without a low-rank item prior")
        rank = int(network.item_prior_scales.shape[0])
        factors, scales = low_rank_ridge(*histories, n_items, rank, l2, seed=seed)
        buffers = {"item_prior_factors": factors, "item_prior_scales": weight * scales}
    with torch.no_grad():
        for name, value in buffers.items():
            buffer = getattr(network, name)
            buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype))
