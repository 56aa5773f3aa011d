"""Training sequences and honest validation (``seqrec_trainer.data.training.prepare``)."""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seqrec_runtime.errors import InvalidParameterError, SeqrecError
from seqrec_runtime.histories import read_histories
from seqrec_trainer import InteractionsDataset
from seqrec_trainer.data.training import build_vocabulary, prepare, vocabulary_and_index
from seqrec_trainer.errors import NotEnoughDataError

COLUMNS = ["USER_ID", "ITEM_ID", "TIMESTAMP"]


def _table(rows, outcome: bool = False) -> dict[str, np.ndarray]:
    """Rows of (user, item, timestamp[, outcome]) -> validated columns."""
    data = {name: [r[k] for r in rows] for k, name in enumerate(COLUMNS)}
    if outcome:
        data["OUTCOME"] = [r[3] for r in rows]
    return InteractionsDataset(data).fetch_data()


def _prepare(interactions, valid=None, max_len=5, items=None):
    vocabulary = build_vocabulary(interactions, items)
    return prepare(interactions, valid, vocabulary, max_len), vocabulary


def _rows(matrix: np.ndarray) -> list[list[int]]:
    """Non-padding entries of each row (and check they are left-padded)."""
    out = []
    for row in matrix:
        real = row[row != 0]
        assert (row[: len(row) - len(real)] == 0).all(), f"not left-padded: {row}"
        out.append(real.tolist())
    return out


def reference_prepare(interactions, valid, vocabulary, max_len):
    """Plain-Python statement of the rule in the ``prepare`` docstring.

    Returns (training rows as lists of indices, their outcomes, validation inputs, targets).
    """
    index = vocabulary.encode(interactions["ITEM_ID"])
    outcome = interactions.get("OUTCOME")
    by_user = defaultdict(list)
    for pos, (user, ts) in enumerate(zip(interactions["USER_ID"].tolist(),
                                         interactions["TIMESTAMP"].tolist(), strict=True)):
        by_user[user].append((ts, pos))
    histories = {u: [p for _, p in sorted(rows)] for u, rows in by_user.items()}  # stable
    cuts = {}
    valid_rows = []
    if valid is not None:
        v_index = vocabulary.encode(valid["ITEM_ID"])
        for user, item, ts in zip(valid["USER_ID"].tolist(), v_index.tolist(),
                                  valid["TIMESTAMP"].tolist(), strict=True):
            if user not in histories or item == 0:
                continue  # dropped with a warning
            hist = histories[user]
            exact = [k for k, p in enumerate(hist)
                     if interactions["TIMESTAMP"][p] == ts and index[p] == item]
            cut = exact[0] if exact else sum(interactions["TIMESTAMP"][p] < ts for p in hist)
            cuts[user] = cut
            valid_rows.append((user, item))
    train_rows, train_outcomes = [], []
    kept = {}
    for user in sorted(histories):
        hist = histories[user][: cuts.get(user, len(histories[user]))]
        kept[user] = hist
        window = hist[-(max_len + 1):]
        if len(window) >= 2:
            train_rows.append([int(index[p]) for p in window])
            if outcome is not None:
                train_outcomes.append([float(outcome[p]) for p in window])
    inputs, targets = [], []
    for user, item in valid_rows:
        if kept[user]:
            inputs.append([int(index[p]) for p in kept[user][-max_len:]])
            targets.append(item)
    return train_rows, train_outcomes, inputs, targets


def _check_against_reference(interactions, valid, max_len):
    prepared, vocabulary = _prepare(interactions, valid, max_len)
    rows, outcomes, inputs, targets = reference_prepare(interactions, valid, vocabulary, max_len)
    assert prepared.train.sequences.shape == (len(rows), max_len + 1)
    assert _rows(prepared.train.sequences) == rows
    if "OUTCOME" in interactions:
        got = [row[row_items != 0].tolist() for row, row_items in
               zip(prepared.train.outcomes, prepared.train.sequences, strict=True)]
        assert got == outcomes  # exact: the test outcomes are representable in float32
    else:
        assert prepared.train.outcomes is None
    if valid is None:
        assert prepared.valid is None
    else:
        assert prepared.valid.inputs.shape == (len(inputs), max_len)
        assert _rows(prepared.valid.inputs) == inputs
        assert prepared.valid.targets.tolist() == targets
    return prepared


# ------------------------------------------------------------------ sequences
def test_sort_by_user_then_time_with_stable_ties():
    rows = [(2, 20, 5), (1, 13, 3), (1, 11, 1), (1, 12, 3), (2, 21, 5), (1, 14, 3), (2, 22, 4)]
    prepared, vocabulary = _prepare(_table(rows), max_len=6)
    decoded = [vocabulary.ids[np.array(r) - 1].tolist() for r in _rows(prepared.train.sequences)]
    # user 1: t=1 then the three t=3 rows in input order; user 2: t=4 then t=5 in input order
    assert decoded == [[11, 13, 12, 14], [22, 20, 21]]


