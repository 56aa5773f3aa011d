"""The ``"transitions"`` item prior: pair counts, neighbour tables, torch and numpy scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer.model import SASRecNetwork
from seqrec_trainer.model.item_prior import fit_item_prior
from seqrec_trainer.model.transition_prior import (
    RECENCY_DECAY,
    RECENT_ITEMS,
    TRANSITION_DECAY,
    transition_counts,
    transition_neighbors,
    transition_scores,
    transition_scores_numpy,
)


def _as_dict(source, target, count) -> dict:
    return {(int(a), int(b)): float(c) for a, b, c in zip(source, target, count, strict=True)}


def test_pairs_within_the_window_count_both_ways_with_distance_decay():
    rows = np.array([0, 0, 0, 0, 0])
    items = np.array([1, 2, 3, 4, 5])  # model indices; columns are 0..4
    counts = _as_dict(*transition_counts(rows, items, 5))
    assert counts[(0, 1)] == counts[(1, 0)] == 1.0
    assert counts[(0, 2)] == counts[(2, 0)] == TRANSITION_DECAY
    assert counts[(0, 3)] == TRANSITION_DECAY**2
    assert (0, 4) not in counts  # distance 4 is beyond the window
    assert counts[(1, 2)] == 1.0


def test_pairs_never_cross_users_skip_padding_and_self_pairs():
    rows = np.array([0, 0, 0, 1, 1, 1])
    items = np.array([0, 1, 1, 2, 3, 0])
    counts = _as_dict(*transition_counts(rows, items, 3))
    assert counts == {(1, 2): 1.0, (2, 1): 1.0}  # 1->1 is a self pair, 1|2 crosses users


def test_repeated_pairs_add_up():
    rows = np.array([0, 0, 1, 1, 2, 2])
    items = np.array([1, 2, 1, 2, 2, 1])
    counts = _as_dict(*transition_counts(rows, items, 2))
    assert counts == {(0, 1): 3.0, (1, 0): 3.0}


def test_neighbour_tables_keep_the_largest_cells_scaled_into_0_1():
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(300), 6)
    items = rng.integers(1, 21, len(rows))
    indices, weights = transition_neighbors(rows, items, 20, neighbors=4)
    assert indices.shape == weights.shape == (20, 4)
    assert weights.max() == pytest.approx(1.0) and weights.min() >= 0.0
    source, target, count = transition_counts(rows, items, 20)
    sums = np.bincount(source, weights=count, minlength=20)
    scaled = count / np.sqrt(sums[source])
    for item in range(20):
        cells = np.sort(scaled[source == item])[::-1][:4] / scaled.max()
        np.testing.assert_allclose(np.sort(weights[item])[::-1], cells, rtol=1e-6)
        assert item not in indices[item][weights[item] > 0]


def test_unused_slots_weigh_nothing():
    indices, weights = transition_neighbors(np.array([0, 0]), np.array([1, 2]), 5, neighbors=3)
    assert weights[0].tolist() == [1.0, 0.0, 0.0] and indices[0, 0] == 1
    assert not weights[2:].any()


def test_torch_scores_equal_the_numpy_reference_for_left_padded_rows():
    rng = np.random.default_rng(1)
    n_items = 30
    indices = rng.integers(0, n_items, (n_items, 5))
    weights = rng.random((n_items, 5)).astype(np.float32)
    histories = [rng.integers(0, n_items, n) for n in (1, 3, RECENT_ITEMS, 12)]
    width = 12
    item_seq = np.zeros((len(histories), width), dtype=np.int64)
    for row, history in enumerate(histories):
        item_seq[row, width - len(history):] = history + 1
    got = transition_scores(torch.as_tensor(item_seq), torch.as_tensor(indices),
                            torch.as_tensor(weights), n_items).numpy()
    expected = transition_scores_numpy(histories, indices, weights, n_items)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_scores_read_the_order_latest_item_first():
    indices = np.array([[1], [2], [0]])  # item column i -> neighbour (i + 1) % 3
    weights = np.ones((3, 1), dtype=np.float32)
    scores = transition_scores_numpy([np.array([0, 1])], indices, weights, 3)[0]
    assert scores.tolist() == [0.0, RECENCY_DECAY, 1.0]  # neighbour of the latest (1) is 2
    reversed_ = transition_scores_numpy([np.array([1, 0])], indices, weights, 3)[0]
    assert reversed_.tolist() == [0.0, 1.0, RECENCY_DECAY]


def test_a_network_adds_weight_times_the_prior_to_its_scores():
    torch.manual_seed(0)
    n_items = 12
    rows = np.repeat(np.arange(40), 5)
    items = np.random.default_rng(2).integers(1, n_items + 1, len(rows))
    network = SASRecNetwork(n_items, max_len=6, hidden_units=8, item_prior=True,
                            item_prior_neighbors=4).eval()
    plain = SASRecNetwork(n_items, max_len=6, hidden_units=8).eval()
    plain.load_state_dict({k: v for k, v in network.state_dict().items()
                           if not k.startswith("item_prior_")})
    fit_item_prior(network, (rows, items), n_items, kind="transitions", weight=2.5, l2=1.0)
    indices, weights = transition_neighbors(rows, items, n_items, 4)
    seq = torch.tensor([[0, 0, 3, 1, 4, 2], [5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        got = network(seq, history_items=torch.tensor([[1], [2]])) - plain(seq)
    expected = 2.5 * transition_scores_numpy([np.array([2, 0, 3, 1]), np.arange(4, 10)],
                                             indices, weights, n_items)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
