"""The chunked full-softmax cross-entropy equals ``F.cross_entropy`` in value and gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from seqrec_trainer.estimator.full_softmax import (
    ChunkedSoftmaxCrossEntropy,
    chunk_rows,
    full_softmax_cross_entropy,
)
from seqrec_trainer.estimator.losses import ce_loss


def _reference(h, items, targets, weights, eps):
    per = F.cross_entropy(h @ items.T, targets, reduction="none", label_smoothing=eps)
    return (per * weights).sum()


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("n_items,m", [(7, 3), (40_000, 37), (300, 1000)])
def test_value_and_gradients_match_f_cross_entropy_exactly_in_float64(eps, n_items, m):
    gen = torch.Generator().manual_seed(n_items + m)
    h = torch.randn(m, 16, generator=gen, dtype=torch.float64).requires_grad_()
    items = (0.3 * torch.randn(n_items, 16, generator=gen, dtype=torch.float64)).requires_grad_()
    targets = torch.randint(0, n_items, (m,), generator=gen)
    weights = torch.rand(m, generator=gen, dtype=torch.float64)

    got = ChunkedSoftmaxCrossEntropy.apply(h, items, targets, weights, eps)
    got_h, got_items = torch.autograd.grad(got, (h, items))
    want = _reference(h, items, targets, weights, eps)
    want_h, want_items = torch.autograd.grad(want, (h, items))

    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got_h, want_h, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got_items, want_items, rtol=1e-9, atol=1e-12)


def test_float32_cpu_path_matches_within_float_tolerance():
    gen = torch.Generator().manual_seed(0)
    m, n_items = 700, 3_416
    h = torch.randn(m, 32, generator=gen).requires_grad_()
    items = (0.2 * torch.randn(n_items, 32, generator=gen)).requires_grad_()
    targets = torch.randint(0, n_items, (m,), generator=gen)
    weights = torch.full((m,), 1.0 / m)
    assert m > chunk_rows(n_items)  # several chunks
    got = full_softmax_cross_entropy(h, items, targets, weights, 0.1)
    got_h, got_items = torch.autograd.grad(got, (h, items))
    want = _reference(h, items, targets, weights, 0.1)
    want_h, want_items = torch.autograd.grad(want, (h, items))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_h, want_h, rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(got_items, want_items, rtol=1e-3, atol=1e-6)


def test_chunks_cover_rows_not_multiple_of_chunk():
    n_items = 3_000
    rows = chunk_rows(n_items)
    m = 2 * rows + 5
    h = torch.randn(m, 8, dtype=torch.float64, requires_grad=True)
    items = torch.randn(n_items, 8, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, n_items, (m,))
    weights = torch.full((m,), 1.0 / m, dtype=torch.float64)
    got = ChunkedSoftmaxCrossEntropy.apply(h, items, targets, weights, 0.0)
    got_h = torch.autograd.grad(got, h)[0]
    want_h = torch.autograd.grad(_reference(h, items, targets, weights, 0.0), h)[0]
    torch.testing.assert_close(got_h, want_h, rtol=1e-9, atol=1e-12)
    assert bool((got_h[-5:] != 0).any())  # the tail chunk has gradients


def test_ce_loss_is_mean_or_outcome_weighted_mean():
    h = torch.randn(6, 4)
    items = torch.randn(9, 4)
    targets = torch.tensor([1, 2, 3, 9, 5, 1])  # 1-based
    outcomes = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 0.0])
    per = F.cross_entropy(h @ items.T, targets - 1, reduction="none")
    torch.testing.assert_close(ce_loss(h, targets, outcomes, items), per.mean())
    weighted = ce_loss(h, targets, outcomes, items, weighted=True)
    torch.testing.assert_close(weighted, (per * outcomes).sum() / outcomes.sum())