def test_training_keeps_last_max_len_plus_one():
    rows = [(1, i, i) for i in range(1, 21)] + [(2, 100 + i, i) for i in range(3)]
    prepared, vocabulary = _prepare(_table(rows), max_len=5)
    assert prepared.train.sequences.shape == (2, 6)
    decoded = [vocabulary.ids[np.array(r) - 1].tolist() for r in _rows(prepared.train.sequences)]
    assert decoded == [list(range(15, 21)), [100, 101, 102]]
    assert prepared.summary["n_train_sequences"] == 2


def test_inference_keeps_last_max_len():
    rows = [(1, i, i) for i in range(1, 21)] + [(2, 5, 0)]
    data = _table(rows)
    vocabulary = build_vocabulary(data, None)
    seqs = read_histories(data, vocabulary, 5)
    assert seqs.items.shape == (2, 5)
    assert vocabulary.ids[seqs.items[0] - 1].tolist() == list(range(16, 21))
    assert seqs.items[1].tolist() == [0, 0, 0, 0, vocabulary.encode(np.array([5]))[0]]
    # the whole history is still available (for exclude_seen)
    assert seqs.history_counts().tolist() == [20, 1]


def test_outcome_is_aligned_with_items():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), int(t), float(10 * i + 0.5)) for u in range(1, 6)
            for t, i in enumerate(rng.integers(1, 30, size=12))]
    order = rng.permutation(len(rows))
    data = _table([rows[k] for k in order], outcome=True)
    prepared, vocabulary = _prepare(data, max_len=7)
    seqs, outcomes = prepared.train.sequences, prepared.train.outcomes
    assert outcomes.shape == seqs.shape
    item_ids = np.where(seqs > 0, vocabulary.ids[np.maximum(seqs, 1) - 1], 0)
    np.testing.assert_allclose(outcomes, np.where(seqs > 0, 10 * item_ids + 0.5, 0.0))
    _check_against_reference(data, None, 7)


def test_absent_outcome():
    prepared, _ = _prepare(_table([(1, 1, 1), (1, 2, 2), (2, 1, 1), (2, 3, 5)]))
    assert prepared.train.outcomes is None


def test_row_order_does_not_matter(synthetic_interactions):
    data = InteractionsDataset(synthetic_interactions).fetch_data()
    sorted_rows = np.lexsort((data["TIMESTAMP"], data["USER_ID"]))
    shuffled = np.random.default_rng(1).permutation(len(sorted_rows))
    a, _ = _prepare({k: v[sorted_rows] for k, v in data.items()}, max_len=6)
    b, _ = _prepare({k: v[shuffled] for k, v in data.items()}, max_len=6)
    np.testing.assert_array_equal(a.train.sequences, b.train.sequences)
    np.testing.assert_array_equal(a.train.outcomes, b.train.outcomes)
    np.testing.assert_allclose(a.popularity, b.popularity)


def test_popularity_counts_training_rows_and_covers_catalogue():
    rows = [(1, 1, 1), (1, 2, 2), (1, 2, 3), (2, 2, 1), (2, 3, 2)]
    data = _table(rows)
    items = {"ITEM_ID": np.array([1, 2, 3, 4])}
    prepared, vocabulary = _prepare(data, items=items)
    assert vocabulary.ids.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(prepared.popularity, [0.2, 0.6, 0.2, 0.0])
    assert prepared.popularity.dtype == np.float32


def test_every_user_with_one_interaction_is_not_enough_data():
    data = _table([(1, 1, 1), (2, 2, 1), (3, 1, 5)])
    with pytest.raises(NotEnoughDataError) as excinfo:
        _prepare(data)
    assert isinstance(excinfo.value, (ValueError, SeqrecError))


# ------------------------------------------------------------------ honest validation
def _second_to_last(data: dict[str, np.ndarray]) -> tuple[dict, np.ndarray]:
    """The scikit-rec docs' recipe: each user's second-to-last interaction (and its rows)."""
    frame = pd.DataFrame(data).reset_index(names="row")
    frame = frame.sort_values(["USER_ID", "TIMESTAMP"], kind="stable")
    picked = frame.groupby("USER_ID").nth(-2)
    valid = {k: picked[k].to_numpy() for k in data}
    return valid, picked["row"].to_numpy()


def _user_histories(data):
    frame = pd.DataFrame(data).sort_values(["USER_ID", "TIMESTAMP"], kind="stable")
    return {u: g["ITEM_ID"].tolist() for u, g in frame.groupby("USER_ID")}


