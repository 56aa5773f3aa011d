"""Checks on the real datasets in ../shared/data; skipped when that folder is absent."""

from pathlib import Path

import numpy as np
import pytest
from seqrec_trainer.evaluation import (
    evaluate_many,
    leave_one_out_split,
    load_movielens_csv,
    load_movielens_dat,
    load_sasrec_txt,
)

SHARED = (Path(__file__).resolve().parents[3] / "../shared/data").resolve()


def _require(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"shared dataset {path} is absent (only in the project workspace)")
    return path


class _Popularity:
    def __init__(self, train):
        self.item_ids_, counts = np.unique(train["ITEM_ID"], return_counts=True)
        self.scores = counts.astype(np.float32)

    def score_items(self, interactions, return_user_ids=True):
        users = np.unique(interactions["USER_ID"])
        return users, np.broadcast_to(self.scores, (len(users), len(self.scores)))


def test_ml1m_sasrec_file():
    data = load_sasrec_txt(_require("ml-1m/ml-1m.txt.gz"))
    assert len(data["USER_ID"]) == 999611
    assert len(np.unique(data["USER_ID"])) == 6040
    assert len(np.unique(data["ITEM_ID"])) == 3416
    train, valid, test = leave_one_out_split(data)
    assert len(valid["USER_ID"]) == len(test["USER_ID"]) == 6040
    assert len(train["USER_ID"]) == 999611 - 2 * 6040


def test_ml1m_popularity_sampled_matches_paper():
    """PopRec on ML-1M in the SASRec paper (Table 3): HR@10 0.4329, NDCG@10 0.2377."""
    split = leave_one_out_split(load_sasrec_txt(_require("ml-1m/ml-1m.txt.gz")))
    res = evaluate_many(
        _Popularity(split.train),
        split.test_input,
        split.test,
        ("sampled",),
        ks=(10,),
        random_state=0,
    )["sampled"]
    assert res["n_users"] == 6040 and res["n_skipped"] == 0
    assert 0.41 < res["HR@10"] < 0.46
    assert 0.22 < res["NDCG@10"] < 0.26


def test_ml1m_timestamps_dat():
    data = load_movielens_dat(_require("ml-1m-timestamps/ratings_users1-2999.dat.gz"))
    assert len(data["USER_ID"]) == 487650
    assert len(np.unique(data["USER_ID"])) == 2999
    assert len(np.unique(data["ITEM_ID"])) == 3615


def test_ml_latest_small_csv():
    data = load_movielens_csv(_require("ml-latest-small/ratings.csv.gz"))
    assert len(data["USER_ID"]) == 100836
    assert len(np.unique(data["USER_ID"])) == 610
    assert len(np.unique(data["ITEM_ID"])) == 9724
