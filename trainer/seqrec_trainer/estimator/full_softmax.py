"""Full-softmax cross-entropy computed in cache-sized chunks of rows (CPU training speed).

``F.cross_entropy(h @ items.T, ...)`` materialises the ``(M, n_items)`` logits, their
log-softmax and their gradient: three passes over hundreds of MB per batch, bound by memory
bandwidth on a CPU. :class:`ChunkedSoftmaxCrossEntropy` computes the same loss and the same
gradients row chunk by row chunk so each chunk's logits stay in cache, and recomputes them in
the backward pass instead of storing them (an extra matmul is cheaper than the traffic).
Measured side by side on ML-1M shapes in ``bench/train_throughput.py`` (BENCHMARKS.md,
"Training speed").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Bytes of float32 logits per chunk: small enough for L3 on common CPUs, large enough
#: (about 300 rows at 3,416 items) for an efficient matmul. ``bench/preset_step.py`` times
#: the preset's step with half and twice this size side by side.
CHUNK_BYTES = 2**22


def chunk_rows(n_items: int) -> int:
    """Rows per chunk so that a chunk's logits take about :data:`CHUNK_BYTES`."""
    return max(16, CHUNK_BYTES // (4 * max(n_items, 1)))


class ChunkedSoftmaxCrossEntropy(torch.autograd.Function):
    """Per-target full-softmax cross-entropy with label smoothing, weighted sum reduction.

    ``forward(h, items, targets, weights, label_smoothing)`` returns
    ``sum_i weights_i * loss_i`` where ``loss_i = lse_i - (1 - eps) z_it - eps * mean_j z_ij``
    and ``z = h @ items.T`` (``targets`` are 0-based rows of ``items``). This is exactly
    ``F.cross_entropy(z, targets, reduction="none", label_smoothing=eps)`` weighted and
    summed.
    """

    @staticmethod
    def forward(ctx, h, items, targets, weights, label_smoothing):  # noqa: D102
        rows = chunk_rows(items.shape[0])
        lse = torch.empty(h.shape[0], dtype=h.dtype, device=h.device)
        target_logit = torch.empty_like(lse)
        for start in range(0, h.shape[0], rows):
            logits = h[start : start + rows] @ items.T
            lse[start : start + rows] = torch.logsumexp(logits, dim=1)
            picked = logits.gather(1, targets[start : start + rows, None])
            target_logit[start : start + rows] = picked.squeeze(1)
        # mean_j z_ij = h_i . mean_j items_j (linear, no extra pass over the logits)
        mean_logit = h @ items.mean(0)
        per_target = (
            lse - (1.0 - label_smoothing) * target_logit - label_smoothing * mean_logit
        )
        ctx.save_for_backward(h, items, targets, weights, lse)
        ctx.label_smoothing = label_smoothing
        return (per_target * weights).sum()

    @staticmethod
    def backward(ctx, grad_output):  # noqa: D102
        h, items, targets, weights, lse = ctx.saved_tensors
        eps = ctx.label_smoothing
        n_items = items.shape[0]
        rows = chunk_rows(n_items)
        scale = weights * grad_output
        grad_h = torch.empty_like(h)
        grad_items = torch.zeros_like(items)
        for start in range(0, h.shape[0], rows):
            stop = start + rows
            h_chunk = h[start:stop]
            coeff = scale[start:stop, None]
            # d loss_i / d z_ij = p_ij - (1 - eps) [j = t_i] - eps / n_items
            grad = (h_chunk @ items.T).sub_(lse[start:stop, None]).exp_()
            if eps:
                grad.sub_(eps / n_items)
            grad.scatter_add_(
                1, targets[start:stop, None], torch.full_like(coeff, -(1.0 - eps))
            )
            grad.mul_(coeff)
            grad_h[start:stop] = grad @ items
            grad_items.addmm_(grad.T, h_chunk)
        return grad_h, grad_items, None, None, None


def full_softmax_cross_entropy(
    h: torch.Tensor,
    items: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``sum_i weights_i * CE(h_i @ items.T, targets_i)``; chunked on CPU, fused elsewhere.

    Parameters
    ----------
    h
        Hidden states ``(M, d)``.
    items
        Output item table ``(n_items, d)``.
    targets
        0-based target rows ``(M,)``.
    weights
        Per-target weights ``(M,)`` (e.g. ``1 / M`` for a mean).
    label_smoothing
        Label smoothing in ``[0, 1)``.
    """
    if h.device.type != "cpu" or h.dtype != torch.float32:
        per_target = F.cross_entropy(
            h @ items.T, targets, reduction="none", label_smoothing=label_smoothing
        )
        return (per_target * weights).sum()
    return ChunkedSoftmaxCrossEntropy.apply(
        h, items, targets, weights.to(h.dtype), float(label_smoothing)
    )
