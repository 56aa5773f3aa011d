import math

import numpy as np
import pytest
from seqrec_runtime.errors import (
    EmptyInputError,
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
    SchemaError,
)
from seqrec_trainer.evaluation.protocols import (
    compute_ranks,
    evaluate,
    evaluate_many,
    sample_negatives,
)

ITEMS = [10, 20, 30, 40, 50, 60]
SCORES = {
    1: [9, 8, 5, 6, 5, 1],  # seen 10, 20; target 30 -> others 40 (6 > 5), 50 (tie) -> rank 2
    2: [1, 2, 3, 4, 5, 6],  # seen 30; target 60 -> rank 0
    3: [3, 0, 0, 0, 1, 4],  # seen 10..40; target 10 (in history) -> others 50, 60 -> rank 1
}
INPUT = {
    "USER_ID": np.array([1, 1, 2, 3, 3, 3, 3, 4]),
    "ITEM_ID": np.array([10, 20, 30, 10, 20, 30, 40, 10]),
    "TIMESTAMP": np.array([1, 2, 1, 1, 2, 3, 4, 1]),
}
TARGETS = {"USER_ID": np.array([3, 1, 2, 4, 5]), "ITEM_ID": np.array([10, 30, 60, 99, 10])}


@pytest.fixture
def model(fake_model_cls):
    return fake_model_cls(ITEMS, SCORES)


def test_full_protocol_hand_computed(model):
    res = evaluate(model, INPUT, TARGETS, protocol="full", ks=(1, 2, 3))
    assert res["HR@1"] == pytest.approx(1 / 3)
    assert res["HR@2"] == pytest.approx(2 / 3)
    assert res["HR@3"] == pytest.approx(1.0)
    assert res["NDCG@2"] == pytest.approx((0 + 1 + 1 / math.log2(3)) / 3)
    assert res["NDCG@3"] == pytest.approx((1 / math.log2(4) + 1 + 1 / math.log2(3)) / 3)
    assert res["MRR"] == pytest.approx((1 / 3 + 1 + 1 / 2) / 3)
    assert res["n_users"] == 3
    assert res["n_skipped"] == 2
    assert res["n_skipped_unknown_target"] == 1
    assert res["n_skipped_no_history"] == 1
    assert res["n_target_in_history"] == 1
    assert res["n_items"] == 6
    assert res["mean_candidates"] == pytest.approx((4 + 5 + 3) / 3)


def test_full_removes_seen_items(model):
    ranks = compute_ranks(model, INPUT, TARGETS, ("full",))
    assert ranks.user_ids.tolist() == [1, 2, 3]
    assert ranks.target_ids.tolist() == [30, 60, 10]
    # user 1's seen items 10 and 20 score 9 and 8 > 5 but do not count
    np.testing.assert_array_equal(ranks.ranks["full"], [2, 0, 1])


def test_sampled_with_all_negatives_equals_full(model):
    res = evaluate_many(model, INPUT, TARGETS, ("full", "sampled"), ks=(1, 2, 3), n_negatives=100)
    for key in ("HR@1", "HR@2", "NDCG@3", "MRR"):
        assert res["sampled"][key] == pytest.approx(res["full"][key])
    assert res["sampled"]["n_negatives"] == 100


def test_sampled_one_negative_is_seeded(model):
    # user 1 with one negative: 40 or 50 (score >= 5) -> rank 1, 60 -> rank 0
    draws = [
        compute_ranks(model, INPUT, TARGETS, ("sampled",), n_negatives=1, random_state=seed).ranks[
            "sampled"
        ][0]
        for seed in range(60)
    ]
    assert set(draws) == {0, 1}
    again = [
        compute_ranks(model, INPUT, TARGETS, ("sampled",), n_negatives=1, random_state=seed).ranks[
            "sampled"
        ][0]
        for seed in range(60)
    ]
    assert draws == again


def test_sample_negatives_never_seen_nor_target():
    rng = np.random.default_rng(1)
    seen = rng.random((200, 50)) < 0.3
    targets = rng.integers(0, 50, size=200)
    neg, valid = sample_negatives(seen, targets, 20, np.random.default_rng(7))
    assert neg.shape == (200, 20)
    for r in range(200):
        chosen = neg[r][valid[r]]
        assert len(set(chosen.tolist())) == len(chosen)
        assert not seen[r, chosen].any()
        assert targets[r] not in chosen
        n_allowed = 50 - seen[r].sum() - (not seen[r, targets[r]])
        assert valid[r].sum() == min(20, n_allowed)
    neg2, valid2 = sample_negatives(seen, targets, 20, np.random.default_rng(7))
    np.testing.assert_array_equal(neg, neg2)
    np.testing.assert_array_equal(valid, valid2)
    neg3, _ = sample_negatives(seen, targets, 20, np.random.default_rng(8))
    assert not np.array_equal(neg, neg3)