@pytest.mark.parametrize("valid_in_training_table", [True, False], ids=["all-rows", "held-out"])
def test_docs_recipe_validation_targets_are_never_training_targets(
    synthetic_interactions, valid_in_training_table
):
    data = InteractionsDataset(synthetic_interactions).fetch_data()
    valid, valid_rows = _second_to_last(data)
    train = data
    if not valid_in_training_table:
        keep = np.ones(len(data["USER_ID"]), dtype=bool)
        keep[valid_rows] = False
        train = {k: v[keep] for k, v in data.items()}
    max_len = 6
    prepared = _check_against_reference(train, valid, max_len)
    vocabulary = build_vocabulary(train, None)

    # Explicitly: each validated user's training row is the prefix that ends strictly
    # before the validation item (so neither it nor the last item is a training target).
    histories = _user_histories(data)
    valid_item = dict(zip(valid["USER_ID"].tolist(), valid["ITEM_ID"].tolist(), strict=True))
    expected_rows = []
    for user in sorted(histories):
        items = histories[user]
        if user in valid_item:
            assert items[-2] == valid_item[user]
            items = items[:-2]
        if len(items) >= 2:
            expected_rows.append(vocabulary.encode(np.array(items[-(max_len + 1):])).tolist())
    assert _rows(prepared.train.sequences) == expected_rows
    n_valid = len(valid["USER_ID"])
    assert prepared.summary["n_valid_targets"] == n_valid
    assert prepared.summary["n_train_rows_used"] == len(data["USER_ID"]) - 2 * n_valid
    np.testing.assert_array_equal(prepared.valid.targets, vocabulary.encode(valid["ITEM_ID"]))
    # the validation input is the history right before the validation item
    expected_inputs = [
        vocabulary.encode(np.array(histories[u][:-2][-max_len:])).tolist()
        for u in valid["USER_ID"].tolist()
    ]
    assert _rows(prepared.valid.inputs) == expected_inputs


def test_validation_rows_in_or_out_of_the_table_give_the_same_training_data(
    synthetic_interactions,
):
    data = InteractionsDataset(synthetic_interactions).fetch_data()
    valid, valid_rows = _second_to_last(data)
    keep = np.ones(len(data["USER_ID"]), dtype=bool)
    keep[valid_rows] = False
    with_rows, _ = _prepare(data, valid, max_len=6)
    without_rows, _ = _prepare({k: v[keep] for k, v in data.items()}, valid, max_len=6)
    np.testing.assert_array_equal(with_rows.train.sequences, without_rows.train.sequences)
    np.testing.assert_array_equal(with_rows.valid.inputs, without_rows.valid.inputs)
    np.testing.assert_array_equal(with_rows.valid.targets, without_rows.valid.targets)


@pytest.mark.parametrize(
    ("valid_in_table", "expected"),
    [
        # in the table: rows tied with the validation row that precede it (input order) stay
        (True, [1, 2]),
        # held out: tied rows cannot be ordered against it, so they are all left out
        (False, [1]),
    ],
)
def test_validation_cut_with_tied_timestamps(valid_in_table, expected):
    rows = [(1, 1, 10), (1, 2, 20), (1, 3, 20), (1, 4, 20), (1, 5, 30), (2, 1, 1), (2, 6, 2)]
    if not valid_in_table:
        rows.remove((1, 3, 20))
    data = _table(rows)
    valid = _table([(1, 3, 20)])
    prepared, vocabulary = _prepare(data, valid, items={"ITEM_ID": np.arange(1, 7)})
    first_user_inputs = _rows(prepared.valid.inputs)[0]
    assert vocabulary.ids[np.array(first_user_inputs) - 1].tolist() == expected
    assert prepared.valid.targets.tolist() == vocabulary.encode(np.array([3])).tolist()
    training_items = {int(vocabulary.ids[i - 1]) for row in _rows(prepared.train.sequences)
                      for i in row}
    assert 3 not in training_items
    assert 5 not in training_items  # after the validation item


def test_more_than_one_validation_row_per_user_is_an_error():
    data = _table([(1, 1, 1), (1, 2, 2), (1, 3, 3), (7, 1, 1), (7, 2, 2)])
    valid = _table([(7, 2, 2), (1, 2, 2), (7, 1, 1)])
    with pytest.raises(InvalidParameterError, match="7") as excinfo:
        _prepare(data, valid)
    assert isinstance(excinfo.value, ValueError)


def test_validation_user_id_type_must_match():
    data = _table([(1, 1, 1), (1, 2, 2), (1, 3, 3)])
    valid = _table([("1", 2, 2)])
    with pytest.raises(SeqrecError) as excinfo:
        _prepare(data, valid)
    assert isinstance(excinfo.value, (ValueError, TypeError))


