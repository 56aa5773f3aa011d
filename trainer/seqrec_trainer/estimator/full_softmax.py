"""Full-softmax cross-entropy computed in cache-sized chunks of rows (CPU training speed).

``F.cross_entropy(h @ items.T, ...)`` materialises the ``(M, n_items)`` logits, their
log-softmax and their gradient: three passes over hundreds of MB per batch, bound by memory
bandwidth on a CPU. :class:`ChunkedSoftmaxCrossEntropy` computes the same loss and the same
gradients row chunk by row chunk so each chunk's logits stay in cache, and recomputes them in
the backward pass instead of storing them (an extra matmul is cheaper than the traffic).
Measured side by side on ML-1M shapes in ``bench/train_throughput.py`` (BENCHMARKS.md,
"Kernels seqrec replaces").
"""

from __future__ import annotations

import torch

#: Bytes of float32 logits per chunk: small enough for L2/L3 on common CPUs.
CHUNK_BYTES = 2**21


def chunk_rows(n_items: int) -> int:
    """Rows per chunk so that a chunk's logits take about :data:`CHUNK_BYTES`."""
    return max(16, CHUNK_BYTES // (4 * max(n_items, 1)))


class ChunkedSoftmaxCrossEntropy(torch.autograd.Function):
    """Full-softmax cross-entropy with label smoothing, weighted sum over (row, target).

    ``forward(h, items, targets, weights, label_smoothing)`` with ``targets`` and
    ``weights`` of shape ``(M, k)`` (or ``(M,)``) returns ``sum_ik weights_ik * loss_ik`` where
    ``loss_ik = lse_i - (1 - eps) z_{i,t_ik} - eps * mean_j z_ij`` and ``z = h @ items.T``
    (``targets`` are 0-based rows of ``items``). For ``k = 1`` this is exactly
    ``F.cross_entropy(z, targets, reduction="none", label_smoothing=eps)`` weighted and
    summed; ``k > 1`` scores several targets of a row against one softmax (one pass over
    the logits whatever ``k``).
    """

    @staticmethod
    def forward(ctx, h, items, targets, weights, label_smoothing):  # noqa: D102
        if targets.dim() == 1:
            targets, weights = targets[:, None], weights[:, None]
        rows = chunk_rows(items.shape[0])
        lse = torch.empty(h.shape[0], dtype=h.dtype, device=h.device)
        target_logit = torch.empty(targets.shape, dtype=h.dtype, device=h.device)
        for start in range(0, h.shape[0], rows):
            logits = h[start : start + rows] @ items.T
            lse[start : start + rows] = torch.logsumexp(logits, dim=1)
            target_logit[start : start + rows] = logits.gather(1, targets[start : start + rows])
        # mean_j z_ij = h_i . mean_j items_j (linear, no extra pass over the logits)
        mean_logit = h @ items.mean(0)
        row_weight = weights.sum(1)
        loss = (
            (row_weight * (lse - label_smoothing * mean_logit)).sum()
            - (1.0 - label_smoothing) * (weights * target_logit).sum()
        )
        ctx.save_for_backward(h, items, targets, weights, lse)
        ctx.label_smoothing = label_smoothing
        return loss

    @staticmethod
    def backward(ctx, grad_output):  # noqa: D102
        h, items, targets, weights, lse = ctx.saved_tensors
        eps = ctx.label_smoothing
        n_items = items.shape[0]
        rows = chunk_rows(n_items)
        scale = weights * grad_output
        row_scale = scale.sum(1, keepdim=True)
        grad_h = torch.empty_like(h)
        grad_items = torch.zeros_like(items)
        for start in range(0, h.shape[0], rows):
            stop = start + rows
            h_chunk = h[start:stop]
            # d loss_i / d z_ij = W_i (p_ij - eps / n_items) - (1 - eps) sum_k w_ik [j = t_ik]
            grad = (h_chunk @ items.T).sub_(lse[start:stop, None]).exp_()
            if eps:
                grad.sub_(eps / n_items)
            grad.mul_(row_scale[start:stop])
            grad.scatter_add_(1, targets[start:stop], scale[start:stop] * -(1.0 - eps))
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
    """``sum_ik weights_ik * CE(h_i @ items.T, targets_ik)``; chunked on CPU, fused elsewhere.

    Parameters
    ----------
    h
        Hidden states ``(M, d)``.
    items
        Output item table ``(n_items, d)``.
    targets
        0-based target rows, ``(M,)`` or ``(M, k)`` for several targets per row.
    weights
        Per-target weights of the same shape (e.g. ``1 / M`` for a mean); a target of
        weight 0 contributes nothing (its index must still be a valid row).
    label_smoothing
        Label smoothing in ``[0, 1)``.
    """
    if targets.dim() == 1:
        targets, weights = targets[:, None], weights[:, None]
    if h.device.type != "cpu" or h.dtype != torch.float32:
        log_p = torch.log_softmax(h @ items.T, dim=1)
        picked = (weights * log_p.gather(1, targets)).sum()
        smooth = (weights.sum(1) * log_p.mean(1)).sum()
        return -(1.0 - label_smoothing) * picked - label_smoothing * smooth
    return ChunkedSoftmaxCrossEntropy.apply(
        h, items, targets, weights.to(h.dtype), float(label_smoothing)
    )
