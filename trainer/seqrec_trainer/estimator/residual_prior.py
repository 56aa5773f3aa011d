"""Training the network *on top of* the item prior (``item_prior_mode="residual"``).

With the default ``"post_hoc"`` mode the network is trained alone and the item prior is
added to its logits afterwards. In ``"residual"`` mode the loss already sees
``network logits + prior`` at every training target, so the network learns what the
prior misses. Two things keep that honest:

* **Causal prior.** The prior of a target at position ``t`` of a window uses only the
  items before the target: the user's rows before the window plus the window's inputs up
  to ``t`` (each distinct item once), as the whole-history prior does at inference.
* **Cross-fitting.** A prior fitted on every training row has seen each target next to
  the user's other items. Users are split into :data:`CROSS_FIT_FOLDS` folds and the
  targets of a user are scored with a prior fitted on the other folds only. Validation,
  scoring and export use the prior fitted on every training row, as in ``"post_hoc"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model.item_prior import cooccurrence_gram, ease_matrix

PRIOR_MODES = ("post_hoc", "residual")
"""Values of ``item_prior_mode``."""

CROSS_FIT_FOLDS = 5
"""User folds of the cross-fitted training prior (each fold's prior sees 80 % of users)."""


@dataclass
class WindowContext:
    """Where each training window sits in its user's history.

    Attributes
    ----------
    users
        ``(n_windows,)`` user code of each window (the row codes of the prior histories).
    starts
        ``(n_windows,)`` number of that user's history rows (in time order) before the
        window's first item.
    """

    users: np.ndarray
    starts: np.ndarray


def fold_matrices(
    rows: np.ndarray, items: np.ndarray, n_items: int, l2: float, weight: float,
    folds: int = CROSS_FIT_FOLDS, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-fitted EASE priors: ``weight * B_k`` fitted without the users of fold ``k``.

    The Gram matrix is additive over users, so each fold's matrix is ``G - G_k``.

    Returns
    -------
    user_fold : numpy.ndarray
        ``(max(rows) + 1,)`` fold of each row code (a seeded balanced assignment).
    matrices : numpy.ndarray
        ``(folds, n_items, n_items)`` float32.
    """
    rows = np.asarray(rows, dtype=np.int64)
    n_users = int(rows.max()) + 1 if len(rows) else 0
    user_fold = np.random.default_rng(seed).permutation(n_users) % folds
    grams = [cooccurrence_gram(rows[user_fold[rows] == k], items[user_fold[rows] == k],
                               n_items) for k in range(folds)]
    total = np.sum(grams, axis=0)
    matrices = np.stack([
        (weight * ease_matrix(total - gram, l2)).astype(np.float32) for gram in grams
    ])
    return user_fold, matrices


class CausalPrior:
    """Per-position prior logits of training windows, from cross-fitted fold matrices.

    Parameters
    ----------
    user_fold, matrices
        From :func:`fold_matrices` (``weight`` included).
    history_users, history_items
        Every training row, sorted by (user, time): the rows before each window.
    context
        Each window's user and start in that history.
    device
        Where the prior logits are computed.
    """

    def __init__(
        self, user_fold: np.ndarray, matrices: np.ndarray, history_users: np.ndarray,
        history_items: np.ndarray, context: WindowContext, device: torch.device,
    ) -> None:
        n_items = matrices.shape[1]
        padded = np.zeros((matrices.shape[0], n_items + 1, n_items), dtype=np.float32)
        padded[:, 1:] = matrices  # row 0 (padding) adds nothing
        self.matrices = torch.as_tensor(padded, device=device)
        self.n_items = n_items
        history_users = np.asarray(history_users, dtype=np.int64)
        self.history_items = np.asarray(history_items, dtype=np.int64)
        n_users = max(int(history_users.max()) + 1 if len(history_users) else 0,
                      int(np.max(context.users, initial=-1)) + 1)
        self.user_first_row = np.searchsorted(history_users, np.arange(n_users))
        self.window_fold = np.asarray(user_fold, dtype=np.int64)[context.users]
        self.window_users = np.asarray(context.users, dtype=np.int64)
        self.window_starts = np.asarray(context.starts, dtype=np.int64)
        self.device = device

    def _prefix_indicator(self, windows: np.ndarray) -> torch.Tensor:
        """0/1 ``(b, n_items + 1)``: the items of each window's user before the window."""
        lengths = self.window_starts[windows]
        first = self.user_first_row[self.window_users[windows]]
        owner = np.repeat(np.arange(len(windows)), lengths)
        offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        items = self.history_items[np.repeat(first, lengths) + offset]
        indicator = torch.zeros(len(windows), self.n_items + 1, device=self.device)
        indicator[torch.as_tensor(owner, device=self.device),
                  torch.as_tensor(items, device=self.device)] = 1.0
        indicator[:, 0] = 0.0
        return indicator

    def logits(self, windows: np.ndarray, inputs: torch.Tensor) -> torch.Tensor:
        """Prior logits ``(b, L, n_items)`` after each input of the given windows.

        Parameters
        ----------
        windows
            Indices of the batch's windows in the training set.
        inputs
            ``(b, L)`` their left-padded inputs (a window without its last item).
        """
        folds = torch.as_tensor(self.window_fold[windows], device=self.device)
        prefix = self._prefix_indicator(windows)
        base = torch.empty(len(windows), self.n_items, device=self.device)
        for k in torch.unique(folds).tolist():
            rows = folds == k
            base[rows] = prefix[rows, 1:] @ self.matrices[k, 1:]
        # an item counts once: drop repeats of the prefix and of earlier inputs
        first = (inputs != 0) & (prefix.gather(1, inputs) == 0) & _first_in_row(inputs)
        contributions = self.matrices[folds[:, None], inputs * first]
        return contributions.cumsum(1) + base[:, None, :]


def _first_in_row(inputs: torch.Tensor) -> torch.Tensor:
    """True where ``inputs[r, c]`` does not occur earlier in row ``r``."""
    length = inputs.shape[1]
    keys = inputs * length + torch.arange(length, device=inputs.device)
    ordered, order = torch.sort(keys, dim=1)
    same_item = torch.zeros_like(inputs, dtype=torch.bool)
    same_item[:, 1:] = (ordered[:, 1:] // length) == (ordered[:, :-1] // length)
    first = torch.empty_like(same_item)
    first.scatter_(1, order, ~same_item)
    return first
