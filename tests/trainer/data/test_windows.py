"""``history_windows="all"``: whole histories as windows, every target exactly once."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
)
from seqrec_trainer.data.training import build_vocabulary, prepare
from seqrec_trainer.data.windows import all_windows
from seqrec_trainer.errors import InvalidParameterError


def _pairs(windows: np.ndarray) -> Counter:
    """(input item, next item) pairs of every window (the training targets)."""
    inputs, targets = windows[:, :-1], windows[:, 1:]
    real = (inputs != 0) & (targets != 0)
    return Counter(zip(inputs[real].tolist(), targets[real].tolist(), strict=True))


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    width=st.integers(2, 9),
)
def test_every_item_after_the_first_is_a_target_exactly_once(lengths, width):
    users = np.repeat(np.arange(len(lengths)), lengths)
    # item = 1000 * user + position + 1: unique per (user, position)
    items = np.concatenate([1000 * u + np.arange(n) + 1 for u, n in enumerate(lengths)] or
                           [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    windows, _ = all_windows(users, items, width)
    assert windows.shape[1] == width
    assert ((windows != 0).sum(axis=1) >= 2).all()
    for row in windows:  # left-padded, in chronological order
        real = row[row != 0]
        assert (row[: width - len(real)] == 0).all()
        assert (np.diff(real) == 1).all()
    expected = Counter(
        (1000 * u + p, 1000 * u + p + 1) for u, n in enumerate(lengths) for p in range(1, n)
    )
    assert _pairs(windows) == expected


def test_most_recent_window_equals_the_last_mode_row_and_outcome_is_aligned():
    rows = [("u", i, t) for t, i in enumerate([5, 3, 9, 1, 7, 2, 8, 4])] + [("v", 6, 0)]
    data = InteractionsDataset(
        {"USER_ID": [r[0] for r in rows], "ITEM_ID": [r[1] for r in rows],
         "TIMESTAMP": [r[2] for r in rows], "OUTCOME": [float(r[1]) for r in rows]}
    ).fetch_data()
    vocabulary = build_vocabulary(data, None)
    last = prepare(data, None, vocabulary, 3, "last")
    every = prepare(data, None, vocabulary, 3, "all")
    assert every.train.sequences.shape == (3, 4)  # 8 items -> ceil(7 / 3) windows; v: none
    np.testing.assert_array_equal(every.train.sequences[0], last.train.sequences[0])
    decoded = vocabulary.ids[np.maximum(every.train.sequences - 1, 0)].astype(float)
    expected_outcome = np.where(every.train.sequences > 0, decoded, 0.0)
    np.testing.assert_array_equal(every.train.outcomes, expected_outcome)
    assert every.summary["n_train_sequences"] == 3


def test_validation_target_is_never_a_training_target_with_all_windows(synthetic_interactions):
    data = InteractionsDataset(synthetic_interactions).fetch_data()
    frame = pd.DataFrame(data).reset_index(names="row")
    frame = frame.sort_values(["USER_ID", "TIMESTAMP"], kind="stable")
    picked = frame.groupby("USER_ID").nth(-2)
    valid = {k: picked[k].to_numpy() for k in data}
    vocabulary = build_vocabulary(data, None)
    prepared = prepare(data, valid, vocabulary, 4, "all")
    n_targets = int(((prepared.train.sequences[:, :-1] != 0)
                     & (prepared.train.sequences[:, 1:] != 0)).sum())
    # every training row before each validation item is a target once, except user firsts
    histories = frame.groupby("USER_ID")["ITEM_ID"].agg(list)
    expected = sum(max(len(h) - 2 - 1, 0) if len(h) >= 2 else 0 for h in histories)
    assert n_targets == expected


def test_recommender_trains_on_all_windows_and_rejects_unknown_mode(synthetic_interactions):
    estimator = SASRecClassifierEstimator(
        hidden_units=16, epochs=1, max_len=5, random_state=0, history_windows="all"
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=5)
    recommender.train(interactions_ds=InteractionsDataset(synthetic_interactions))
    summary = recommender.training_summary_
    assert summary["n_train_sequences"] > summary["n_users"]
    bad = SASRecClassifierEstimator(hidden_units=16, epochs=1, max_len=5, history_windows="most")
    with pytest.raises(InvalidParameterError, match="history_windows must be one of"):
        SequentialRecommender(SequentialScorer(bad), max_len=5).train(
            interactions_ds=InteractionsDataset(synthetic_interactions)
        )
