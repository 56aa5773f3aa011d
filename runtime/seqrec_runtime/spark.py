"""Batch scoring on Apache Spark (pyspark 4.x): ``pip install 'seqrec-runtime[spark]'``.

>>> from seqrec_runtime import spark as seqrec_spark
>>> recs = seqrec_spark.recommend(df, "artifact/", top_k=10)        # doctest: +SKIP

How it runs: the rows are repartitioned by user and sorted within each partition (by user
and input order), then ``mapInArrow`` hands each task's rows to Python as Arrow record
batches (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows each). A user whose rows
span two batches is carried over to the next, so every user is scored exactly once, by
the runtime's own code, while a worker holds one batch plus one user's rows. The runtime
is loaded once per Python worker process (:mod:`~seqrec_runtime.runtime_cache`).

pyspark is imported inside the functions: ``import seqrec_runtime`` never imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import engine_checks as checks
from .errors import InvalidParameterError, SchemaError
from .ranking import check_flag
from .runtime_cache import cached_runtime
from .user_batches import (
    ITEMS,
    SCORES,
    ScoringRequest,
    complete_user_tables,
    recommend_table,
    score_table,
)

ROW_ORDER = "__seqrec_row"
BUCKET = "__seqrec_bucket"
STRATEGIES = ("sorted", "grouped")


@dataclass(frozen=True)
class _Job:
    """Everything a task needs (pickled with the function; small)."""

    artifact: str
    shipped_name: str | None
    sha256: str
    providers: Any
    threads: int | None
    batch_size: int
    request: ScoringRequest
    scoring: str  # "recommend" or "score"


def _task_runtime(job: _Job):
    threads = job.threads
    if threads is None:
        from pyspark import TaskContext

        context = TaskContext.get()
        threads = max(1, int(context.cpus())) if context is not None else 1
    path = job.artifact
    if job.shipped_name is not None:
        from pyspark import SparkFiles

        path = SparkFiles.get(job.shipped_name)
    return cached_runtime(path, job.sha256, job.providers, threads, job.batch_size)


def _score(job: _Job, runtime, table):
    if job.scoring == "recommend":
        return recommend_table(runtime, table, job.request)
    return score_table(runtime, table, job.request)


def _score_sorted_batches(job: _Job) -> Any:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        runtime = _task_runtime(job)
        for table in complete_user_tables(batches, job.request.user_col):
            yield from _score(job, runtime, table).to_batches()

    return run


def _score_group(job: _Job) -> Any:
    def run(table: Any) -> Any:
        runtime = _task_runtime(job)
        return _score(job, runtime, table.sort_by([(ROW_ORDER, "ascending")]))

    return run


def _kinds(df: Any) -> dict[str, str]:
    from pyspark.sql import types as T

    kinds = {}
    for field in df.schema.fields:
        dtype = field.dataType
        if isinstance(dtype, T.IntegralType):
            kinds[field.name] = checks.INTEGER
        elif isinstance(dtype, (T.StringType, T.VarcharType, T.CharType)):
            kinds[field.name] = checks.TEXT
        elif isinstance(dtype, (T.FloatType, T.DoubleType, T.DecimalType)):
            kinds[field.name] = checks.FLOAT
        elif isinstance(dtype, (T.TimestampType, T.TimestampNTZType, T.DateType)):
            kinds[field.name] = checks.TIME
        else:
            kinds[field.name] = f"{checks.OTHER} ({dtype.simpleString()})"
    return kinds


def _check_positive(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(f"{name} must be None or an int >= 1, got {value!r}")
    return int(value)


def _prepare(
    df: Any, artifact: Any, request_args: dict[str, Any], num_partitions: Any,
    threads_per_task: Any, providers: Any, ship_artifact: Any, batch_size: int,
    strategy: str, scoring: str,
) -> tuple[Any, _Job, Any]:
    """Driver-side checks, then the job description and the partitioned input."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    if not isinstance(df, DataFrame):
        raise SchemaError(f"df must be a pyspark.sql.DataFrame, got {type(df).__name__}")
    if strategy not in STRATEGIES:
        raise InvalidParameterError(f"strategy must be 'sorted' or 'grouped', got {strategy!r}")
    num_partitions = _check_positive(num_partitions, "num_partitions")
    threads = _check_positive(threads_per_task, "threads_per_task")
    ship = check_flag(ship_artifact, "ship_artifact")
    runtime, sha256 = checks.load_artifact(artifact)
    request = checks.make_request(runtime, **request_args)
    checks.check_columns(_kinds(df), request, runtime)
    path = str(Path(artifact).resolve())
    shipped_name = None
    if ship:
        df.sparkSession.sparkContext.addFile(path, recursive=True)
        shipped_name = Path(path).name
    job = _Job(path, shipped_name, sha256, providers, threads, batch_size, request, scoring)
    user = request.user_col
    rows = df.select(user, request.item_col, request.time_col).withColumn(
        ROW_ORDER, F.monotonically_increasing_id()
    )
    if strategy == "grouped":
        buckets = num_partitions or int(
            df.sparkSession.conf.get("spark.sql.shuffle.partitions") or 200  # Spark's default
        )
        return rows.withColumn(BUCKET, F.pmod(F.xxhash64(user), F.lit(buckets))), job, runtime
    parts = rows.repartition(num_partitions, user) if num_partitions else rows.repartition(user)
    # the row number only orders the sort; dropping it after sorting keeps the order and
    # sends a quarter less data to Python
    return parts.sortWithinPartitions(user, ROW_ORDER).drop(ROW_ORDER), job, runtime


