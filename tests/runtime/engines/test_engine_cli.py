"""``seqrec-runtime spark-recommend`` (run in-process on the test session's Spark)."""

from __future__ import annotations

import pytest
import runtime_fakes
import seqrec_runtime
from engine_helpers import as_dict, assert_matches_runtime
from seqrec_runtime.cli import main

pytestmark = [pytest.mark.spark,
              pytest.mark.filterwarnings("ignore::seqrec_runtime.ColdUserWarning")]
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture
def parquet_input(tmp_path, fake_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=8)
    table["user"] = table.pop("USER_ID")
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table(table), path)
    table["USER_ID"] = table.pop("user")
    return path, table, runtime


def test_spark_recommend_writes_what_the_runtime_returns(spark, parquet_input, fake_artifact,
                                                         tmp_path, capsys):
    path, table, runtime = parquet_input
    out = tmp_path / "recs"
    code = main(["spark-recommend", str(fake_artifact), "--input", str(path), "--output",
                 str(out), "--top-k", "4", "--user-col", "user", "--num-partitions", "3"])
    assert code == 0, capsys.readouterr().err
    rows = pq.read_table(out).rename_columns(["USER_ID", "items", "scores"]).to_pylist()
    assert_matches_runtime(as_dict(rows), runtime, table, top_k=4, exclude_seen=True)

    long = tmp_path / "long"
    assert main(["spark-recommend", str(fake_artifact), "--input", str(path), "--output",
                 str(long), "--top-k", "4", "--user-col", "user", "--include-seen",
                 "--format", "long", "--mode", "overwrite"]) == 0
    long_rows = pq.read_table(long)
    assert long_rows.column_names == ["user", "rank", "item", "score"]
    assert long_rows.num_rows == 4 * len(rows)


def test_spark_recommend_exit_codes(spark, parquet_input, fake_artifact, tmp_path, capsys):
    path, _, _ = parquet_input
    out = tmp_path / "never"
    assert main(["spark-recommend", str(fake_artifact), "--input", str(path), "--output",
                 str(out)]) == 2  # no USER_ID column: refused before any job
    assert "SchemaError: missing column(s) user_col='USER_ID'" in capsys.readouterr().err
    assert not out.exists()
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"USER_ID": [1, 1], "ITEM_ID": pa.array([3, None], pa.int64()),
                             "TIMESTAMP": [0, 1]}), bad)
    assert main(["spark-recommend", str(fake_artifact), "--input", str(bad), "--output",
                 str(out)]) == 1
    assert "MissingValueError: USER_ID=1" in capsys.readouterr().err
