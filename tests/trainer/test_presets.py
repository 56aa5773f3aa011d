"""Named presets build valid estimators; overrides win; unknown names are a typed error."""

from __future__ import annotations

import pytest
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
)
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.presets import PRESETS, get_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_values_reach_the_estimator_and_it_trains(name, synthetic_interactions):
    estimator = SASRecClassifierEstimator.from_preset(
        name, epochs=1, max_len=8, hidden_units=16, random_state=0
    )
    params = estimator.get_params()
    for key, value in get_preset(name).items():
        if key not in ("epochs", "max_len", "hidden_units"):
            assert params[key] == value, key
    assert (params["epochs"], params["max_len"], params["hidden_units"]) == (1, 8, 16)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=8)
    data = InteractionsDataset(synthetic_interactions)
    estimator.set_params(early_stopping_patience=None)  # no validation data in this test
    recommender.train(interactions_ds=data)
    assert recommender.training_summary_["n_train_sequences"] > 0


def test_get_preset_returns_a_copy_and_rejects_unknown_names():
    first = get_preset("ml-1m")
    first["hidden_units"] = -1
    assert get_preset("ml-1m")["hidden_units"] != -1
    with pytest.raises(InvalidParameterError, match="unknown preset 'ml1m'; available"):
        get_preset("ml1m")