def _run(rows: Any, job: _Job, schema: Any, strategy: str) -> Any:
    if strategy == "grouped":
        return rows.groupBy(BUCKET).applyInArrow(_score_group(job), schema)
    return rows.mapInArrow(_score_sorted_batches(job), schema)


def _spark_item_type(runtime) -> Any:
    from pyspark.sql import types as T

    return T.LongType() if runtime.item_ids_.dtype.kind == "i" else T.StringType()


def recommend(
    df: Any,
    artifact: str | Path,
    top_k: int = 10,
    exclude_seen: bool = True,
    sampling_temperature: float | None = None,
    random_state: Any = None,
    user_col: str = "USER_ID",
    item_col: str = "ITEM_ID",
    time_col: str = "TIMESTAMP",
    num_partitions: int | None = None,
    threads_per_task: int | None = None,
    providers: Any = None,
    output: str = "arrays",
    ship_artifact: bool = False,
    batch_size: int = 64,
    strategy: str = "sorted",
) -> Any:
    """Recommend ``top_k`` items for every user of an interactions DataFrame.

    Parameters
    ----------
    df
        pyspark DataFrame with a user, an item and a timestamp column (other columns are
        ignored). Ids: integer or string columns; timestamps: numeric, timestamp or date.
    artifact
        Artifact directory. Without ``ship_artifact`` every worker must read it at this
        path (shared storage: NFS, a mounted bucket, the same local path on every node).
    top_k, exclude_seen, sampling_temperature
        As in ``rt.recommend`` (``None`` temperature = 0, deterministic). Where
        ``exclude_seen`` leaves a user fewer than ``top_k`` candidates, that user's
        arrays are shorter.
    random_state
        Sampling seed (int >= 0, a Generator, or None = fresh entropy drawn once here).
        User ``u`` samples with ``user_batches.user_rng(seed, u)``, so results do not
        depend on partitions, batches or workers.
    user_col, item_col, time_col
        Column names.
    num_partitions
        Partitions of the shuffle by user (None: ``spark.sql.shuffle.partitions``).
    threads_per_task
        onnxruntime intra-op threads per task; None = the task's CPUs (``spark.task.cpus``).
    providers
        onnxruntime execution providers on the workers (e.g. ``["CUDAExecutionProvider",
        "CPUExecutionProvider"]`` on GPU executors with onnxruntime-gpu).
    output
        ``"arrays"``: one row per user (user, ``items`` array, ``scores`` array<float>);
        ``"long"``: one row per (user, ``rank`` from 1, ``item``, ``score``).
    ship_artifact
        Copy the artifact to every executor with ``SparkContext.addFile`` instead of
        reading it from a shared path.
    batch_size
        Users per model call inside a task (as in :func:`seqrec_runtime.load`).
    strategy
        ``"sorted"`` (default: shuffle by user, sort, ``mapInArrow`` with carry-over) or
        ``"grouped"`` (``groupBy(bucket).applyInArrow``; holds a whole bucket in memory).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; the job runs when it is written or collected.

    Raises
    ------
    SeqrecError subclasses
        Before any task runs: bad parameters, a missing or corrupt artifact, missing
        columns, ids that are not integers/text or do not match the artifact's item id
        type, text timestamps. Errors only a worker can see (null ids, ...) fail the job
        with the runtime's error type and message and the first bad user's id.
    """
    from pyspark.sql import types as T

    output = checks.check_output(output)
    request_args = dict(top_k=top_k, exclude_seen=exclude_seen,
                        sampling_temperature=sampling_temperature, random_state=random_state,
                        user_col=user_col, item_col=item_col, time_col=time_col)
    rows, job, runtime = _prepare(df, artifact, request_args, num_partitions, threads_per_task,
                                  providers, ship_artifact, batch_size, strategy, "recommend")
    user_field = df.schema[user_col]
    schema = T.StructType([
        T.StructField(user_col, user_field.dataType, True),
        T.StructField(ITEMS, T.ArrayType(_spark_item_type(runtime), False), False),
        T.StructField(SCORES, T.ArrayType(T.FloatType(), False), False),
    ])
    result = _run(rows, job, schema, strategy)
    if output == "long":
        return _to_long(result, user_col)
    return result


