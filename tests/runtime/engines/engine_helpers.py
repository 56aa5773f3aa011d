"""Data and comparison helpers of the engine tests (imported by the tests and conftest)."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from seqrec_runtime import ColdUserWarning

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
ML_1M_TIMESTAMPS = DATA / "ml-1m-timestamps" / "ratings_users1-2999.dat.gz"
ML_ITEMS = 3952  # MovieLens-1M movie ids are 1..3952


def read_ml_1m_timestamps(max_user: int) -> dict[str, np.ndarray]:
    """Real MovieLens-1M rows of users 1..max_user (real timestamps, with ties), file order."""
    if not ML_1M_TIMESTAMPS.is_file():
        pytest.skip(f"real data absent: {ML_1M_TIMESTAMPS} (../shared/data is not in CI)")
    users, items, times = [], [], []
    with gzip.open(ML_1M_TIMESTAMPS, "rt", encoding="latin-1") as lines:
        for line in lines:
            user, item, _rating, time = line.rstrip("\n").split("::")
            if int(user) > max_user:
                continue
            users.append(int(user))
            items.append(int(item))
            times.append(int(time))
    return {"USER_ID": np.array(users, dtype=np.int64),
            "ITEM_ID": np.array(items, dtype=np.int64),
            "TIMESTAMP": np.array(times, dtype=np.int64)}


def string_users(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same table with text user ids ("u17")."""
    out = dict(table)
    out["USER_ID"] = np.array([f"u{u}" for u in table["USER_ID"]])
    return out


def as_dict(rows, user_col: str = "USER_ID") -> dict:
    """``{user: (items, scores)}`` from collected rows (Spark Rows or Ray dicts)."""
    result = {}
    for row in rows:
        user = row[user_col]
        assert user not in result, f"user {user!r} returned twice"
        result[user] = (list(row["items"]), [float(s) for s in row["scores"]])
    return result


def assert_matches_runtime(got: dict, runtime, table, **kwargs) -> None:
    """Every user exactly once, items equal to rt.recommend, scores equal to score_items."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdUserWarning)
        users, items = runtime.recommend(table, return_user_ids=True, **kwargs)
        _, scores = runtime.score_items(table, return_user_ids=True)
    assert sorted(got) == sorted(users.tolist()), "users missing or extra"
    columns = np.searchsorted(runtime.item_ids_, items)
    for row, user in enumerate(users.tolist()):
        got_items, got_scores = got[user]
        assert got_items == items[row].tolist(), f"user {user!r}"
        np.testing.assert_array_equal(got_scores, scores[row, columns[row]])
