"""Item-item priors: co-occurrence Gram, closed-form EASE, the low-rank ridge autoencoder,
and the network's prior term."""

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
    low_rank_ridge,
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


@pytest.mark.parametrize("kind, rank, match", [
    ("svd", 8, "item_prior_kind"),
    (None, 8, "item_prior_kind"),
    ("low_rank", 0, "item_prior_rank"),
    ("low_rank", 2.5, "item_prior_rank"),
    ("low_rank", True, "item_prior_rank"),
])
def test_bad_prior_kind_or_rank_is_named(kind, rank, match):
    with pytest.raises(InvalidParameterError, match=match):
        check_prior_params(1.0, 10.0, kind, rank)


def _ridge_autoencoder(x: np.ndarray, l2: float) -> np.ndarray:
    gram = x.T @ x
    return np.linalg.solve(gram + l2 * np.eye(len(gram)), gram)


def _pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(x)
    return rows, cols + 1


def test_low_rank_at_full_rank_is_the_ridge_autoencoder():
    rng = np.random.default_rng(2)
    x = (rng.random((60, 9)) < 0.3).astype(float)
    factors, scales = low_rank_ridge(*_pairs(x), 9, rank=9, l2=2.5)
    np.testing.assert_allclose(factors.T @ factors, np.eye(9), atol=1e-10)
    np.testing.assert_allclose((factors * scales) @ factors.T, _ridge_autoencoder(x, 2.5),
                               atol=1e-10)


def test_low_rank_keeps_the_top_singular_directions():
    rng = np.random.default_rng(3)
    # three user groups with their own items: a clear gap after the third singular value
    groups = rng.integers(0, 3, size=200)
    x = (rng.random((200, 30)) < 0.04).astype(float)
    for g in range(3):
        x[np.ix_(groups == g, range(10 * g, 10 * g + 10))] = rng.random(
            ((groups == g).sum(), 10)) < 0.8
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    factors, scales = low_rank_ridge(*_pairs(x), 30, rank=3, l2=7.0, seed=5)
    np.testing.assert_allclose(factors @ factors.T, vt[:3].T @ vt[:3], atol=1e-6)
    np.testing.assert_allclose(scales, s[:3] ** 2 / (s[:3] ** 2 + 7.0), rtol=1e-8)


def test_low_rank_pads_when_there_are_fewer_rows_than_the_rank():
    x = np.array([[1, 1, 0, 0, 1, 0], [0, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 1]], dtype=float)
    factors, scales = low_rank_ridge(*_pairs(x), 6, rank=5, l2=0.5)
    assert factors.shape == (6, 5) and np.all(factors[:, 3:] == 0) and np.all(scales[3:] == 0)
    # X has rank 3, so its top 3 directions give the full ridge solution
    np.testing.assert_allclose((factors * scales) @ factors.T, _ridge_autoencoder(x, 0.5),
                               atol=1e-10)


def test_low_rank_ignores_padding_and_repeats_and_is_reproducible():
    rng = np.random.default_rng(4)
    x = (rng.random((40, 12)) < 0.3).astype(float)
    rows, items = _pairs(x)
    noisy_rows = np.concatenate([rows, rows[:10], [0, 3]]) * 7  # repeats, gaps in row codes
    noisy_items = np.concatenate([items, items[:10], [0, 0]])  # padding
    clean = low_rank_ridge(rows, items, 12, rank=4, l2=1.0, seed=9)
    noisy = low_rank_ridge(noisy_rows, noisy_items, 12, rank=4, l2=1.0, seed=9)
    for a, b in zip(clean, noisy, strict=True):
        np.testing.assert_array_equal(a, b)


def test_low_rank_of_no_interactions_is_zero():
    factors, scales = low_rank_ridge(np.array([0, 1]), np.array([0, 0]), 5, rank=3, l2=1.0)
    assert not factors.any() and not scales.any() and factors.shape == (5, 3)


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


@torch.no_grad()
def test_low_rank_network_adds_the_rows_of_its_factorised_matrix():
    torch.manual_seed(1)
    n_items = 12
    net = SASRecNetwork(n_items, 6, hidden_units=8, item_prior=True, item_prior_rank=3).eval()
    assert net.has_item_prior and net.item_prior_matrix is None
    factors, scales = torch.randn(n_items, 3), torch.rand(3)
    net.item_prior_factors.copy_(factors)
    net.item_prior_scales.copy_(scales)
    prior = factors @ torch.diag(scales) @ factors.T
    prior.fill_diagonal_(0.0)  # an item never scores itself, as with EASE
    item_seq = torch.tensor([[0, 0, 3, 5]])
    history = torch.tensor([[3, 5, 3, 12, 0]])  # a repeat, padding
    expected = net.encode_last(item_seq) @ net.item_weights().T + prior[2] + prior[4] + prior[11]
    torch.testing.assert_close(net(item_seq, history), expected)


def test_network_without_prior_has_no_buffer_and_ignores_history():
    net = SASRecNetwork(10, 4, hidden_units=8).eval()
    assert not net.has_item_prior
    assert not any(name.startswith("item_prior") for name in net.state_dict())
    seq = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        torch.testing.assert_close(net(seq, torch.tensor([[9, 8]])), net(seq))
    with pytest.raises(RuntimeError, match="item_prior=True"):
        net.history_prior(seq)