def test_sample_negatives_shortfall_is_flagged():
    seen = np.array([[True, True, False, False, False]])
    neg, valid = sample_negatives(seen, np.array([2]), 10, np.random.default_rng(0))
    assert neg[valid].tolist() == [3, 4]


def test_sample_negatives_uniform():
    n = 6000
    seen = np.zeros((n, 10), dtype=bool)
    seen[:, :2] = True
    neg, valid = sample_negatives(seen, np.full(n, 2), 3, np.random.default_rng(0))
    assert valid.all()
    counts = np.bincount(neg.ravel(), minlength=10)
    assert counts[:3].sum() == 0
    expected = n * 3 / 7
    assert np.all(np.abs(counts[3:] - expected) < 0.06 * expected)


def test_sampled_independent_of_batch_size(fake_model_cls):
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    items = np.arange(n_items) * 3
    scores = {u: rng.random(n_items) for u in range(n_users)}
    model = fake_model_cls(items, scores)
    inp = {
        "USER_ID": np.repeat(np.arange(n_users), 4),
        "ITEM_ID": rng.choice(items, size=n_users * 4),
        "TIMESTAMP": np.tile(np.arange(4), n_users),
    }
    tgt = {"USER_ID": np.arange(n_users), "ITEM_ID": rng.choice(items, size=n_users)}
    big = compute_ranks(model, inp, tgt, ("full", "sampled"), n_negatives=5, batch_size=1000)
    model.calls.clear()
    small = compute_ranks(model, inp, tgt, ("sampled", "full"), n_negatives=5, batch_size=7)
    assert max(len(c) for c in model.calls) <= 7
    assert len(model.calls) == math.ceil(n_users / 7)
    for p in ("full", "sampled"):
        np.testing.assert_array_equal(big.ranks[p], small.ranks[p])


def test_constant_model_is_not_rewarded(fake_model_cls):
    model = fake_model_cls(ITEMS)  # every score 0
    res = evaluate(model, INPUT, TARGETS, protocol="full", ks=(1,))
    assert res["HR@1"] == 0.0


def test_string_ids(fake_model_cls):
    model = fake_model_cls(["a", "b", "c"], {"u": [0.0, 1.0, 2.0]})
    inp = {"USER_ID": ["u"], "ITEM_ID": ["a"], "TIMESTAMP": [0]}
    res = evaluate(model, inp, {"USER_ID": ["u"], "ITEM_ID": ["b"]}, ks=(1,))
    assert res["HR@1"] == 0.0 and res["MRR"] == pytest.approx(0.5)


def test_no_user_evaluated_gives_nan(model):
    res = evaluate(model, INPUT, {"USER_ID": [1], "ITEM_ID": [999]}, ks=(10,))
    assert res["n_users"] == 0 and math.isnan(res["HR@10"])


def test_errors(model, fake_model_cls):
    with pytest.raises(InvalidParameterError):
        evaluate(model, INPUT, TARGETS, protocol="nope")
    with pytest.raises(InvalidParameterError):
        evaluate(model, INPUT, TARGETS, n_negatives=0)
    with pytest.raises(InvalidParameterTypeError):
        evaluate(model, INPUT, TARGETS, batch_size=1.5)
    with pytest.raises(InvalidParameterTypeError):
        evaluate(object(), INPUT, TARGETS)
    with pytest.raises(SchemaError, match="one row per user"):
        evaluate(model, INPUT, {"USER_ID": [1, 1], "ITEM_ID": [10, 20]})
    with pytest.raises(EmptyInputError):
        evaluate(model, INPUT, {"USER_ID": [], "ITEM_ID": []})
    with pytest.raises(IdTypeError):
        evaluate(model, INPUT, {"USER_ID": [1], "ITEM_ID": ["10"]})


def test_model_returning_wrong_shape_is_reported(fake_model_cls):
    class Broken(fake_model_cls):
        def score_items(self, interactions, return_user_ids=True):
            users, scores = super().score_items(interactions)
            return users, scores[:, :-1]

    with pytest.raises(SchemaError, match="shape"):
        evaluate(Broken(ITEMS, SCORES), INPUT, TARGETS)
