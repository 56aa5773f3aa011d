"""``future_targets``: each position trained against its next k items in one softmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from seqrec_runtime.errors import InvalidParameterError
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SASRecRegressorEstimator,
)
from seqrec_trainer.estimator.full_softmax import (
    ChunkedSoftmaxCrossEntropy,
    full_softmax_cross_entropy,
)
from seqrec_trainer.estimator.losses import ce_loss
from seqrec_trainer.estimator.training import later_targets, training_step_loss
from seqrec_trainer.model import SASRecNetwork


def test_later_targets_stay_inside_each_window():
    seqs = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 9]])
    got = later_targets(seqs, 3)
    assert got.shape == (2, 4, 3)
    torch.testing.assert_close(got[..., 0], seqs[:, 1:])
    # window 0, input position 2 (item 5): next items 6, 7, then the window ends
    assert got[0, 2].tolist() == [6, 7, 0]
    assert got[0, 3].tolist() == [7, 0, 0]
    assert got[1, 1].tolist() == [3, 4, 9]
    assert got[1, 3].tolist() == [9, 0, 0]  # nothing from row 0 leaks into row 1


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("n_items,m", [(7, 3), (300, 1000)])
def test_several_targets_per_row_equal_the_weighted_sum_of_cross_entropies(eps, n_items, m):
    gen = torch.Generator().manual_seed(n_items)
    k = 4
    h = torch.randn(m, 16, generator=gen, dtype=torch.float64).requires_grad_()
    items = (0.3 * torch.randn(n_items, 16, generator=gen, dtype=torch.float64)).requires_grad_()
    targets = torch.randint(0, n_items, (m, k), generator=gen)
    weights = torch.rand(m, k, generator=gen, dtype=torch.float64)
    weights[:, 2] = 0.0  # a missing target contributes nothing

    got = ChunkedSoftmaxCrossEntropy.apply(h, items, targets, weights, eps)
    got_h, got_items = torch.autograd.grad(got, (h, items))
    logits = h @ items.T
    want = sum(
        (weights[:, j] * F.cross_entropy(logits, targets[:, j], reduction="none",
                                         label_smoothing=eps)).sum()
        for j in range(k)
    )
    want_h, want_items = torch.autograd.grad(want, (h, items))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got_h, want_h, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got_items, want_items, rtol=1e-9, atol=1e-12)
    # the non-chunked path (float64 is not chunked) gives the same value
    torch.testing.assert_close(
        full_softmax_cross_entropy(h, items, targets, weights, eps), want, rtol=1e-10, atol=1e-10
    )


def test_ce_loss_weights_later_items_by_decay_normalised_per_position():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2, 8, generator=gen, dtype=torch.float64)
    items = torch.randn(10, 8, generator=gen, dtype=torch.float64)
    later = torch.tensor([[3, 5, 9], [4, 0, 0]])  # row 1: the window ends after one item
    ones = torch.ones(2, dtype=torch.float64)
    got = ce_loss(h, later[:, 0], ones, items, later=(later, (later != 0).double()),
                  future_decay=0.5)
    nll = -torch.log_softmax(h @ items.T, dim=1)
    row0 = (1.0 * nll[0, 2] + 0.5 * nll[0, 4] + 0.25 * nll[0, 8]) / 1.75
    row1 = nll[1, 3]
    torch.testing.assert_close(got, (row0 + row1) / 2)
    # one later item is exactly the next-item loss
    plain = ce_loss(h, later[:, 0], ones, items)
    one = ce_loss(h, later[:, 0], ones, items, later=(later[:, :1], ones[:, None]))
    torch.testing.assert_close(one, plain)


@pytest.mark.parametrize("with_outcomes", [False, True])
def test_packed_and_left_padded_batches_give_the_same_loss(with_outcomes):
    torch.manual_seed(0)
    network = SASRecNetwork(n_items=40, max_len=12, hidden_units=16, num_blocks=1,
                            num_heads=1, dropout_rate=0.0)
    seqs = torch.zeros(6, 13, dtype=torch.long)
    for row, length in enumerate([13, 5, 2, 1, 9, 13]):
        seqs[row, 13 - length:] = torch.randint(1, 41, (length,))
    outcomes = torch.rand(6, 13) if with_outcomes else None
    kwargs = {"weighted": with_outcomes, "future_decay": 0.7}
    padded = training_step_loss(network, seqs, outcomes, ce_loss, kwargs, None, False, 4)
    packed = training_step_loss(network, seqs, outcomes, ce_loss, kwargs, None, True, 4)
    torch.testing.assert_close(packed, padded)
    assert not torch.isclose(
        padded, training_step_loss(network, seqs, outcomes, ce_loss, kwargs, None, False, 1)
    )


def test_next_item_stays_first_when_later_items_weigh_less(make_recommender):
    """On a cycle (item i always followed by i + 1), decayed later targets keep i + 1 on top."""
    rng = np.random.default_rng(0)
    n_users, n_cycle = 200, 20
    lengths = rng.integers(6, 14, size=n_users)
    starts = rng.integers(0, n_cycle, size=n_users)
    step = np.concatenate([np.arange(n) for n in lengths])
    data = {
        "USER_ID": np.repeat(np.arange(n_users), lengths),
        "ITEM_ID": (np.repeat(starts, lengths) + step) % n_cycle,
        "TIMESTAMP": step,
    }
    recommender = make_recommender(max_len=6, hidden_units=32, epochs=25, learning_rate=0.01,
                                   future_targets=3, future_decay=0.5)
    recommender.train(interactions_ds=InteractionsDataset(data))
    user_ids, recs = recommender.recommend(data, top_k=3, return_user_ids=True)
    last = ((starts + lengths - 1) % n_cycle)[user_ids]
    assert float((recs[:, 0] == (last + 1) % n_cycle).mean()) >= 0.95
    assert float((recs[:, 1] == (last + 2) % n_cycle).mean()) >= 0.8


def test_refit_with_the_same_random_state_is_identical(synthetic_table, make_recommender):
    def scores():
        recommender = make_recommender(random_state=3, dropout_rate=0.3, future_targets=3)
        recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
        return recommender.score_items(synthetic_table)

    np.testing.assert_array_equal(scores(), scores())


@pytest.mark.parametrize(
    ("cls", "params", "match"),
    [
        (SASRecClassifierEstimator, {"future_targets": 0}, "future_targets"),
        (SASRecClassifierEstimator, {"future_targets": 2.5}, "future_targets"),
        (SASRecClassifierEstimator, {"future_targets": True}, "future_targets"),
        (SASRecClassifierEstimator, {"future_decay": 0.0}, "future_decay"),
        (SASRecClassifierEstimator, {"future_decay": 1.5}, "future_decay"),
        (SASRecClassifierEstimator, {"future_targets": 3, "loss_fn_name": "bce"},
         "loss_fn_name='ce'"),
        (SASRecRegressorEstimator, {"future_targets": 3}, "loss_fn_name='ce'"),
    ],
)
def test_invalid_future_parameters_are_typed_errors(cls, params, match):
    estimator = cls(hidden_units=8, max_len=4, epochs=1, **params)
    sequences = np.array([[0, 1, 2, 3, 1], [2, 3, 1, 2, 3]])
    with pytest.raises(InvalidParameterError, match=match):
        estimator.fit(sequences, 3)
