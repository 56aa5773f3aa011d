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


def ce_loss(h, targets, outcomes, items, *, label_smoothing=0.0, weighted=False, **_):
    """Full softmax cross-entropy over all items ("SASRec+"); OUTCOME weights targets.

    Computed by :func:`full_softmax_cross_entropy` (chunked on CPU: same value and
    gradients as ``F.cross_entropy`` without materialising all logits).
    """
    weights = _mean_weights(outcomes.to(h.dtype), weighted)
    return full_softmax_cross_entropy(h, items, targets - 1, weights, label_smoothing)


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