def test_unknown_validation_users_and_items_are_dropped_with_a_warning():
    data = _table([(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 1), (2, 2, 2), (2, 3, 3)])
    valid = _table([(1, 2, 2), (2, 99, 2), (3, 1, 1)])  # ok, unknown item, unknown user
    with pytest.warns(UserWarning, match="2 validation row"):
        prepared, _ = _prepare(data, valid)
    assert prepared.summary["n_valid_dropped"] == 2
    assert prepared.summary["n_valid_targets"] == 1
    # user 2's training data is not cut by a validation row that was dropped
    # user 1 keeps only [1] (no target); user 2 keeps everything
    assert _rows(prepared.train.sequences) == [[1, 2, 3]]


def test_validation_user_without_earlier_history_is_left_out():
    data = _table([(1, 1, 5), (1, 2, 6), (2, 1, 1), (2, 2, 2), (2, 3, 3)])
    valid = _table([(1, 3, 1), (2, 3, 3)])  # user 1's validation precedes all their rows
    with pytest.warns(UserWarning, match="no training history"):
        prepared, _ = _prepare(data, valid)
    assert prepared.valid.targets.tolist() == [3]


def test_float_validation_timestamps_against_int_training_timestamps():
    data = _table([(1, 1, 1), (1, 2, 2), (1, 3, 3), (1, 4, 4)])
    valid = InteractionsDataset({"USER_ID": [1], "ITEM_ID": [3], "TIMESTAMP": [2.5]}).fetch_data()
    prepared, _ = _prepare(data, valid)
    assert _rows(prepared.valid.inputs) == [[1, 2]]
    assert _rows(prepared.train.sequences) == [[1, 2]]


# ------------------------------------------------------------------ property test
@st.composite
def _tables_with_validation(draw):
    n_users = draw(st.integers(1, 4))
    rows = draw(st.lists(
        st.tuples(st.integers(0, n_users - 1), st.integers(1, 6), st.integers(0, 5)),
        min_size=1, max_size=30,
    ))
    outcome = [float(k) + 0.5 for k in range(len(rows))]  # tags each row
    valid = []
    for user in sorted({r[0] for r in rows}):
        choice = draw(st.sampled_from(["none", "row", "new"]))
        if choice == "row":
            mine = [r for r in rows if r[0] == user]
            row = draw(st.sampled_from(mine))
            valid.append((user, row[1], row[2]))
        elif choice == "new":
            valid.append((user, draw(st.integers(1, 7)), draw(st.integers(0, 6))))
    if draw(st.booleans()):
        valid.append((n_users + 5, 1, 3))  # unknown user
    max_len = draw(st.integers(1, 5))
    float_valid_time = draw(st.booleans())
    return rows, outcome, valid, max_len, float_valid_time


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables_with_validation())
def test_prepare_matches_the_reference(case):
    rows, outcome, valid_rows, max_len, float_valid_time = case
    data = _table([(*r, o) for r, o in zip(rows, outcome, strict=True)], outcome=True)
    valid = None
    if valid_rows:
        valid = {name: np.array([r[k] for r in valid_rows]) for k, name in enumerate(COLUMNS)}
        if float_valid_time:
            valid["TIMESTAMP"] = valid["TIMESTAMP"].astype(np.float64)
    vocabulary = build_vocabulary(data, None)
    ref_rows, _, ref_inputs, _ = reference_prepare(data, valid, vocabulary, max_len)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not ref_rows or (valid is not None and not ref_inputs):
            with pytest.raises(NotEnoughDataError):
                prepare(data, valid, vocabulary, max_len)
            return
        _check_against_reference(data, valid, max_len)


def test_vocabulary_and_index_gives_what_encode_gives():
    """fit takes each row's model index from the grouping that builds the vocabulary; it
    must equal ``vocabulary.encode`` and give the same prepared data, with a catalogue too."""
    rng = np.random.default_rng(4)
    n = 6_000  # above HASH_MIN_ROWS: the hash-table paths
    for ids in (rng.integers(0, 2**40, 300), np.array([f"item-{i}" for i in range(300)])):
        data = {"USER_ID": rng.integers(0, 200, n), "ITEM_ID": ids[rng.integers(0, 250, n)],
                "TIMESTAMP": rng.integers(0, 1_000, n)}
        catalogue = {"ITEM_ID": ids[200:]}  # 50 ids the interactions never mention
        vocabulary, index = vocabulary_and_index(data, catalogue)
        assert len(vocabulary) == 300
        np.testing.assert_array_equal(index, vocabulary.encode(data["ITEM_ID"]))
        given = prepare(data, None, vocabulary, 5, "all", index)
        looked_up = prepare(data, None, vocabulary, 5, "all")
        np.testing.assert_array_equal(given.train.sequences, looked_up.train.sequences)
        np.testing.assert_array_equal(given.histories[1], looked_up.histories[1])
