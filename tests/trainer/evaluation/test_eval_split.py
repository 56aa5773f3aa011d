import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqrec_runtime.errors import EmptyInputError, SchemaError
from seqrec_trainer.evaluation.split import concat_histories, leave_one_out_split


def _table():
    # user 1: five rows, shuffled in the input; user 2: two rows (train-only);
    # user 3: three rows whose last two share a timestamp (input order decides).
    rows = [
        (1, 13, 30),
        (3, 31, 1),
        (1, 11, 10),
        (2, 21, 5),
        (1, 15, 50),
        (3, 32, 2),
        (1, 12, 20),
        (2, 22, 6),
        (3, 33, 2),
        (1, 14, 40),
    ]
    users, items, ts = (np.array(c) for c in zip(*rows, strict=True))
    return {
        "USER_ID": users,
        "ITEM_ID": items,
        "TIMESTAMP": ts,
        "OUTCOME": np.arange(len(rows)),
        "EXTRA": np.zeros(len(rows)),
    }


def test_hand_example():
    train, valid, test = leave_one_out_split(_table())
    assert train["ITEM_ID"].tolist() == [11, 12, 13, 21, 22, 31]
    assert valid["ITEM_ID"].tolist() == [14, 32]
    assert test["ITEM_ID"].tolist() == [15, 33]
    assert valid["USER_ID"].tolist() == [1, 3]
    assert test["USER_ID"].tolist() == [1, 3]
    assert set(train) == {"USER_ID", "ITEM_ID", "TIMESTAMP", "OUTCOME"}


def test_test_input_is_train_plus_valid_in_order():
    split = leave_one_out_split(_table())
    ti = split.test_input
    assert ti["USER_ID"].tolist() == [1, 1, 1, 1, 2, 2, 3, 3]
    assert ti["ITEM_ID"].tolist() == [11, 12, 13, 14, 21, 22, 31, 32]
    assert split.valid_input is split.train


def _check_no_leak(table):
    split = leave_one_out_split(table)
    train, valid, test = split
    row_ids = {
        name: set(t["OUTCOME"].tolist())
        for name, t in [("train", train), ("valid", valid), ("test", test)]
    }
    # every row lands in exactly one part
    assert sum(len(s) for s in row_ids.values()) == len(table["USER_ID"])
    assert row_ids["train"] | row_ids["valid"] | row_ids["test"] == set(table["OUTCOME"].tolist())
    assert not row_ids["test"] & (row_ids["train"] | row_ids["valid"])
    assert not set(split.test_input["OUTCOME"].tolist()) & row_ids["test"]
    users, counts = np.unique(table["USER_ID"], return_counts=True)
    eligible = users[counts >= 3]
    # exactly one valid and one test row per user with >= 3 rows, none for the others
    assert sorted(valid["USER_ID"].tolist()) == sorted(eligible.tolist())
    assert sorted(test["USER_ID"].tolist()) == sorted(eligible.tolist())
    assert len(np.unique(valid["USER_ID"])) == len(valid["USER_ID"])
    # the test row is the user's latest, the valid row the latest of the rest
    for u, item_ts, row in zip(test["USER_ID"], test["TIMESTAMP"], test["OUTCOME"], strict=True):
        mine = table["USER_ID"] == u
        latest = table["TIMESTAMP"][mine].max()
        assert item_ts == latest
        # among rows tied at the latest timestamp, the test row is the last in the input
        tied = np.flatnonzero(mine & (table["TIMESTAMP"] == latest))
        assert row == table["OUTCOME"][tied[-1]]
        v = valid["TIMESTAMP"][valid["USER_ID"] == u][0]
        assert v <= item_ts
        assert (train["TIMESTAMP"][train["USER_ID"] == u] <= v).all()
    # the test input holds every non-test row of each evaluated user, in time order
    ti = split.test_input
    for u in eligible:
        ts = ti["TIMESTAMP"][ti["USER_ID"] == u]
        assert (np.diff(ts) >= 0).all()
        assert len(ts) == int(counts[users == u][0]) - 1


def test_no_leak_hand_example():
    _check_no_leak(_table())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 9), st.integers(0, 4)), min_size=1, max_size=60
    )
)
def test_no_leak_property(rows):
    users, items, ts = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    _check_no_leak(
        {"USER_ID": users, "ITEM_ID": items, "TIMESTAMP": ts, "OUTCOME": np.arange(len(rows))}
    )


def test_users_with_fewer_than_three_are_train_only():
    table = {
        "USER_ID": ["a", "a", "b", "c", "c", "c"],
        "ITEM_ID": [1, 2, 3, 4, 5, 6],
        "TIMESTAMP": [1, 2, 1, 1, 2, 3],
    }
    train, valid, test = leave_one_out_split(table)
    assert train["USER_ID"].tolist() == ["a", "a", "b", "c"]
    assert valid["USER_ID"].tolist() == ["c"] and test["USER_ID"].tolist() == ["c"]


def test_pyarrow_input_and_no_outcome():
    table = pa.table({"USER_ID": [1, 1, 1], "ITEM_ID": [7, 8, 9], "TIMESTAMP": [3.0, 1.0, 2.0]})
    train, valid, test = leave_one_out_split(table)
    assert (train["ITEM_ID"].tolist(), valid["ITEM_ID"].tolist(), test["ITEM_ID"].tolist()) == (
        [8],
        [9],
        [7],
    )
    assert "OUTCOME" not in train


def test_errors():
    with pytest.raises(EmptyInputError):
        leave_one_out_split({"USER_ID": [], "ITEM_ID": [], "TIMESTAMP": []})
    with pytest.raises(SchemaError):
        leave_one_out_split({"USER_ID": [1], "ITEM_ID": [1]})


def test_concat_histories_keeps_table_order_within_user():
    a = {"USER_ID": np.array([1, 2]), "ITEM_ID": np.array([10, 20])}
    b = {"USER_ID": np.array([2, 1]), "ITEM_ID": np.array([21, 11])}
    out = concat_histories(a, b)
    assert out["ITEM_ID"].tolist() == [10, 11, 20, 21]
