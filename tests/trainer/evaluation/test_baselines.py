"""Popularity, item-item and transitions baselines, and the verdict beside a model's score."""

from __future__ import annotations

import numpy as np
import pytest
from seqrec_trainer.evaluation import evaluate, leave_one_out_split
from seqrec_trainer.evaluation.baselines import (
    ItemItemBaseline,
    PopularityBaseline,
    TransitionsBaseline,
    fit_baselines,
)
from seqrec_trainer.evaluation.holdout import compare_with_baselines, evaluate_with_baselines
from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix
from seqrec_trainer.model.transition_prior import transition_neighbors, transition_scores_numpy


def _table(users, items):
    users, items = np.asarray(users), np.asarray(items)
    return {"USER_ID": users, "ITEM_ID": items, "TIMESTAMP": np.arange(len(users))}


def test_popularity_counts_users_not_repeats():
    # item 7: users 1 and 2 (user 1 twice); item 9: user 3; item 8: users 1, 2, 3
    train = _table([1, 1, 1, 2, 2, 3, 3], [7, 7, 8, 7, 8, 8, 9])
    model = PopularityBaseline(train)
    assert list(model.item_ids_) == [7, 8, 9]
    users, scores = model.score_items(_table([5, 6], [9, 9]), return_user_ids=True)
    assert list(users) == [5, 6]
    np.testing.assert_array_equal(scores, [[2, 3, 1], [2, 3, 1]])


def test_ease_baseline_is_the_ease_matrix_and_ignores_unknown_items():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 40, 400), rng.integers(1, 13, 400)
    model = ItemItemBaseline(_table(users, items), l2=10.0)
    assert model.kind == "ease"
    expected = ease_matrix(cooccurrence_gram(users, items, 12), 10.0)
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-5, atol=1e-6)
    # user 0 holds items 2 and 5 plus an unknown item 99, which counts for nothing
    scores = model.score_items(_table([0, 0, 0], [2, 5, 99]))
    np.testing.assert_allclose(scores[0], expected[1] + expected[4], rtol=1e-4, atol=1e-5)


def test_low_rank_baseline_at_full_rank_is_the_ridge_autoencoder_without_diagonal():
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 60, 500), rng.integers(1, 11, 500)
    model = ItemItemBaseline(_table(users, items), l2=5.0, kind="low_rank", rank=10)
    gram = cooccurrence_gram(users, items, 10)
    ridge = np.linalg.solve(gram + 5.0 * np.eye(10), gram)
    np.fill_diagonal(ridge, 0.0)
    history = np.zeros((1, 10), np.float32)
    history[0, [0, 3]] = 1
    np.testing.assert_allclose(model._scores(history)[0], history[0] @ ridge, atol=1e-4)


def test_item_item_beats_popularity_on_cooccurring_pairs():
    # items come in pairs (2k+1, 2k+2): whoever took one takes the other next
    users, items = [], []
    rng = np.random.default_rng(2)
    for user in range(300):
        first, second = rng.integers(0, 10, 2)
        users += [user] * 5  # train: a whole pair and a filler; valid/test: the next pair
        items += [2 * first + 1, 2 * first + 2, int(rng.integers(21, 30)), 2 * second + 1,
                  2 * second + 2]
    table = _table(users, items)
    split = leave_one_out_split(table)
    popularity, item_item, transitions = fit_baselines(split.train)
    pop = evaluate(popularity, split.test_input, split.test, ks=(1,))
    ii = evaluate(item_item, split.test_input, split.test, ks=(1,))
    assert ii["HR@1"] > 0.9 > pop["HR@1"]
    assert evaluate(transitions, split.test_input, split.test, ks=(1,))["HR@1"] > 0.9


def test_transitions_baseline_reads_histories_in_timestamp_order():
    # training rows in shuffled order; the model must see each user's items by TIMESTAMP
    users = np.repeat(np.arange(50), 4)
    items = np.tile([1, 2, 3, 4], 50) + 10 * (np.arange(200) // 100)
    table = {"USER_ID": users, "ITEM_ID": items, "TIMESTAMP": np.arange(200)}
    shuffled = np.random.default_rng(0).permutation(200)
    model = TransitionsBaseline({k: v[shuffled] for k, v in table.items()})
    reference = TransitionsBaseline(table)
    np.testing.assert_array_equal(model.weights_, reference.weights_)
    columns = np.searchsorted(reference.item_ids_, items)
    indices, weights = transition_neighbors(np.repeat(np.arange(50), 4), columns + 1,
                                            len(reference.item_ids_))
    np.testing.assert_array_equal(reference.indices_, indices)
    # input [3, 1] (then unknown item 99): the latest item, 1, weighs most
    query = {"USER_ID": np.array([7, 7, 7]), "ITEM_ID": np.array([3, 99, 1]),
             "TIMESTAMP": np.array([0, 2, 1])}
    user_ids, scores = model.score_items(query, return_user_ids=True)
    assert list(user_ids) == [7]
    expected = transition_scores_numpy([np.array([2, 0])], indices, weights,
                                       len(reference.item_ids_))
    np.testing.assert_allclose(scores, expected[:, :scores.shape[1]], rtol=1e-6)


def test_verdict_says_plainly_when_the_model_loses():
    results = {"model": {"NDCG@10": 0.02}, "popularity": {"NDCG@10": 0.03},
               "item-item": {"NDCG@10": 0.01}}
    lines = compare_with_baselines(results)
    assert lines[0].startswith("WARNING: the model does NOT beat popularity")
    assert lines[1].startswith("the model beats item-item")


def test_evaluate_with_baselines_puts_every_model_on_the_same_split(synthetic_table):
    split = leave_one_out_split(synthetic_table)
    popularity = PopularityBaseline(split.train)
    results = evaluate_with_baselines(popularity, split, "test", ("full",), (10,))
    assert set(results) == {"model", "popularity", "item-item", "transitions"}
    # the "model" is the popularity baseline itself: identical numbers, so no win
    assert results["model"]["full"] == results["popularity"]["full"]
    verdict = compare_with_baselines({k: v["full"] for k, v in results.items()})
    assert "does NOT beat popularity" in verdict[0]
    with pytest.raises(ValueError, match="stage"):
        evaluate_with_baselines(popularity, split, "train")
