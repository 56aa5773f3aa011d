"""Stochastic shared embeddings: training-time replacement of input items."""

from __future__ import annotations

import torch
from seqrec_trainer.estimator.augment import replace_input_items
from seqrec_trainer.estimator.losses import ce_loss
from seqrec_trainer.estimator.training import training_step_loss
from seqrec_trainer.model import SASRecNetwork


def _windows(rows=400, width=30, n_items=50, seed=0):
    gen = torch.Generator().manual_seed(seed)
    seqs = torch.randint(1, n_items + 1, (rows, width), generator=gen)
    lengths = torch.randint(1, width + 1, (rows,), generator=gen)
    pad = torch.arange(width).unsqueeze(0) < (width - lengths).unsqueeze(1)
    return seqs.masked_fill(pad, 0)


def test_zero_probability_returns_the_input_and_draws_nothing():
    inputs = _windows()
    gen = torch.Generator().manual_seed(5)
    assert replace_input_items(inputs, 50, 0.0, gen) is inputs
    assert torch.equal(gen.get_state(), torch.Generator().manual_seed(5).get_state())


def test_replaces_about_prob_of_real_items_never_padding_and_stays_in_range():
    inputs = _windows()
    out = replace_input_items(inputs, 50, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(out == 0, inputs == 0)
    assert int(out.min()) >= 0 and int(out.max()) <= 50
    real = inputs != 0
    # a replacement may redraw the same item (1 in 50), so the changed share is ~0.3 * 49/50
    changed = float((out != inputs)[real].float().mean())
    assert abs(changed - 0.3 * 49 / 50) < 0.02, changed


def test_same_generator_seed_same_replacement():
    inputs = _windows()
    a = replace_input_items(inputs, 50, 0.2, torch.Generator().manual_seed(3))
    b = replace_input_items(inputs, 50, 0.2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, inputs)


def test_training_step_keeps_targets_and_only_changes_the_inputs():
    torch.manual_seed(0)
    network = SASRecNetwork(50, 29, hidden_units=16, num_blocks=1, dropout_rate=0.0).eval()
    windows = _windows(rows=16)
    kwargs = {"generator": torch.Generator().manual_seed(0)}
    with torch.no_grad():
        plain = training_step_loss(network, windows, None, ce_loss, {}, None, True)
        same = training_step_loss(network, windows, None, ce_loss, kwargs, None, True, 0.0)
        noisy = training_step_loss(network, windows, None, ce_loss, kwargs, None, True, 0.5)
    assert float(same) == float(plain)
    assert float(noisy) != float(plain)
