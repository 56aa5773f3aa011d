"""The engines' worker side without an engine: carry-over, per-user scoring, cache."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from engine_helpers import as_dict, assert_matches_runtime, string_users
from seqrec_runtime import (
    ArtifactIntegrityError,
    InvalidParameterError,
    MissingValueError,
)
from seqrec_runtime.runtime_cache import (
    LOAD_LOG_ENV,
    artifact_sha256,
    cached_runtime,
    clear_cache,
)
from seqrec_runtime.user_batches import (
    ScoringRequest,
    complete_user_tables,
    recommend_table,
    score_table,
    user_rng,
)

pa = pytest.importorskip("pyarrow")
pytestmark = pytest.mark.filterwarnings("ignore::seqrec_runtime.ColdUserWarning")


def _sorted_table(table: dict) -> object:
    order = np.argsort(table["USER_ID"], kind="stable")  # grouped by user, input order kept
    return pa.table({name: values[order] for name, values in table.items()})


@pytest.mark.parametrize("batch_rows", [1, 2, 7, 10_000])
def test_carry_over_yields_every_user_once_whole(fake_artifact, batch_rows):
    runtime = seqrec_runtime.load(fake_artifact)
    table = _sorted_table(runtime_fakes.make_interactions(runtime.item_ids_, seed=1))
    pieces = list(complete_user_tables(table.to_batches(batch_rows), "USER_ID"))
    users = [np.unique(piece.column("USER_ID").to_numpy()) for piece in pieces]
    flat = np.concatenate(users)
    assert len(flat) == len(np.unique(flat))  # no user in two pieces
    assert pa.concat_tables(pieces).equals(table)  # nothing lost, order kept
    assert max(piece.num_rows for piece in pieces) <= batch_rows + 20  # one batch + one user


@pytest.mark.parametrize("ids", ["int", "str"])
def test_recommend_table_matches_runtime(fake_artifact, fake_string_artifact, ids):
    artifact = fake_artifact if ids == "int" else fake_string_artifact
    runtime = seqrec_runtime.load(artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=2)
    table = string_users(table) if ids == "str" else table
    request = ScoringRequest(top_k=12, exclude_seen=True)  # 12 > the top-k graph's k
    pieces = complete_user_tables(_sorted_table(table).to_batches(5), "USER_ID")
    got = as_dict(pa.concat_tables([recommend_table(runtime, t, request) for t in pieces])
                  .to_pylist())
    assert_matches_runtime(got, runtime, table, top_k=12, exclude_seen=True)


@pytest.mark.parametrize("arrow_type", ["timestamp[us, tz=UTC]", "date32", "double"])
def test_engine_timestamp_types(fake_artifact, arrow_type):
    """Spark's timestamp, date and double columns arrive as these Arrow types."""
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=6)
    days = table["TIMESTAMP"] * 3
    types = {"timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"), "date32": pa.date32(),
             "double": pa.float64()}
    arrow = pa.array(days.astype("datetime64[D]") if arrow_type != "double" else days * 1.5)
    sorted_table = _sorted_table({**table, "TIMESTAMP": days}).set_column(
        2, "TIMESTAMP", pa.chunked_array([arrow.cast(types[arrow_type])]).take(
            pa.array(np.argsort(table["USER_ID"], kind="stable"))))
    got = as_dict(recommend_table(runtime, sorted_table, ScoringRequest(top_k=4)).to_pylist())
    assert_matches_runtime(got, runtime, table, top_k=4, exclude_seen=True)


def test_score_table_matches_score_items(fake_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=3)
    out = score_table(runtime, _sorted_table(table), ScoringRequest(columns=(4, 0, 9)))
    users, scores = runtime.score_items(table, return_user_ids=True)
    assert out.column("USER_ID").to_pylist() == users.tolist()
    np.testing.assert_array_equal(np.array(out.column("scores").to_pylist()), scores[:, [4, 0, 9]])


def test_user_rng_depends_on_seed_and_id_only():
    draw = [user_rng(5, user).random() for user in (3, 3, "3", 4, -3, 2**63 - 1)]
    assert draw[0] == draw[1]
    assert len(set(draw[1:])) == 5  # "3" and 3, 4, -3, a large id: distinct streams
    assert user_rng(6, 3).random() != draw[0]


def test_sampled_user_equals_runtime_alone(fake_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=4)
    request = ScoringRequest(top_k=5, exclude_seen=False, temperature=0.5, seed=9)
    got = as_dict(recommend_table(runtime, _sorted_table(table), request).to_pylist())
    for user in list(got)[:8]:
        rows = table["USER_ID"] == user
        alone = runtime.recommend({k: v[rows] for k, v in table.items()}, top_k=5,
                                  sampling_temperature=0.5, exclude_seen=False,
                                  random_state=user_rng(9, user))
        assert got[user][0] == alone[0].tolist()


def test_exclusion_shortens_only_that_users_list(fake_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    ids = runtime.item_ids_
    rows = {"USER_ID": np.array([1] * 37 + [2]), "ITEM_ID": np.concatenate([ids[:37], ids[:1]]),
            "TIMESTAMP": np.arange(38)}
    out = as_dict(recommend_table(runtime, pa.table(rows), ScoringRequest(top_k=5)).to_pylist())
    assert len(out[1][0]) == 3 and len(out[2][0]) == 5  # 40 items, 37 seen by user 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        clipped = runtime.recommend(rows, top_k=5, exclude_seen=True)
    assert out[1][0] == clipped[0].tolist() and out[2][0][:3] == clipped[1].tolist()
    rows = {"USER_ID": np.array([1] * 40 + [2]), "ITEM_ID": np.concatenate([ids, ids[:1]]),
            "TIMESTAMP": np.arange(41)}  # user 1 has seen all 40 items
    with pytest.raises(InvalidParameterError, match="USER_ID=1 has seen every item"):
        recommend_table(runtime, pa.table(rows), ScoringRequest(top_k=5))


def test_bad_rows_name_the_user(fake_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    ids = runtime.item_ids_.tolist()
    table = pa.table({"user": [1, 2, 2, 3], "ITEM_ID": pa.array([ids[0], ids[1], None, ids[2]]),
                      "TIMESTAMP": [0, 0, 1, 0]})
    with pytest.raises(MissingValueError, match="user=2: "):
        recommend_table(runtime, table, ScoringRequest(user_col="user"))
    table = pa.table({"USER_ID": pa.array([1, None], pa.int64()), "ITEM_ID": ids[:2],
                      "TIMESTAMP": [0, 1]})
    with pytest.raises(MissingValueError, match="USER_ID is null in 1 row"):
        recommend_table(runtime, table, ScoringRequest())


def test_cache_loads_once_and_checks_the_copy(fake_artifact, tmp_path, monkeypatch):
    log = tmp_path / "loads.tsv"
    monkeypatch.setenv(LOAD_LOG_ENV, str(log))
    clear_cache()
    sha = artifact_sha256(fake_artifact)
    first = cached_runtime(fake_artifact, sha, intra_op_num_threads=1)
    assert cached_runtime(fake_artifact, sha, intra_op_num_threads=1) is first
    assert cached_runtime(fake_artifact, sha, intra_op_num_threads=2) is not first
    assert len(log.read_text().splitlines()) == 2
    other = shutil.copytree(fake_artifact, tmp_path / "other")
    with open(other / "manifest.json", "a", encoding="utf-8") as manifest:
        manifest.write("\n")  # still valid JSON, other bytes: not the job's artifact
    with pytest.raises(ArtifactIntegrityError, match="same artifact"):
        cached_runtime(other, sha, intra_op_num_threads=3)
    clear_cache()
