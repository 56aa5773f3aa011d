"""FastDropout behaves like inverted dropout: right drop share, unbiased, identity in eval."""

from __future__ import annotations

import pytest
import torch
from seqrec_trainer.model.dropout import FastDropout, keep_mask


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5])
def test_drop_share_and_scale(rate):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([400, 1001]), rate, torch.device("cpu"), torch.float32)
    dropped = (mask == 0).float().mean().item()
    assert abs(dropped - rate) < 0.005  # 400k draws: std ~ 0.0008
    kept_values = mask[mask != 0].unique()
    assert kept_values.numel() == 1
    assert kept_values.item() == pytest.approx(1.0 / (1.0 - rate), rel=1e-4)
    assert mask.mean().item() == pytest.approx(1.0, abs=0.01)  # unbiased in expectation


def test_mask_is_not_periodic_across_slices():
    """The four 16-bit slices of one random word are independent draws."""
    torch.manual_seed(1)
    mask = keep_mask(torch.Size([200_000]), 0.5, torch.device("cpu"), torch.float32) > 0
    grouped = mask.view(-1, 4).float()
    corr = torch.corrcoef(grouped.T)
    off_diagonal = corr[~torch.eye(4, dtype=torch.bool)]
    assert off_diagonal.abs().max().item() < 0.02


def test_identity_in_eval_and_at_rate_zero():
    x = torch.randn(3, 5, 7)
    layer = FastDropout(0.3).eval()
    assert layer(x) is x
    assert FastDropout(0.0).train()(x) is x


def test_gradient_is_the_mask():
    torch.manual_seed(2)
    x = torch.randn(6, 50, requires_grad=True)
    y = FastDropout(0.4).train()(x)
    y.sum().backward()
    kept = y.detach() != 0
    assert torch.equal(kept, x.grad != 0)
    expected = torch.full_like(x.grad[kept], 1 / 0.6)
    torch.testing.assert_close(x.grad[kept], expected, rtol=1e-4, atol=0)


def test_odd_sizes_and_reproducible_under_seed():
    torch.manual_seed(3)
    a = FastDropout(0.2).train()(torch.ones(3, 7, 5))
    torch.manual_seed(3)
    b = FastDropout(0.2).train()(torch.ones(3, 7, 5))
    assert a.shape == (3, 7, 5)
    assert torch.equal(a, b)
