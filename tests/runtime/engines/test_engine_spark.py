"""seqrec_runtime.spark against the single-process runtime (one local[2] session)."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from engine_helpers import as_dict, assert_matches_runtime, read_ml_1m_timestamps, string_users
from seqrec_runtime import (
    ArtifactError,
    ArtifactIntegrityError,
    IdTypeError,
    InvalidParameterError,
    SchemaError,
    TimestampTypeError,
)
from seqrec_runtime.user_batches import user_rng

pytestmark = [pytest.mark.spark,
              pytest.mark.filterwarnings("ignore::seqrec_runtime.ColdUserWarning")]
pa = pytest.importorskip("pyarrow")
BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


@pytest.fixture
def arrow_batch(spark):
    """Set the Arrow batch size for one test, restoring the default after it."""
    def set_rows(rows: int | None) -> None:
        if rows is None:
            spark.conf.unset(BATCH_CONF)
        else:
            spark.conf.set(BATCH_CONF, str(rows))

    yield set_rows
    spark.conf.unset(BATCH_CONF)


def _frame(spark, table):
    return spark.createDataFrame(pa.table(table))


def _recommend(df, artifact, **kwargs):
    from seqrec_runtime import spark as seqrec_spark

    return as_dict(seqrec_spark.recommend(df, artifact, **kwargs).collect())


@pytest.mark.parametrize(
    ("partitions", "batch_rows", "exclude_seen", "strategy"),
    [(1, 1, True, "sorted"), (3, 7, False, "sorted"), (17, None, True, "sorted"),
     (3, None, True, "grouped")],
)
def test_int_ids_match_runtime(spark, arrow_batch, fake_artifact, partitions, batch_rows,
                               exclude_seen, strategy):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, n_users=60, seed=1)
    arrow_batch(batch_rows)
    got = _recommend(_frame(spark, table), fake_artifact, top_k=5, exclude_seen=exclude_seen,
                     num_partitions=partitions, strategy=strategy)
    assert -1 in got  # the cold user (unknown items only) gets the popularity fallback
    assert_matches_runtime(got, runtime, table, top_k=5, exclude_seen=exclude_seen)


@pytest.mark.parametrize(("partitions", "batch_rows"), [(1, 7), (17, 1)])
def test_string_ids_match_runtime(spark, arrow_batch, fake_string_artifact, partitions,
                                  batch_rows):
    runtime = seqrec_runtime.load(fake_string_artifact)
    table = string_users(runtime_fakes.make_interactions(runtime.item_ids_, seed=2))
    arrow_batch(batch_rows)
    got = _recommend(_frame(spark, table), fake_string_artifact, top_k=12,  # > the graph's k
                     num_partitions=partitions)
    assert_matches_runtime(got, runtime, table, top_k=12, exclude_seen=True)


@pytest.mark.parametrize(("partitions", "batch_rows", "strategy"),
                         [(17, 7, "sorted"), (3, None, "grouped")])
def test_real_movielens_rows_match_runtime(spark, arrow_batch, ml_artifact, partitions,
                                           batch_rows, strategy):
    """Real MovieLens-1M histories (real timestamps, ties kept in file order)."""
    table = read_ml_1m_timestamps(max_user=200)
    runtime = seqrec_runtime.load(ml_artifact)
    arrow_batch(batch_rows)
    got = _recommend(_frame(spark, table), ml_artifact, top_k=10, num_partitions=partitions,
                     strategy=strategy)
    assert len(got) == 200
    assert_matches_runtime(got, runtime, table, top_k=10, exclude_seen=True)


def test_sampling_is_reproducible_per_user(spark, arrow_batch, fake_artifact):
    """A user's sample depends on the seed and its rows only, not on partitions/batches."""
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=3)
    df = _frame(spark, table)
    kwargs = dict(top_k=6, sampling_temperature=2.0, random_state=11)
    arrow_batch(1)
    one = _recommend(df, fake_artifact, num_partitions=1, **kwargs)
    arrow_batch(None)
    many = _recommend(df, fake_artifact, num_partitions=17, **kwargs)
    assert one == many
    for user in list(one)[:10]:  # each equals rt.recommend on that user alone
        rows = table["USER_ID"] == user
        alone = runtime.recommend({k: v[rows] for k, v in table.items()}, top_k=6,
                                  sampling_temperature=2.0, exclude_seen=True,
                                  random_state=user_rng(11, user))
        assert one[user][0] == alone[0].tolist()
    other = _recommend(df, fake_artifact, num_partitions=3, top_k=6, sampling_temperature=2.0,
                       random_state=12)
    assert sum(other[u][0] != one[u][0] for u in one) > len(one) // 2