def _to_long(result: Any, user_col: str) -> Any:
    from pyspark.sql import functions as F

    pairs = result.select(user_col, F.posexplode(F.arrays_zip(ITEMS, SCORES)).alias("pos", "p"))
    return pairs.select(
        user_col,
        (F.col("pos") + 1).alias("rank"),
        F.col(f"p.{ITEMS}").alias("item"),
        F.col(f"p.{SCORES}").alias("score"),
    )


def score_items(
    df: Any,
    artifact: str | Path,
    items: Any = None,
    user_col: str = "USER_ID",
    item_col: str = "ITEM_ID",
    time_col: str = "TIMESTAMP",
    num_partitions: int | None = None,
    threads_per_task: int | None = None,
    providers: Any = None,
    ship_artifact: bool = False,
    batch_size: int = 64,
) -> Any:
    """Scores of the given items for every user: one row per user, ``scores`` array<float>.

    ``items``: item ids (the artifact's id type) whose scores to return, in that order;
    None = every item in ``rt.item_ids_`` order. Equal to ``rt.score_items`` columns.
    Other parameters as in :func:`recommend`.

    Raises
    ------
    InvalidParameterError
        An item the model does not know (before any task runs).
    """
    from pyspark.sql import types as T

    request_args = dict(top_k=1, exclude_seen=False, sampling_temperature=None,
                        random_state=None, user_col=user_col, item_col=item_col,
                        time_col=time_col)
    rows, job, runtime = _prepare(df, artifact, request_args, num_partitions, threads_per_task,
                                  providers, ship_artifact, batch_size, "sorted", "score")
    if items is not None:
        columns = _item_columns(runtime, items)
        job = replace(job, request=replace(job.request, columns=columns))
    schema = T.StructType([
        T.StructField(user_col, df.schema[user_col].dataType, True),
        T.StructField(SCORES, T.ArrayType(T.FloatType(), False), False),
    ])
    return _run(rows, job, schema, "sorted")


def _item_columns(runtime, items: Any) -> tuple[int, ...]:
    from .table import ITEM_ID, normalize_ids

    ids = normalize_ids(list(items), ITEM_ID)
    index = runtime.vocabulary.encode(ids)
    if len(index) == 0:
        raise InvalidParameterError("items is empty; pass None for every item")
    unknown = ids[index == 0]
    if len(unknown):
        raise InvalidParameterError(
            f"items {unknown[:5].tolist()} are not in the model's vocabulary; score only "
            "items in rt.item_ids_"
        )
    return tuple(int(i) - 1 for i in index)
