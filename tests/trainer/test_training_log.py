"""Progress by default when interactive, early stopping by default with validation data,
and the training curve saved next to the model."""

from __future__ import annotations

import csv
import io
import logging
import sys

import numpy as np
import pytest
from seqrec_trainer import (
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
    training_log,
)
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.estimator.base import DEFAULT_PATIENCE
from seqrec_trainer.evaluation import leave_one_out_split

TINY = {"hidden_units": 16, "num_blocks": 1, "max_len": 8, "batch_size": 64,
        "random_state": 0}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _recommender(**params) -> SequentialRecommender:
    estimator = SASRecClassifierEstimator(**{**TINY, **params})
    return SequentialRecommender(SequentialScorer(estimator), max_len=TINY["max_len"])


@pytest.fixture(scope="module")
def random_split():
    """Random sequences: nothing to generalise, so validation loss rises after a few epochs."""
    rng = np.random.default_rng(0)
    n_users, length = 80, 10
    table = {"USER_ID": np.repeat(np.arange(n_users), length),
             "ITEM_ID": rng.integers(1, 41, n_users * length),
             "TIMESTAMP": np.tile(np.arange(length), n_users)}
    return leave_one_out_split(table)


# ------------------------------------------------------------------ progress
def test_verbosity_follows_the_terminal_unless_given():
    assert training_log.resolve_verbosity(None, _Terminal()) == 1
    assert training_log.resolve_verbosity(None, io.StringIO()) == 0
    assert training_log.resolve_verbosity(0, _Terminal()) == 0
    assert training_log.resolve_verbosity(2, io.StringIO()) == 2


def test_default_training_is_quiet_when_not_interactive(synthetic_table, capsys):
    _recommender(epochs=2).train(interactions_ds=synthetic_table)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_default_training_shows_progress_when_interactive(random_split, capsys, monkeypatch):
    monkeypatch.setattr(training_log, "is_interactive", lambda stream=None: True)
    _recommender(epochs=2).train(interactions_ds=random_split.train,
                                 valid_interactions_ds=random_split.valid)
    err = capsys.readouterr().err
    assert "SASRec: training on 80 sequences over 40 items, up to 2 epochs" in err
    assert "SASRec 2/2 epochs" in err and "val_loss=" in err and "100%" in err


def test_verbose_zero_is_silent_even_when_interactive(synthetic_table, capsys, monkeypatch):
    monkeypatch.setattr(training_log, "is_interactive", lambda stream=None: True)
    recommender = _recommender(epochs=1, verbose=0)
    recommender.train(interactions_ds=synthetic_table)
    assert capsys.readouterr().err == ""


def test_without_validation_the_plan_says_there_is_no_early_stopping(synthetic_table, capsys):
    _recommender(epochs=1, verbose=1).train(interactions_ds=synthetic_table)
    err = capsys.readouterr().err
    assert "1 epochs (no validation data, so no early stopping" in err


def test_progress_bar_counts_batches_of_every_epoch():
    stream = io.StringIO()
    progress = training_log.TrainingProgress(1, epochs=2, batches_per_epoch=3, stream=stream)
    for epoch in (1, 2):
        for _ in range(3):
            progress.batch_done()
        progress.epoch_done({"epoch": epoch, "loss": 1.0 / epoch, "time_s": 0.1})
    progress.close()
    assert "6/6" in stream.getvalue() and "loss=0.5000" in stream.getvalue()


# ------------------------------------------------------------------ early stopping
def test_validation_data_turns_early_stopping_on_by_default(random_split):
    recommender = _recommender(epochs=40, learning_rate=0.05, dropout_rate=0.0,
                               loss_fn_name="ce", verbose=0)
    assert recommender.scorer.estimator.early_stopping_patience == "auto"
    recommender.train(interactions_ds=random_split.train,
                      valid_interactions_ds=random_split.valid)
    estimator = recommender.scorer.estimator
    assert len(estimator.history_) == estimator.best_epoch_ + DEFAULT_PATIENCE
    assert len(estimator.history_) < 40


def test_none_turns_early_stopping_off(random_split):
    recommender = _recommender(epochs=12, learning_rate=0.05, dropout_rate=0.0,
                               loss_fn_name="ce", verbose=0, early_stopping_patience=None)
    recommender.train(interactions_ds=random_split.train,
                      valid_interactions_ds=random_split.valid)
    assert len(recommender.scorer.estimator.history_) == 12


def test_auto_patience_without_validation_runs_every_epoch(synthetic_table):
    recommender = _recommender(epochs=3, verbose=0)
    recommender.train(interactions_ds=synthetic_table)
    assert len(recommender.scorer.estimator.history_) == 3


@pytest.mark.parametrize("bad", ["sometimes", 0, 2.5, True])
def test_bad_patience_is_refused(synthetic_table, bad):
    with pytest.raises(InvalidParameterError, match="early_stopping_patience must be .*'auto'"):
        _recommender(epochs=1, early_stopping_patience=bad, verbose=0).train(
            interactions_ds=synthetic_table)


# ------------------------------------------------------------------ training curve
def test_save_writes_the_training_curve_and_says_where(random_split, tmp_path, capsys):
    recommender = _recommender(epochs=3, verbose=1)
    recommender.train(interactions_ds=random_split.train,
                      valid_interactions_ds=random_split.valid)
    path = recommender.save(tmp_path / "model")
    with open(path / "training_curve.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    history = recommender.scorer.estimator.history_
    assert list(rows[0]) == ["epoch", "loss", "val_loss", "val_ndcg@10", "val_hr@10", "time_s"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(
        [h["val_loss"] for h in history])
    png = (path / "training_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert f"training curve: {path / 'training_curve.csv'}" in capsys.readouterr().err


def test_curve_without_validation_has_loss_only_and_save_is_silent(synthetic_table, tmp_path,
                                                                   capsys):
    recommender = _recommender(epochs=2, verbose=0)
    recommender.train(interactions_ds=synthetic_table)
    path = recommender.save(tmp_path / "model")
    header = (path / "training_curve.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "epoch,loss,time_s"
    assert (path / "training_curve.png").is_file()
    assert capsys.readouterr().err == ""


def test_a_loaded_model_saves_its_curve_again(random_split, tmp_path):
    recommender = _recommender(epochs=2, verbose=0)
    recommender.train(interactions_ds=random_split.train,
                      valid_interactions_ds=random_split.valid)
    first = recommender.save(tmp_path / "a")
    again = SequentialRecommender.load(first).save(tmp_path / "b")
    assert (again / "training_curve.csv").read_text() == (first / "training_curve.csv").read_text()


def test_empty_history_writes_nothing(tmp_path):
    assert training_log.write_training_curve(tmp_path, []) == []
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_csv_is_still_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    history = [{"epoch": 1, "loss": 2.0, "time_s": 0.1}]
    with pytest.warns(RuntimeWarning, match="training_curve.png not written"):
        written = training_log.write_training_curve(tmp_path, history)
    assert written == [tmp_path / "training_curve.csv"]
    assert not (tmp_path / "training_curve.png").exists()


def test_quiet_training_logs_its_plan_for_the_command_line(synthetic_table, caplog, capsys):
    with caplog.at_level(logging.INFO, logger="seqrec"):
        _recommender(epochs=1, verbose=0).train(interactions_ds=synthetic_table)
    assert any("no validation data, so no early stopping" in r.getMessage()
               for r in caplog.records)
    assert capsys.readouterr().err == ""