def test_long_output_and_score_items(spark, fake_artifact):
    from seqrec_runtime import spark as seqrec_spark

    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=4)
    df = _frame(spark, table)
    arrays = _recommend(df, fake_artifact, top_k=3)
    long = seqrec_spark.recommend(df, fake_artifact, top_k=3, output="long").collect()
    assert len(long) == 3 * len(arrays)
    for row in long:
        items, scores = arrays[row["USER_ID"]]
        assert items[row["rank"] - 1] == row["item"]
        assert scores[row["rank"] - 1] == pytest.approx(row["score"], abs=0)
    wanted = runtime.item_ids_[[5, 0, 39]]
    scored = seqrec_spark.score_items(df, fake_artifact, items=wanted.tolist()).collect()
    users, reference = runtime.score_items(table, return_user_ids=True)
    by_user = {row["USER_ID"]: row["scores"] for row in scored}
    assert sorted(by_user) == users.tolist()
    for row, user in enumerate(users.tolist()):
        np.testing.assert_array_equal(by_user[user], reference[row, [5, 0, 39]])
    with pytest.raises(InvalidParameterError, match="not in the model's vocabulary"):
        seqrec_spark.score_items(df, fake_artifact, items=[-12345])


def test_each_worker_process_loads_the_model_once(spark, arrow_batch, fake_artifact, load_log):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, n_users=200, seed=5)
    arrow_batch(7)  # ~300 batches over 4 partitions
    _recommend(_frame(spark, table), fake_artifact, num_partitions=4)
    _recommend(_frame(spark, table), fake_artifact, num_partitions=4, threads_per_task=2)
    loads = [tuple(line.split("\t")) for line in load_log.read_text().splitlines()]
    assert loads, "no load was logged"
    assert max(Counter(loads).values()) == 1, "a worker process loaded the same model twice"
    threads = {int(t) for _, sha, t in loads if sha == _sha(fake_artifact)}
    assert threads == {1, 2}  # spark.task.cpus = 1 by default; then the explicit 2


def _sha(artifact):
    from seqrec_runtime.runtime_cache import artifact_sha256

    return artifact_sha256(artifact)


def test_artifact_shipped_with_add_file(spark, fake_artifact, tmp_path):
    copy = shutil.copytree(fake_artifact, tmp_path / "shipped_artifact")
    runtime = seqrec_runtime.load(copy)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=6)
    got = _recommend(_frame(spark, table), copy, top_k=4, ship_artifact=True)
    assert_matches_runtime(got, runtime, table, top_k=4, exclude_seen=True)


def test_driver_refuses_bad_input_before_any_job(spark, fake_artifact, tmp_path):
    from seqrec_runtime import spark as seqrec_spark

    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=7)
    df = _frame(spark, table)
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup())
    with pytest.raises(SchemaError, match="missing column.*'when'"):
        seqrec_spark.recommend(df, fake_artifact, time_col="when")
    with pytest.raises(IdTypeError, match="'ITEM_ID' is float"):
        seqrec_spark.recommend(df.withColumn("ITEM_ID", df.ITEM_ID.cast("double")),
                               fake_artifact)
    with pytest.raises(IdTypeError, match="model's item ids are integer"):
        seqrec_spark.recommend(df.withColumn("ITEM_ID", df.ITEM_ID.cast("string")),
                               fake_artifact)
    with pytest.raises(TimestampTypeError, match="'TIMESTAMP' is text"):
        seqrec_spark.recommend(df.withColumn("TIMESTAMP", df.TIMESTAMP.cast("string")),
                               fake_artifact)
    with pytest.raises(InvalidParameterError, match="top_k"):
        seqrec_spark.recommend(df, fake_artifact, top_k=0)
    with pytest.raises(InvalidParameterError, match="output"):
        seqrec_spark.recommend(df, fake_artifact, output="wide")
    with pytest.raises(ArtifactError, match="cannot read"):
        seqrec_spark.recommend(df, tmp_path / "nowhere")
    corrupt = shutil.copytree(fake_artifact, tmp_path / "corrupt")
    with open(corrupt / "model.onnx", "ab") as model:
        model.write(b"\0")
    with pytest.raises(ArtifactIntegrityError):
        seqrec_spark.recommend(df, corrupt)
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs_before


def test_worker_errors_name_the_user(spark, fake_artifact):
    from pyspark.errors import PythonException
    from seqrec_runtime import spark as seqrec_spark

    runtime = seqrec_runtime.load(fake_artifact)
    rows = [(1, int(runtime.item_ids_[0]), 0), (2, int(runtime.item_ids_[1]), 0),
            (2, None, 1), (3, int(runtime.item_ids_[2]), 0)]
    df = spark.createDataFrame(rows, "USER_ID long, ITEM_ID long, TIMESTAMP long")
    with pytest.raises(PythonException, match=r"MissingValueError: USER_ID=2: .*ITEM_ID"):
        seqrec_spark.recommend(df, fake_artifact, num_partitions=1).collect()
