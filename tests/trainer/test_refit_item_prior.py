"""``SequentialRecommender.refit_item_prior``: a new prior on the trained network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer import InteractionsDataset, SASRecRegressorEstimator, SequentialRecommender
from seqrec_trainer.errors import InvalidParameterError, NotFittedError

PRIOR = {"item_prior_weight": 1.5, "item_prior_l2": 4.0}


def _trained(make_recommender, table, **params):
    rec = make_recommender(max_len=6, **params)
    return rec.train(interactions_ds=InteractionsDataset(table))


@pytest.fixture(scope="module")
def plain(synthetic_table, make_recommender):
    return _trained(make_recommender, synthetic_table)


@pytest.fixture(scope="module")
def with_prior(synthetic_table, make_recommender):
    return _trained(make_recommender, synthetic_table, **PRIOR)


@pytest.mark.parametrize("params", [
    PRIOR,
    {**PRIOR, "item_prior_kind": "low_rank", "item_prior_rank": 5},
    {**PRIOR, "item_prior_kind": "transitions"},  # reads each history in time order
])
def test_refit_equals_training_with_that_prior(plain, make_recommender, synthetic_table,
                                               params, tmp_path):
    expected = _trained(make_recommender, synthetic_table, **params)
    plain.save(tmp_path / "plain")
    refit = SequentialRecommender.load(tmp_path / "plain")
    assert refit.refit_item_prior(synthetic_table, **params) is refit
    np.testing.assert_array_equal(refit.score_items(synthetic_table),
                                  expected.score_items(synthetic_table))
    for name, value in params.items():
        assert getattr(refit.scorer.estimator, name) == value
    refit.save(tmp_path / "refit")  # save -> load keeps the new prior
    loaded = SequentialRecommender.load(tmp_path / "refit")
    np.testing.assert_array_equal(loaded.score_items(synthetic_table),
                                  expected.score_items(synthetic_table))


def test_weight_zero_removes_the_prior(with_prior, plain, synthetic_table, tmp_path):
    with_prior.save(tmp_path / "model")
    rec = SequentialRecommender.load(tmp_path / "model")
    rec.refit_item_prior(InteractionsDataset(synthetic_table), item_prior_weight=0)
    assert not rec.scorer.estimator.network_.has_item_prior
    assert not any(k.startswith("item_prior") for k in rec.scorer.estimator.network_.state_dict())
    np.testing.assert_array_equal(rec.score_items(synthetic_table),
                                  plain.score_items(synthetic_table))


def test_rows_with_unknown_items_are_ignored(with_prior, synthetic_table, tmp_path):
    with_prior.save(tmp_path / "model")
    rec = SequentialRecommender.load(tmp_path / "model")
    extra = {k: np.concatenate([v, v[:3]]) for k, v in synthetic_table.items()}
    extra["ITEM_ID"][-3:] = 999  # never seen by the model
    extra["USER_ID"][-1] = 10_000  # a user with only an unknown item
    rec.refit_item_prior(extra)
    np.testing.assert_array_equal(rec.score_items(synthetic_table),
                                  with_prior.score_items(synthetic_table))


@pytest.mark.parametrize(("params", "match"), [
    ({"hidden_units": 8}, r"only changes item_prior_weight.*\['hidden_units'\]"),
    ({"item_prior_weight": -1.0}, "item_prior_weight must be a finite number >= 0"),
    ({"item_prior_kind": "svd"}, "item_prior_kind must be one of"),
])
def test_bad_parameters_change_nothing(with_prior, synthetic_table, params, match, tmp_path):
    with_prior.save(tmp_path / "model")
    rec = SequentialRecommender.load(tmp_path / "model")
    before = {k: v.clone() for k, v in rec.scorer.estimator.network_.state_dict().items()}
    with pytest.raises(InvalidParameterError, match=match):
        rec.refit_item_prior(synthetic_table, **params)
    estimator = rec.scorer.estimator
    assert (estimator.item_prior_weight, estimator.item_prior_kind) == (1.5, "ease")
    after = estimator.network_.state_dict()
    assert before.keys() == after.keys()
    for name, value in before.items():
        torch.testing.assert_close(after[name], value, rtol=0, atol=0)


def test_regressor_and_unfitted_models_are_refused(make_recommender, synthetic_table):
    with pytest.raises(NotFittedError, match="not trained yet"):
        make_recommender().refit_item_prior(synthetic_table, item_prior_weight=1.0)
    table = {**synthetic_table, "OUTCOME": np.ones(len(synthetic_table["USER_ID"]))}
    rec = _trained(make_recommender, table, estimator_cls=SASRecRegressorEstimator,
                   loss_fn_name="mse")
    with pytest.raises(InvalidParameterError, match="only available for SASRecClassifier"):
        rec.refit_item_prior(table, item_prior_weight=1.0)
    assert rec.scorer.estimator.item_prior_weight == 0
