"""Training objectives on hidden states of target positions.

Each loss takes the hidden states ``h`` ``(M, d)`` of the positions that have a target,
the target item indices ``(M,)`` (1-based), the per-target OUTCOME ``(M,)`` and the
item output table ``(n_items, d)`` (row ``j`` = item index ``j + 1``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .full_softmax import full_softmax_cross_entropy

LossFn = Callable[..., torch.Tensor]


def bce_loss(h, targets, outcomes, items, *, num_negatives, generator, **_):
    """SASRec paper loss: positive vs ``num_negatives`` uniform negatives, OUTCOME as soft label.

    The negative term is averaged over negatives, so the positive/negative balance does
    not depend on ``num_negatives``.
    """
    n_items = items.shape[0]
    pos = (h * items[targets - 1]).sum(-1)
    neg_idx = torch.randint(
        0, n_items, (h.shape[0], num_negatives), device=h.device, generator=generator
    )
    neg = torch.einsum("md,mkd->mk", h, items[neg_idx])
    pos_loss = F.binary_cross_entropy_with_logits(pos, outcomes, reduction="none")
    neg_loss = F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg), reduction="none")
    return (pos_loss + neg_loss.mean(-1)).mean()


def _weighted_mean(per_target: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return per_target.mean()
    return (per_target * weights).sum() / weights.sum().clamp_min(1e-12)


def _mean_weights(outcomes: torch.Tensor, weighted: bool) -> torch.Tensor:
    """Weights whose weighted sum is the (OUTCOME-weighted) mean over targets."""
    if not weighted:
        return torch.full_like(outcomes, 1.0 / max(outcomes.shape[0], 1))
    return outcomes / outcomes.sum().clamp_min(1e-12)


def ce_loss(
    h, targets, outcomes, items, *, label_smoothing=0.0, weighted=False, bpr_weight=0.0,
    num_negatives=1, generator=None, **_,
):
    """Full softmax cross-entropy over all items ("SASRec+"); OUTCOME weights targets.

    Computed by :func:`full_softmax_cross_entropy` (chunked on CPU: same value and
    gradients as ``F.cross_entropy`` without materialising all logits). With
    ``bpr_weight > 0`` the pairwise term of :func:`uniform_bpr_term` is added.
    """
    weights = _mean_weights(outcomes.to(h.dtype), weighted)
    loss = full_softmax_cross_entropy(h, items, targets - 1, weights, label_smoothing)
    if bpr_weight:
        loss = loss + bpr_weight * uniform_bpr_term(
            h, targets, items, weights, num_negatives=num_negatives, generator=generator
        )
    return loss


def uniform_bpr_term(h, targets, items, weights, *, num_negatives, generator):
    """Pairwise logistic (BPR) loss of each target against items drawn uniformly.

    ``num_negatives`` item indices are drawn uniformly per batch and shared by its rows;
    each target's term is ``mean_k softplus(z_k - z_target)`` over the negatives that are
    not its target, and ``weights`` combine the targets (they sum to one). Where the full
    softmax mostly shapes the head of the ranking, this term ranks the target above
    *typical* items, the long tail that uniformly sampled evaluation negatives come from.
    """
    n_items = items.shape[0]
    neg_idx = torch.randint(0, n_items, (num_negatives,), device=h.device, generator=generator)
    pos = (h * items[targets - 1]).sum(-1, keepdim=True)
    pairs = F.softplus(h @ items[neg_idx].T - pos)
    real = neg_idx.unsqueeze(0) != (targets - 1).unsqueeze(1)
    per_target = (pairs * real).sum(1) / real.sum(1).clamp_min(1)
    return (per_target * weights).sum()


def sampled_softmax_loss(
    h, targets, outcomes, items, *, num_negatives, generator, weighted=False, **_
):
    """Softmax over the target and ``num_negatives`` uniform negatives shared by the batch.

    Negatives equal to a row's target ("accidental hits") are masked out.
    """
    n_items = items.shape[0]
    neg_idx = torch.randint(0, n_items, (num_negatives,), device=h.device, generator=generator)
    pos = (h * items[targets - 1]).sum(-1, keepdim=True)
    neg = h @ items[neg_idx].T
    neg = neg.masked_fill(neg_idx.unsqueeze(0) == (targets - 1).unsqueeze(1), float("-inf"))
    logits = torch.cat([pos, neg], dim=1)
    zeros = torch.zeros(h.shape[0], dtype=torch.long, device=h.device)
    per_target = F.cross_entropy(logits, zeros, reduction="none")
    return _weighted_mean(per_target, outcomes if weighted else None)


def mse_loss(h, targets, outcomes, items, **_):
    """Regression of OUTCOME by the score of the target item."""
    pred = (h * items[targets - 1]).sum(-1)
    return F.mse_loss(pred, outcomes)


CLASSIFIER_LOSSES: dict[str, LossFn] = {
    "bce": bce_loss,
    "ce": ce_loss,
    "sampled_softmax": sampled_softmax_loss,
}
REGRESSOR_LOSSES: dict[str, LossFn] = {"mse": mse_loss}
