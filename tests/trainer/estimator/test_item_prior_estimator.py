"""``item_prior_weight``: what the estimator and recommender do with the item-item prior."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SASRecRegressorEstimator,
    SequentialRecommender,
)
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.model.item_prior import ease_matrix, low_rank_ridge

WEIGHT, L2 = 1.5, 4.0


def _indicator(rows: list[list[int]], n_items: int) -> np.ndarray:
    out = np.zeros((len(rows), n_items))
    for r, items in enumerate(rows):
        out[r, np.asarray(items, dtype=int) - 1] = 1.0
    return out


def _user_item_matrix(table, users, item_ids) -> np.ndarray:
    col = {item: j for j, item in enumerate(item_ids.tolist())}
    row = {user: i for i, user in enumerate(users.tolist())}
    x = np.zeros((len(users), len(item_ids)))
    for user, item in zip(table["USER_ID"].tolist(), table["ITEM_ID"].tolist(), strict=True):
        if user in row:
            x[row[user], col[item]] = 1.0
    return x


@pytest.fixture(scope="module")
def pair(synthetic_table, make_recommender):
    """The same tiny model trained without and with the prior."""
    plain = make_recommender(max_len=6)
    plain.train(interactions_ds=InteractionsDataset(synthetic_table))
    prior = make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2)
    prior.train(interactions_ds=InteractionsDataset(synthetic_table))
    return plain, prior


def test_the_prior_does_not_change_training(pair):
    plain, prior = pair
    a = plain.scorer.estimator.network_.state_dict()
    b = prior.scorer.estimator.network_.state_dict()
    assert set(b) - set(a) == {"item_prior_matrix"}
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    def losses(rec):
        return [r["loss"] for r in rec.scorer.estimator.history_]

    assert losses(plain) == losses(prior)


def test_prior_is_ease_of_the_whole_training_histories_times_the_weight(pair, synthetic_table):
    _, prior = pair
    item_ids = prior.item_ids_
    users = np.unique(synthetic_table["USER_ID"])
    x = _user_item_matrix(synthetic_table, users, item_ids)
    expected = WEIGHT * ease_matrix(x.T @ x, L2)
    got = prior.scorer.estimator.network_.item_prior_matrix.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_scores_add_the_prior_of_the_whole_history_beyond_max_len(pair, synthetic_table):
    plain, prior = pair
    users, plain_scores = plain.score_items(synthetic_table, return_user_ids=True)
    _, prior_scores = prior.score_items(synthetic_table, return_user_ids=True)
    matrix = prior.scorer.estimator.network_.item_prior_matrix.numpy()
    col = {item: j for j, item in enumerate(prior.item_ids_.tolist())}
    histories = [
        [col[i] + 1 for i in synthetic_table["ITEM_ID"][synthetic_table["USER_ID"] == u]]
        for u in users
    ]
    assert max(len(h) for h in histories) > 6  # some histories are longer than max_len
    expected = plain_scores + _indicator(histories, len(col)) @ matrix
    np.testing.assert_allclose(prior_scores, expected, rtol=1e-4, atol=1e-4)


def test_recommendations_rank_the_combined_scores(pair, synthetic_table):
    _, prior = pair
    scores = prior.score_items(synthetic_table)
    recs = prior.recommend(synthetic_table, top_k=5, exclude_seen=False)
    top = prior.item_ids_[np.argsort(-scores, axis=1, kind="stable")[:, :5]]
    np.testing.assert_array_equal(recs, top)


def test_save_load_and_refit_give_the_same_scores(pair, synthetic_table, make_recommender,
                                                  tmp_path):
    _, prior = pair
    expected = prior.score_items(synthetic_table)
    prior.save(tmp_path / "model")
    loaded = SequentialRecommender.load(tmp_path / "model")
    assert loaded.scorer.estimator.item_prior_weight == WEIGHT
    np.testing.assert_array_equal(loaded.score_items(synthetic_table), expected)
    again = make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2)
    again.train(interactions_ds=InteractionsDataset(synthetic_table))
    np.testing.assert_array_equal(again.score_items(synthetic_table), expected)


def test_the_prior_never_sees_validation_rows(synthetic_table, make_recommender):
    order = np.lexsort((synthetic_table["TIMESTAMP"], synthetic_table["USER_ID"]))
    table = {k: v[order] for k, v in synthetic_table.items()}
    users, starts = np.unique(table["USER_ID"], return_index=True)
    table["TIMESTAMP"] = np.arange(len(order)) - np.repeat(starts, np.diff([*starts, len(order)]))
    last = np.concatenate([starts[1:], [len(order)]]) - 1
    keep = np.ones(len(table["USER_ID"]), dtype=bool)
    keep[last] = False
    train = {k: v[keep] for k, v in table.items()}
    valid = {k: v[last] for k, v in table.items()}
    rec = make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2)
    # the whole table (validation rows included) as training input: they must be cut
    rec.train(interactions_ds=InteractionsDataset(table),
              valid_interactions_ds=InteractionsDataset(valid))
    x = _user_item_matrix(train, users, rec.item_ids_)
    expected = WEIGHT * ease_matrix(x.T @ x, L2)
    got = rec.scorer.estimator.network_.item_prior_matrix.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_estimator_alone_uses_the_rows_of_its_sequences():
    sequences = np.array([[0, 1, 2, 3], [0, 0, 2, 4], [4, 1, 1, 3]])
    est = SASRecClassifierEstimator(hidden_units=8, max_len=3, epochs=1, loss_fn_name="ce",
                                    random_state=0, item_prior_weight=2.0, item_prior_l2=1.0)
    est.fit(sequences, 4)
    x = _indicator([[1, 2, 3], [2, 4], [4, 1, 3]], 4)
    np.testing.assert_allclose(est.network_.item_prior_matrix.numpy(),
                               2.0 * ease_matrix(x.T @ x, 1.0), rtol=1e-5, atol=1e-6)


def test_regressor_refuses_the_prior():
    est = SASRecRegressorEstimator(max_len=3, epochs=1, item_prior_weight=1.0)
    with pytest.raises(InvalidParameterError, match="SASRecClassifierEstimator"):
        est.fit(np.array([[0, 1, 2, 3]]), 4, outcomes=np.ones((1, 4)))


def test_too_large_catalogue_fails_before_training(monkeypatch):
    import seqrec_trainer.model.item_prior as item_prior

    monkeypatch.setattr(item_prior, "MAX_PRIOR_ITEMS", 3)
    est = SASRecClassifierEstimator(max_len=3, epochs=1, loss_fn_name="ce",
                                    item_prior_weight=1.0)
    with pytest.raises(InvalidParameterError, match="at most 3 items"):
        est.fit(np.array([[0, 1, 2, 3]]), 4)
    assert not hasattr(est, "network_")


# --------------------------------------------------------------------------- low-rank kind
RANK = 6


@pytest.fixture(scope="module")
def low_rank(synthetic_table, make_recommender):
    rec = make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2,
                           item_prior_kind="low_rank", item_prior_rank=RANK)
    return rec.train(interactions_ds=InteractionsDataset(synthetic_table))


def _low_rank_matrix(rec) -> np.ndarray:
    network = rec.scorer.estimator.network_
    factors = network.item_prior_factors.numpy().astype(np.float64)
    matrix = (factors * network.item_prior_scales.numpy()) @ factors.T
    np.fill_diagonal(matrix, 0.0)  # the network leaves out an item's own term
    return matrix


def test_low_rank_prior_leaves_training_alone_and_is_the_truncated_ridge(
        pair, low_rank, synthetic_table):
    plain, _ = pair
    a = plain.scorer.estimator.network_.state_dict()
    b = low_rank.scorer.estimator.network_.state_dict()
    assert set(b) - set(a) == {"item_prior_factors", "item_prior_scales"}
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    # low_rank_ridge itself is checked against exact SVDs in tests/trainer/model; here: it
    # was given the whole training histories, the weight and the estimator's seed
    users = np.unique(synthetic_table["USER_ID"])
    x = _user_item_matrix(synthetic_table, users, low_rank.item_ids_)
    rows, cols = np.nonzero(x)
    seed = low_rank.scorer.estimator.random_state
    factors, scales = low_rank_ridge(rows, cols + 1, x.shape[1], RANK, L2, seed=seed)
    expected = WEIGHT * (factors * scales) @ factors.T
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(_low_rank_matrix(low_rank), expected, atol=1e-5)


def test_low_rank_scores_add_its_prior_and_survive_save_load_and_refit(
        pair, low_rank, synthetic_table, make_recommender, tmp_path):
    plain, _ = pair
    users, plain_scores = plain.score_items(synthetic_table, return_user_ids=True)
    col = {item: j for j, item in enumerate(low_rank.item_ids_.tolist())}
    histories = [
        [col[i] + 1 for i in synthetic_table["ITEM_ID"][synthetic_table["USER_ID"] == u]]
        for u in users
    ]
    expected = plain_scores + _indicator(histories, len(col)) @ _low_rank_matrix(low_rank)
    scores = low_rank.score_items(synthetic_table)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
    low_rank.save(tmp_path / "model")
    loaded = SequentialRecommender.load(tmp_path / "model")
    assert loaded.scorer.estimator.item_prior_kind == "low_rank"
    np.testing.assert_array_equal(loaded.score_items(synthetic_table), scores)
    again = make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2,
                             item_prior_kind="low_rank", item_prior_rank=RANK)
    again.train(interactions_ds=InteractionsDataset(synthetic_table))
    np.testing.assert_array_equal(again.score_items(synthetic_table), scores)


def test_low_rank_has_no_catalogue_cap_and_caps_its_rank(monkeypatch):
    import seqrec_trainer.model.item_prior as item_prior

    monkeypatch.setattr(item_prior, "MAX_PRIOR_ITEMS", 3)
    est = SASRecClassifierEstimator(max_len=3, epochs=1, loss_fn_name="ce", random_state=0,
                                    item_prior_weight=1.0, item_prior_kind="low_rank",
                                    item_prior_rank=1000)
    est.fit(np.array([[0, 1, 2, 3], [4, 1, 2, 3]]), 4)
    assert tuple(est.network_.item_prior_factors.shape) == (4, 4)


def test_bad_prior_kind_fails_before_training():
    est = SASRecClassifierEstimator(max_len=3, epochs=1, item_prior_weight=1.0,
                                    item_prior_kind="svd")
    with pytest.raises(InvalidParameterError, match="item_prior_kind"):
        est.fit(np.array([[0, 1, 2, 3]]), 4)
    assert not hasattr(est, "network_")
