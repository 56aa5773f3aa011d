"""Explicit-rating files (MovieLens) are implicit feedback by default; a schema maps RATING."""

from __future__ import annotations

import numpy as np
import pytest
from seqrec_cli.main import main
from seqrec_runtime.errors import SchemaError
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SASRecRegressorEstimator,
    SequentialRecommender,
    SequentialScorer,
)

RATING_SCHEMA = """columns:
  - {name: USER_ID, type: id}
  - {name: ITEM_ID, type: id}
  - {name: TIMESTAMP, type: timestamp}
  - {name: OUTCOME, source: RATING, type: float}
"""


def _ratings(synthetic_table, n_rows: int = 600) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    rows = {k: v[:n_rows] for k, v in synthetic_table.items() if k != "OUTCOME"}
    rows["RATING"] = rng.choice([1.0, 2.5, 3.0, 4.0, 5.0], size=n_rows)
    return rows


def _write_movielens(tmp_path, rows, kind: str):
    if kind == "csv":
        path = tmp_path / "ratings.csv"
        lines = ["userId,movieId,rating,timestamp"]
        lines += [f"{u},{i},{r},{t}" for u, i, r, t in zip(
            rows["USER_ID"], rows["ITEM_ID"], rows["RATING"], rows["TIMESTAMP"], strict=True)]
    else:
        path = tmp_path / "ratings.dat"
        lines = [f"{u}::{i}::{int(r)}::{t}" for u, i, r, t in zip(
            rows["USER_ID"], rows["ITEM_ID"], rows["RATING"], rows["TIMESTAMP"], strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _recommender(cls=SASRecClassifierEstimator, **params):
    estimator = cls(hidden_units=16, num_blocks=1, epochs=1, max_len=10, random_state=0,
                    verbose=0, **params)
    return SequentialRecommender(SequentialScorer(estimator), max_len=10)


@pytest.mark.parametrize("kind", ["csv", "dat"])
def test_movielens_ratings_train_with_the_default_loss(tmp_path, synthetic_table, kind):
    """Ratings 1-5 used to be refused by the default "bce" (OUTCOME outside [0, 1])."""
    path = _write_movielens(tmp_path, _ratings(synthetic_table), kind)
    dataset = InteractionsDataset(path)
    assert "OUTCOME" not in dataset.fetch_data()  # every rating is one interaction
    recommender = _recommender()
    assert recommender.scorer.estimator.loss_fn_name == "bce"
    recommender.train(interactions_ds=dataset)
    assert np.isfinite(recommender.score_items(dataset)).all()


def test_a_schema_maps_the_rating_to_outcome(tmp_path, synthetic_table):
    rows = _ratings(synthetic_table)
    schema = tmp_path / "ratings.yaml"
    schema.write_text(RATING_SCHEMA, encoding="utf-8")
    dataset = InteractionsDataset(_write_movielens(tmp_path, rows, "csv"), schema)
    np.testing.assert_allclose(dataset.fetch_data()["OUTCOME"], rows["RATING"])
    _recommender(SASRecRegressorEstimator).train(interactions_ds=dataset)  # regresses ratings
    _recommender(loss_fn_name="ce").train(interactions_ds=dataset)  # weights targets by them


def test_regressor_without_outcome_says_how_to_map_the_rating(tmp_path, synthetic_table):
    dataset = InteractionsDataset(_write_movielens(tmp_path, _ratings(synthetic_table), "dat"))
    with pytest.raises(SchemaError, match="source: RATING"):
        _recommender(SASRecRegressorEstimator).train(interactions_ds=dataset)


def test_cli_trains_on_a_movielens_file_with_the_default_loss(tmp_path, synthetic_table):
    path = _write_movielens(tmp_path, _ratings(synthetic_table), "dat")
    out = tmp_path / "model"
    assert main(["train", "--interactions", str(path), "--output", str(out), "--epochs", "1",
                 "--hidden-units", "16", "--num-blocks", "1", "--max-len", "10",
                 "--verbose", "0"]) == 0
    assert (out / "config.json").is_file()
