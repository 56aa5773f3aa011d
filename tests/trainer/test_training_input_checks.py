"""Training input that used to train into garbage or leak: refused with typed errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from seqrec_trainer import InteractionsDataset, SASRecRegressorEstimator
from seqrec_trainer.errors import (
    EmptyInputError,
    InvalidParameterError,
    NotFittedError,
    SchemaError,
    SeqrecError,
    TimestampTypeError,
)
from seqrec_trainer.evaluation import leave_one_out_split


def _table(n_users: int = 12, length: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "USER_ID": np.repeat(np.arange(n_users), length),
        "ITEM_ID": rng.integers(1, 10, n_users * length),
        "TIMESTAMP": np.tile(np.arange(length) * 60, n_users),
    }


def _dated(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    start = np.datetime64("2024-01-01T00:00:00", "s")
    return {**table, "TIMESTAMP": start + table["TIMESTAMP"].astype("timedelta64[s]")}


def test_datetime_training_and_numeric_validation_timestamps_are_refused(make_recommender):
    """Datetimes are ns since 1970: next to unix seconds every validation item came first,
    so validated users lost their whole history (an unrelated NotEnoughDataError)."""
    split = leave_one_out_split(_dated(_table()))
    seconds = dict(split.valid, TIMESTAMP=split.valid["TIMESTAMP"] // 10**9)
    recommender = make_recommender()
    with pytest.raises(TimestampTypeError, match="valid_interactions_ds TIMESTAMP"):
        recommender.train(interactions_ds=_dated(_table()), valid_interactions_ds=seconds)
    with pytest.raises(NotFittedError):
        recommender.score_items(_table())


def test_numeric_training_and_datetime_validation_timestamps_are_refused(make_recommender):
    """The other way round the validation targets were trained on (an honest-validation leak)."""
    table = _table()
    split = leave_one_out_split(table)
    dated_valid = _dated(split.valid)
    with pytest.raises(TimestampTypeError, match="holds numbers"):
        make_recommender().train(interactions_ds=table, valid_interactions_ds=dated_valid)


def test_split_of_datetime_rows_still_validates_against_the_datetime_table(make_recommender):
    """A leave-one-out split holds datetimes as int64 ns: comparable, so accepted."""
    dated = _dated(_table())
    split = leave_one_out_split(dated)
    recommender = make_recommender(epochs=1)
    recommender.train(interactions_ds=pd.DataFrame(dated), valid_interactions_ds=split.valid)
    summary = recommender.training_summary_
    assert summary["n_train_rows_used"] == len(split.train["USER_ID"])
    assert summary["n_valid_targets"] == len(split.valid["USER_ID"])


@pytest.mark.parametrize(
    ("loss", "outcome", "match"),
    [
        ("bce", lambda n: np.tile([1.0, 5.0], n // 2), r"label in \[0, 1\].*\[1, 5\]"),
        ("bce", lambda n: -np.ones(n), r"label in \[0, 1\]"),
        ("ce", lambda n: np.tile([-1.0, 1.0], n // 2), r"must be >= 0"),
        ("sampled_softmax", lambda n: -np.ones(n), r"must be >= 0"),
        ("ce", lambda n: np.zeros(n), r"0 for every training row"),
    ],
    ids=["bce-ratings", "bce-negative", "ce-negative", "sampled-softmax-negative", "ce-all-zero"],
)
def test_outcome_outside_the_loss_domain_is_refused_before_training(
    make_recommender, loss, outcome, match
):
    """bce with ratings 1..5 as labels trained with a loss falling without bound (scores in
    the hundreds); negative weights likewise; all-zero weights learned nothing."""
    table = _table()
    table["OUTCOME"] = outcome(len(table["USER_ID"]))
    recommender = make_recommender(loss_fn_name=loss)
    with pytest.raises(InvalidParameterError, match=match) as info:
        recommender.train(interactions_ds=table)
    assert "OUTCOME" in str(info.value)
    with pytest.raises(NotFittedError):
        recommender.score_items(table)


def test_validation_outcome_outside_the_bce_domain_is_refused(make_recommender):
    table = dict(_table(), OUTCOME=np.ones(72))
    split = leave_one_out_split(table)
    valid = dict(split.valid, OUTCOME=np.full(len(split.valid["USER_ID"]), 4.0))
    with pytest.raises(InvalidParameterError, match="validation OUTCOME"):
        make_recommender(loss_fn_name="bce").train(interactions_ds=split.train,
                                                   valid_interactions_ds=valid)


def test_outcome_in_the_loss_domain_still_trains(make_recommender):
    table = dict(_table(), OUTCOME=np.tile([0.0, 0.5, 1.0], 24))
    for loss in ("bce", "ce", "sampled_softmax"):
        recommender = make_recommender(loss_fn_name=loss, epochs=1)
        assert np.isfinite(recommender.train(interactions_ds=table).score_items(table)).all()


def test_regressor_without_outcome_is_refused(make_recommender):
    """It used to regress the constant 1.0 (training) or validate against 1.0."""
    recommender = make_recommender(SASRecRegressorEstimator, loss_fn_name="mse")
    with pytest.raises(SchemaError, match="interactions_ds has no OUTCOME"):
        recommender.train(interactions_ds=_table())
    table = dict(_table(), OUTCOME=np.tile([1.0, 5.0], 36))
    split = leave_one_out_split(table)
    no_outcome = {k: v for k, v in split.valid.items() if k != "OUTCOME"}
    with pytest.raises(SchemaError, match="valid_interactions_ds has no OUTCOME"):
        recommender.train(interactions_ds=split.train, valid_interactions_ds=no_outcome)


@pytest.mark.parametrize(
    "params",
    [
        {"learning_rate": None}, {"learning_rate": float("inf")}, {"weight_decay": -1.0},
        {"weight_decay": float("nan")}, {"label_smoothing": 2.0}, {"label_smoothing": -0.5},
        {"max_grad_norm": -1.0}, {"warmup_epochs": -1.0}, {"warmup_epochs": float("nan")},
        {"verbose": "x"}, {"early_stopping_patience": "abc"}, {"random_state": -1},
        {"random_state": "7"}, {"random_state": 1.5},
    ],
    ids=lambda p: f"{next(iter(p))}={next(iter(p.values()))!r}",
)
def test_bad_optimisation_parameters_are_named(make_recommender, params):
    """These raised foreign errors (float(None), torch's ValueError) or trained silently:
    a negative max_grad_norm flipped every gradient, label_smoothing=2 trained garbage."""
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=name):
        make_recommender(**params).train(interactions_ds=_table())


def test_unreadable_csv_files_are_typed_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(EmptyInputError, match="empty.csv"):
        InteractionsDataset(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("USER_ID,ITEM_ID,TIMESTAMP\n1,7,1,9\n1,8,3\n")
    with pytest.raises(SchemaError, match="ragged.csv") as info:
        InteractionsDataset(ragged)
    assert isinstance(info.value, SeqrecError)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(SchemaError, match="broken.parquet"):
        InteractionsDataset(broken)


def test_learning_rate_too_large_for_float32_updates_is_named(make_recommender):
    """Adam's first step is about 10 x learning_rate: 1e38 overflowed float32 inside torch
    (a bare RuntimeError); now a typed error naming learning_rate, and nothing is fitted."""
    recommender = make_recommender(learning_rate=1e38)
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        recommender.train(interactions_ds=_table())
    with pytest.raises(NotFittedError):
        recommender.score_items(_table())
