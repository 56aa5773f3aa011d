"""Sharded data: each of 2 ranks reads its own files of a user-partitioned Parquet directory."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from ddp_worker import sharded_table
from seqrec_trainer.distributed import write_user_partitions
from seqrec_trainer.distributed.parquet import rank_files, read_rank_table
from seqrec_trainer.errors import EmptyInputError


def test_each_user_is_on_one_rank_and_every_user_on_some_rank(trained_2ranks):
    users = [set(trained_2ranks.record("sharded_parquet", rank)["users"]) for rank in range(2)]
    assert not users[0] & users[1]
    assert users[0] | users[1] == set(np.unique(sharded_table()["USER_ID"]).tolist())


def test_ranks_train_one_model_with_the_jobs_popularity(trained_2ranks):
    records = [trained_2ranks.record("sharded_parquet", rank) for rank in range(2)]
    assert records[0]["weights"] == records[1]["weights"]
    assert records[0]["item_ids"] == records[1]["item_ids"]
    assert records[0]["n_train_sequences"] != records[1]["n_train_sequences"]  # own windows
    items = sharded_table()["ITEM_ID"]
    ids = np.asarray(records[0]["item_ids"])
    whole = np.array([(items == item).sum() for item in ids], dtype=np.float64) / len(items)
    for record in records:
        np.testing.assert_allclose(record["popularity"], whole, rtol=1e-5, atol=1e-7)


def test_without_the_catalogue_every_rank_refuses_different_vocabularies(trained_2ranks):
    parts = trained_2ranks.out / "parts"
    item_sets = [set(np.concatenate([pq.read_table(p).column("ITEM_ID").to_numpy()
                                     for p in rank_files(parts, rank, 2)]).tolist())
                 for rank in range(2)]
    assert item_sets[0] != item_sets[1]  # so the vocabularies built per rank differ
    for rank in range(2):
        record = trained_2ranks.record("sharded_without_catalogue", rank)
        assert record["error"] == "InvalidParameterError"
        assert "different item vocabularies" in record["message"]
        assert "items_ds" in record["message"]


def test_an_item_prior_with_sharded_data_is_refused_on_every_rank(trained_2ranks):
    for rank in range(2):
        record = trained_2ranks.record("sharded_with_prior", rank)
        assert record["error"] == "InvalidParameterError"
        assert "refit_item_prior" in record["message"]


def test_partition_files_keep_users_whole(tmp_path):
    data = sharded_table()
    paths = write_user_partitions(data, tmp_path, n_files=3)
    owners = {}
    for path in paths:
        for user in np.unique(pq.read_table(path).column("USER_ID").to_numpy()).tolist():
            assert owners.setdefault(user, path) == path
    assert sum(pq.read_table(p).num_rows for p in paths) == len(data["USER_ID"])
    assert read_rank_table(tmp_path).num_rows == len(data["USER_ID"])  # no group: everything


def test_an_empty_directory_is_a_clear_error(tmp_path):
    with pytest.raises(EmptyInputError, match="Parquet file"):
        read_rank_table(tmp_path)
