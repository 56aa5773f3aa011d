"""The pairwise (BPR) term that ``bpr_weight`` adds to the full-softmax CE loss."""

from __future__ import annotations

import math

import torch
from seqrec_trainer.estimator.losses import ce_loss, uniform_bpr_term


def _inputs(m=6, n_items=9, d=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(m, d, generator=gen, dtype=torch.float64)
    items = torch.randn(n_items, d, generator=gen, dtype=torch.float64)
    targets = torch.randint(1, n_items + 1, (m,), generator=gen)
    return h, items, targets


def test_bpr_term_matches_a_hand_loop_and_skips_accidental_hits():
    h, items, targets = _inputs()
    weights = torch.rand(len(targets), dtype=torch.float64)
    weights /= weights.sum()
    got = uniform_bpr_term(h, targets, items, weights, num_negatives=20,
                           generator=torch.Generator().manual_seed(3))
    negatives = torch.randint(0, items.shape[0], (20,), generator=torch.Generator().manual_seed(3))
    expected = 0.0
    for i, t in enumerate(targets.tolist()):
        pos = float(h[i] @ items[t - 1])
        terms = [math.log1p(math.exp(float(h[i] @ items[j]) - pos))
                 for j in negatives.tolist() if j != t - 1]
        expected += float(weights[i]) * sum(terms) / len(terms)
    assert any(j == t - 1 for t in targets.tolist() for j in negatives.tolist()), \
        "the seed must produce at least one accidental hit for this test to mean anything"
    assert abs(float(got) - expected) < 1e-10


def test_zero_weight_is_the_plain_ce_loss_and_a_positive_weight_adds_the_term():
    h, items, targets = _inputs(seed=1)
    ones = torch.ones(len(targets), dtype=torch.float64)
    plain = ce_loss(h, targets, ones, items)
    zero = ce_loss(h, targets, ones, items, bpr_weight=0.0, num_negatives=5,
                   generator=torch.Generator().manual_seed(0))
    assert float(zero) == float(plain)
    mixed = ce_loss(h, targets, ones, items, bpr_weight=2.0, num_negatives=5,
                    generator=torch.Generator().manual_seed(0))
    term = uniform_bpr_term(h, targets, items, ones / len(targets), num_negatives=5,
                            generator=torch.Generator().manual_seed(0))
    assert abs(float(mixed) - float(plain) - 2.0 * float(term)) < 1e-10


def test_a_gradient_step_on_the_term_raises_the_target_above_the_negatives():
    h, items, targets = _inputs(m=1, n_items=50, seed=2)
    h.requires_grad_()
    weights = torch.ones(1, dtype=torch.float64)

    def margin():
        scores = (h @ items.T).detach()[0]
        return float(scores[targets[0] - 1] - scores.mean())

    before = margin()
    loss = uniform_bpr_term(h, targets, items, weights, num_negatives=49,
                            generator=torch.Generator().manual_seed(0))
    loss.backward()
    with torch.no_grad():
        h -= 0.5 * h.grad
    assert margin() > before
