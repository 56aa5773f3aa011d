"""The ``auto`` recipe: rules read from the data's shape, explanation, prior-weight choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from seqrec_cli.main import main
from seqrec_trainer import SASRecClassifierEstimator, SequentialRecommender, SequentialScorer
from seqrec_trainer.auto_recipe import (
    FULL_SOFTMAX_SCORES,
    TRAINING_TARGETS,
    auto_recipe,
    choose_prior_weight,
)
from seqrec_trainer.errors import EmptyInputError, InvalidParameterError
from seqrec_trainer.evaluation import evaluate, leave_one_out_split
from seqrec_trainer.presets import get_preset


def _table(lengths, n_items, seed=0):
    """One row per interaction; user ``u`` has ``lengths[u]`` items drawn from ``n_items``."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    users = np.repeat(np.arange(len(lengths)), lengths)
    items = rng.integers(1, n_items + 1, len(users))
    items[: min(n_items, len(items))] = np.arange(1, min(n_items, len(items)) + 1)  # all used
    return {"USER_ID": users, "ITEM_ID": items, "TIMESTAMP": np.arange(len(users))}


def test_long_histories_resolve_to_exactly_the_ml1m_preset():
    # MovieLens-1M's shape: >= 1,000 users, median history >= 50, a few thousand items
    recipe = auto_recipe(_table(np.full(1000, 60), 3000))
    assert recipe.params == get_preset("ml-1m")
    assert not recipe.tune_prior_weight
    estimator = SASRecClassifierEstimator.from_data(_table(np.full(1000, 60), 3000),
                                                    random_state=0)
    preset = SASRecClassifierEstimator.from_preset("ml-1m", random_state=0)
    assert estimator.get_params() == preset.get_params()


def test_short_histories_over_a_large_catalogue():
    # Amazon Beauty's shape: short histories, a catalogue above EASE's cap
    recipe = auto_recipe(_table(np.full(4000, 6), 20_000))
    p = recipe.params
    assert 4000 * 5 * 20_000 <= FULL_SOFTMAX_SCORES  # targets x items: full softmax
    assert (p["loss_fn_name"], p["item_prior_kind"], p["max_len"]) == ("ce", "low_rank", 50)
    assert (p["history_windows"], p["dropout_rate"], p["hidden_units"]) == ("last", 0.5, 64)
    assert recipe.tune_prior_weight and p["batch_size"] == 128
    assert "transitions" in recipe.reasons["item_prior_kind"]


def test_a_costly_full_softmax_becomes_a_sampled_one():
    recipe = auto_recipe(_table(np.full(40_000, 6), 120_000))
    assert 40_000 * 5 * 120_000 > FULL_SOFTMAX_SCORES
    assert recipe.params["loss_fn_name"] == "sampled_softmax"
    assert recipe.params["num_negatives"] > 1
    assert "scores per epoch" in recipe.reasons["loss_fn_name"]


def test_epochs_follow_the_training_target_budget():
    recipe = auto_recipe(_table(np.full(2_500, 5), 2000))
    p = recipe.params
    per_epoch = 2_500 * 4  # every position after the first has a next item
    assert p["epochs"] == round(TRAINING_TARGETS / per_epoch) == 200
    assert p["early_stopping_patience"] == 10
    assert str(per_epoch) in recipe.reasons["epochs"].replace(",", "")
    many = auto_recipe(_table(np.full(30_000, 5), 2000)).params
    assert (many["epochs"], many["early_stopping_patience"]) == (20, 5)  # at least 20


def test_few_users_with_long_histories():
    lengths = np.r_[np.full(50, 30), np.full(50, 400)]
    recipe = auto_recipe(_table(lengths, 800))
    p = recipe.params
    assert (p["loss_fn_name"], p["item_prior_kind"], p["max_len"], p["history_windows"]) == (
        "ce", "ease", 200, "all")
    assert p["dropout_rate"] == 0.2


def test_explanation_names_every_choice_and_saves(tmp_path):
    recipe = auto_recipe(_table(np.full(300, 12), 500))
    text = recipe.to_text()
    for name in recipe.params:
        assert f"  {name} = " in text
    assert "300 users" in text and "500 items" in text
    recipe.save(tmp_path / "r.json")
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["params"] == recipe.params and saved["data"]["n_users"] == 300


def test_empty_table_and_auto_as_a_fixed_preset_are_refused():
    with pytest.raises(EmptyInputError):
        auto_recipe({"USER_ID": np.array([], int), "ITEM_ID": np.array([], int)})
    with pytest.raises(InvalidParameterError, match="from_data"):
        get_preset("auto")


