"""Item-item prior: co-occurrence Gram, closed-form EASE, and the network's prior term."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.model import SASRecNetwork
from seqrec_trainer.model.item_prior import (
    check_prior_params,
    check_prior_size,
    cooccurrence_gram,
    ease_matrix,
)


def _dense(rows, items, n_items):
    x = np.zeros((max(rows) + 1, n_items))
    for r, i in zip(rows, items, strict=True):
        if i > 0:
            x[r, i - 1] = 1.0
    return x


def test_gram_counts_rows_holding_both_items_once_each():
    # row 0: items 1, 2, 2 (repeat), pad; row 5: items 2, 3; row 9: item 1
    rows = [0, 0, 0, 0, 5, 5, 9]
    items = [1, 2, 2, 0, 2, 3, 1]
    gram = cooccurrence_gram(np.array(rows), np.array(items), 4)
    expected = np.array([
        [2, 1, 0, 0],
        [1, 2, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 0],
    ], dtype=float)
    np.testing.assert_array_equal(gram, expected)


def test_gram_matches_dense_product_across_chunks(monkeypatch):
    import seqrec_trainer.model.item_prior as item_prior

    monkeypatch.setattr(item_prior, "_ROWS_PER_CHUNK", 7)  # many chunks, gaps in row codes
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 50, size=400) * 3
    items = rng.integers(0, 21, size=400)
    x = _dense(rows.tolist(), items.tolist(), 20)
    np.testing.assert_array_equal(cooccurrence_gram(rows, items, 20), x.T @ x)


def test_ease_solves_each_column_ridge_regression_without_itself():
    rng = np.random.default_rng(1)
    x = (rng.random((60, 9)) < 0.3).astype(float)
    l2 = 2.5
    weights = ease_matrix(x.T @ x, l2)
    assert np.all(np.diag(weights) == 0)
    for j in range(9):  # independent derivation: ridge of column j on the other columns
        others = np.delete(np.arange(9), j)
        a = x[:, others]
        solution = np.linalg.solve(a.T @ a + l2 * np.eye(8), a.T @ x[:, j])
        np.testing.assert_allclose(weights[others, j], solution, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("weight, l2, match", [
    (-1.0, 10.0, "item_prior_weight"),
    (float("nan"), 10.0, "item_prior_weight"),
    (True, 10.0, "item_prior_weight"),
    ("2", 10.0, "item_prior_weight"),
    (1.0, 0.0, "item_prior_l2"),
    (1.0, float("inf"), "item_prior_l2"),
    (1.0, None, "item_prior_l2"),
])
def test_bad_prior_parameters_are_named(weight, l2, match):
    with pytest.raises(InvalidParameterError, match=match):
        check_prior_params(weight, l2)


def test_zero_weight_is_valid():
    check_prior_params(0, 1)


def test_too_large_catalogue_is_refused_with_the_fix(monkeypatch):
    import seqrec_trainer.model.item_prior as item_prior

    monkeypatch.setattr(item_prior, "MAX_PRIOR_ITEMS", 100)
    check_prior_size(100)
    with pytest.raises(InvalidParameterError, match="item_prior_weight=0"):
        check_prior_size(101)


@torch.no_grad()
def test_network_adds_the_rows_of_each_distinct_history_item():
    torch.manual_seed(0)
    n_items = 12
    net = SASRecNetwork(n_items, 6, hidden_units=8, item_prior=True).eval()
    prior = torch.randn(n_items, n_items)
    net.item_prior_matrix.copy_(prior)
    item_seq = torch.tensor([[0, 0, 3, 5], [1, 2, 3, 4]])
    history = torch.tensor([[3, 5, 3, 7, 0, 0], [1, 2, 3, 4, 12, 0]])  # repeats, padding
    plain = net.encode_last(item_seq) @ net.item_weights().T
    expected = plain.clone()
    expected[0] += prior[2] + prior[4] + prior[6]  # items 3, 5, 7 once each
    expected[1] += prior[0] + prior[1] + prior[2] + prior[3] + prior[11]
    torch.testing.assert_close(net(item_seq, history), expected)
    # without history_items the input window is the history
    window = plain.clone()
    window[0] += prior[2] + prior[4]
    window[1] += prior[0] + prior[1] + prior[2] + prior[3]
    torch.testing.assert_close(net(item_seq), window)


def test_network_without_prior_has_no_buffer_and_ignores_history():
    net = SASRecNetwork(10, 4, hidden_units=8).eval()
    assert "item_prior_matrix" not in net.state_dict()
    seq = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        torch.testing.assert_close(net(seq, torch.tensor([[9, 8]])), net(seq))
    with pytest.raises(RuntimeError, match="item_prior=True"):
        net.history_prior(seq)
