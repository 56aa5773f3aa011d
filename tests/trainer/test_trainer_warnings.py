"""The trainer's warnings name the caller's line, not a line inside seqrec."""

from __future__ import annotations

import warnings

import numpy as np
from seqrec_runtime import ColdUserWarning
from seqrec_trainer import InteractionsDataset


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    assert caught, "no warning was given"
    return caught


def test_training_warnings_point_at_the_train_call(make_recommender, synthetic_table):
    valid = {
        "USER_ID": np.array([7, 89, 10_000]),  # user 10,000 never trained
        "ITEM_ID": np.array([1, 999, 2]),  # item 999 was never seen in training
        "TIMESTAMP": np.full(3, 2 * 10**9),
    }
    recommender = make_recommender(epochs=1)
    records = _caught(lambda: recommender.train(
        interactions_ds=InteractionsDataset(synthetic_table),
        valid_interactions_ds=InteractionsDataset(valid),
    ))
    assert any("left out of validation" in str(r.message) for r in records)
    for record in records:
        assert record.filename == __file__, (record.filename, record.message)


def test_recommend_warnings_point_at_the_recommend_call(trained_recommender):
    cold = {"USER_ID": [1, 2], "ITEM_ID": [1, 999], "TIMESTAMP": [0, 0]}
    records = _caught(lambda: trained_recommender.recommend(cold, top_k=40))
    assert {r.category for r in records} >= {ColdUserWarning, UserWarning}
    for record in records:
        assert record.filename == __file__, (record.filename, record.message)