def test_overrides_win_over_the_recipe():
    estimator = SASRecClassifierEstimator.from_data(_table(np.full(300, 12), 500), epochs=3)
    assert estimator.epochs == 3
    assert estimator.auto_recipe_.params["epochs"] == 200


def test_prior_weight_is_the_best_on_validation(synthetic_table):
    split = leave_one_out_split(synthetic_table)
    recipe = auto_recipe(split.train)
    estimator = SASRecClassifierEstimator(**{**recipe.params, "epochs": 1, "hidden_units": 16,
                                             "max_len": 12, "random_state": 0})
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=12)
    recommender.train(interactions_ds=split.train, valid_interactions_ds=split.valid)
    grid = (0.0, 1.0, 5.0)
    scores = choose_prior_weight(recommender, split.train, split.train, split.valid, recipe,
                                 grid, max_users=None)
    by_kind = recipe.chosen["validation_ndcg@10_by_prior_weight"]
    assert set(by_kind) == {"ease", "transitions"}
    kind = estimator.item_prior_kind
    assert {float(w): v for w, v in by_kind[kind].items()} == scores
    assert set(grid) <= set(scores)
    best = max(scores, key=lambda w: (scores[w], -w))
    assert recipe.chosen["item_prior_weight"] == best == estimator.item_prior_weight
    assert scores[best] == max(max(v.values()) for v in by_kind.values())
    if best == max(scores):  # the grid was extended until a larger weight stopped helping
        assert len(scores) == len(grid) + 6
    elif max(scores) > max(grid):
        assert scores[max(scores)] <= scores[best]
    # each recorded score is what a plain refit of that kind and weight gives
    for other, recorded in by_kind.items():
        for weight, score in recorded.items():
            recommender.refit_item_prior(split.train, item_prior_weight=float(weight),
                                         item_prior_kind=other)
            again = evaluate(recommender, split.train, split.valid, ks=(10,))["NDCG@10"]
            assert again == pytest.approx(score, abs=2e-5)


def test_prior_weight_choice_can_score_a_subsample_of_validation_users():
    from seqrec_trainer.auto_recipe import _subsample_users

    table = _table(np.full(50, 4), 30)
    split = leave_one_out_split(table)
    inputs, targets = _subsample_users(split.train, split.valid, 10)
    assert len(np.unique(targets["USER_ID"])) == 10 == len(targets["USER_ID"])
    assert set(np.unique(inputs["USER_ID"])) == set(targets["USER_ID"])
    assert _subsample_users(split.train, split.valid, 100) == (split.train, split.valid)


def test_cli_train_with_preset_auto_saves_its_recipe(tmp_path, synthetic_table, capsys):
    split = leave_one_out_split(synthetic_table)
    train, valid = tmp_path / "train.csv", tmp_path / "valid.csv"
    pd.DataFrame(split.train).to_csv(train, index=False)
    pd.DataFrame(split.valid).to_csv(valid, index=False)
    out = tmp_path / "model"
    code = main(["train", "--interactions", str(train), "--valid", str(valid), "--output",
                 str(out), "--preset", "auto", "--epochs", "1", "--hidden-units", "16",
                 "--max-len", "12", "--verbose", "0"])
    assert code == 0
    saved = json.loads((out / "auto_recipe.json").read_text())
    assert saved["params"]["loss_fn_name"] == "ce"
    assert "item_prior_weight" in saved["chosen_after_training"]
    assert "auto recipe for" in capsys.readouterr().err
    model = SequentialRecommender.load(out)
    assert model.scorer.estimator.item_prior_weight == saved["params"]["item_prior_weight"]


SHARED = (Path(__file__).resolve().parents[2] / "../shared/data").resolve()


@pytest.mark.parametrize("relative, resolves_to_preset", [
    ("ml-1m/ml-1m.txt.gz", True),
    ("ml-1m-timestamps/ratings_users1-2999.dat.gz", True),
    ("ml-latest-small/ratings.csv.gz", False),
    ("beauty/beauty.txt.gz", False),
])
def test_shared_datasets_resolve_as_documented(relative, resolves_to_preset):
    from seqrec_trainer.evaluation import load_interactions

    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"shared dataset {path} is absent (only in the project workspace)")
    recipe = auto_recipe(leave_one_out_split(load_interactions(path)).train)
    # on ML-1M's training rows auto IS the ml-1m preset: its measured quality is the preset's
    assert (recipe.params == get_preset("ml-1m")) is resolves_to_preset
