import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqrec_runtime.errors import InvalidParameterError, InvalidParameterTypeError
from seqrec_trainer.evaluation.metrics import (
    hit_rate_at_k,
    hits_at_k,
    mrr,
    ndcg_at_k,
    ndcg_gains_at_k,
    pessimistic_ranks,
    summarize,
)

RANKS = np.array([0, 1, 4, 9, 10, 50])


def test_hit_rate_hand_computed():
    assert hit_rate_at_k(RANKS, 10) == pytest.approx(4 / 6)
    assert hit_rate_at_k(RANKS, 1) == pytest.approx(1 / 6)
    assert hit_rate_at_k(RANKS, 100) == 1.0
    np.testing.assert_array_equal(hits_at_k(RANKS, 5), [1, 1, 1, 0, 0, 0])


def test_ndcg_hand_computed():
    expected = (1 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 6
    assert ndcg_at_k(RANKS, 10) == pytest.approx(expected)
    np.testing.assert_allclose(ndcg_gains_at_k([0, 1, 2], 2), [1.0, 1 / math.log2(3), 0.0])


def test_mrr_hand_computed():
    expected = np.mean([1, 1 / 2, 1 / 5, 1 / 10, 1 / 11, 1 / 51])
    assert mrr(RANKS) == pytest.approx(expected)


def test_summarize_keys_and_values():
    out = summarize(RANKS, ks=(10, 1))
    assert list(out) == ["HR@1", "HR@10", "NDCG@1", "NDCG@10", "MRR"]
    assert out["HR@10"] == pytest.approx(4 / 6)
    assert out["NDCG@1"] == pytest.approx(1 / 6)
    assert set(summarize(RANKS)) == {
        "HR@1",
        "HR@5",
        "HR@10",
        "HR@20",
        "NDCG@1",
        "NDCG@5",
        "NDCG@10",
        "NDCG@20",
        "MRR",
    }


def test_empty_ranks_give_nan():
    out = summarize([], ks=(10,))
    assert all(math.isnan(v) for v in out.values())


@pytest.mark.parametrize("bad", [[-1], [0.5], [[0, 1]], ["a"]])
def test_bad_ranks_raise(bad):
    with pytest.raises(InvalidParameterError):
        hit_rate_at_k(bad, 10)


def test_bad_k_raises():
    with pytest.raises(InvalidParameterError):
        ndcg_at_k(RANKS, 0)
    with pytest.raises(InvalidParameterTypeError):
        hit_rate_at_k(RANKS, 2.0)
    with pytest.raises(InvalidParameterTypeError):
        summarize(RANKS, ks=(True,))


def test_pessimistic_ties():
    target = np.array([0.5, 0.5, 1.0])
    others = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1], [1.0, 1.0, 1.0]])
    mask = np.array([[True, True, True], [False, True, True], [True, True, True]])
    np.testing.assert_array_equal(pessimistic_ranks(target, others), [2, 2, 3])
    np.testing.assert_array_equal(pessimistic_ranks(target, others, mask), [2, 1, 3])


def test_constant_model_ranks_last():
    scores = np.zeros((4, 99), dtype=np.float32)
    ranks = pessimistic_ranks(np.zeros(4), scores)
    np.testing.assert_array_equal(ranks, [99] * 4)
    assert hit_rate_at_k(ranks, 10) == 0.0


def test_nan_scores():
    ranks = pessimistic_ranks(np.array([np.nan, 0.0]), np.array([[1.0, np.nan], [np.nan, -1.0]]))
    np.testing.assert_array_equal(ranks, [2, 0])


@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=30),
    st.integers(-3, 3),
)
def test_pessimistic_rank_matches_sorting(other_values, target_value):
    others = np.array(other_values, dtype=np.float64)
    rank = pessimistic_ranks(np.array([float(target_value)]), others[None, :])[0]
    # sort descending with the target placed after every tie: its index is the rank
    ordered = sorted(
        [(v, 0) for v in other_values] + [(target_value, 1)], key=lambda x: (-x[0], x[1])
    )
    assert rank == ordered.index((target_value, 1))
