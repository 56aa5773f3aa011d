"""Batch scoring on Ray Data: ``pip install 'seqrec-runtime[ray]'``.

>>> from seqrec_runtime import ray as seqrec_ray
>>> recs = seqrec_ray.recommend(ds, "artifact/", top_k=10)           # doctest: +SKIP

:func:`recommend` shuffles the rows by user (``repartition(keys=[user], sort=True)``,
the shuffle Ray's own ``groupby().map_groups`` uses, which keeps every user's rows in one
block) and scores each block with :class:`BatchRecommender` actors through
``map_batches(batch_format="pyarrow")``: the model loads once per actor, and a block is
scored in slices of whole users, not one Python call per user. :class:`BatchRecommender`
can also be used directly on any dataset whose batches hold all rows of their users.

The real ``ray`` package is imported inside the functions (absolute import): this module
shares its name, and ``import seqrec_runtime`` imports neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import engine_checks as checks
from .errors import InvalidParameterError, SchemaError
from .runtime_cache import artifact_sha256, cached_runtime
from .user_batches import (
    ITEMS,
    SCORES,
    ScoringRequest,
    complete_user_tables,
    recommend_table,
)

#: rows per slice when a block is scored (bounds the memory of one model call sequence)
SLICE_ROWS = 65_536


class BatchRecommender:
    """Callable class for ``Dataset.map_batches(..., batch_format="pyarrow")``.

    Every batch must hold all rows of its users (e.g. after :func:`recommend`'s shuffle,
    or a dataset already grouped by user); users are returned one row each: user,
    ``items``, ``scores``.

    Parameters
    ----------
    artifact
        Artifact directory every actor can read.
    request
        The validated :class:`~seqrec_runtime.user_batches.ScoringRequest`.
    sha256
        The artifact's manifest sha256 (None: computed here).
    threads, providers, batch_size
        onnxruntime intra-op threads (None = 1 per actor), providers, users per model call.
    """

    def __init__(
        self,
        artifact: str | Path,
        request: ScoringRequest,
        sha256: str | None = None,
        threads: int | None = None,
        providers: Any = None,
        batch_size: int = 64,
    ) -> None:
        sha256 = sha256 or artifact_sha256(artifact)
        self.runtime = cached_runtime(artifact, sha256, providers, threads or 1, batch_size)
        self.request = request

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        user = self.request.user_col
        ordered = batch.sort_by([(user, "ascending")]) if batch.num_rows else batch
        tables = [
            recommend_table(self.runtime, table, self.request)
            for table in complete_user_tables(ordered.to_batches(SLICE_ROWS), user)
        ]
        if not tables:
            return _empty_result(self.runtime, batch.schema.field(user).type, user)
        return pa.concat_tables(tables)


def _empty_result(runtime, user_type: Any, user_col: str) -> Any:
    import pyarrow as pa

    from .user_batches import item_arrow_type

    def list_of(value_type):
        return pa.list_(pa.field("element", value_type, nullable=False))

    return pa.table({
        user_col: pa.array([], type=user_type),
        ITEMS: pa.array([], type=list_of(item_arrow_type(runtime))),
        SCORES: pa.array([], type=list_of(pa.float32())),
    })


def _kinds(schema: Any) -> dict[str, str]:
    import pyarrow as pa

    kinds = {}
    for name, dtype in zip(schema.names, schema.types, strict=True):
        if not isinstance(dtype, pa.DataType):
            kinds[name] = f"{checks.OTHER} ({dtype})"
        elif pa.types.is_integer(dtype):
            kinds[name] = checks.INTEGER
        elif pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
            kinds[name] = checks.TEXT
        elif pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
            kinds[name] = checks.FLOAT
        elif pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
            kinds[name] = checks.TIME
        else:
            kinds[name] = f"{checks.OTHER} ({dtype})"
    return kinds


def recommend(
    ds: Any,
    artifact: str | Path,
    top_k: int = 10,
    exclude_seen: bool = True,
    sampling_temperature: float | None = None,
    random_state: Any = None,
    user_col: str = "USER_ID",
    item_col: str = "ITEM_ID",
    time_col: str = "TIMESTAMP",
    num_blocks: int | None = None,
    concurrency: int = 1,
    num_cpus: float = 1,
    threads_per_actor: int | None = None,
    providers: Any = None,
    batch_size: int = 64,
) -> Any:
    """Recommend ``top_k`` items for every user of a Ray Dataset of interactions.

    Parameters
    ----------
    ds
        ``ray.data.Dataset`` with a user, an item and a timestamp column.
    artifact
        Artifact directory that every node reads at this path (shared storage).
    top_k, exclude_seen, sampling_temperature, random_state, user_col, item_col, time_col
        As in :func:`seqrec_runtime.spark.recommend` (same per-user sampling seeds, same
        results).
    num_blocks
        Blocks of the shuffle by user (None: the dataset context's hash-shuffle
        parallelism).
    concurrency, num_cpus
        Scoring actors and the CPUs each reserves. Leave CPUs for the read and shuffle
        tasks: actors that take every CPU starve them.
    threads_per_actor
        onnxruntime intra-op threads per actor (None: ``num_cpus``, at least 1).
    providers, batch_size
        As in :func:`seqrec_runtime.load`.

    Returns
    -------
    ray.data.Dataset
        Lazy; one row per user: user, ``items``, ``scores``.

    Raises
    ------
    SeqrecError subclasses
        Before the job: bad parameters, missing or corrupt artifact, missing columns,
        bad id or timestamp types. Worker-side errors name the first bad user.
    """
    import ray.data

    if not isinstance(ds, ray.data.Dataset):
        raise SchemaError(f"ds must be a ray.data.Dataset, got {type(ds).__name__}")
    for name, value in (("concurrency", concurrency), ("num_blocks", num_blocks)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InvalidParameterError(f"{name} must be an int >= 1, got {value!r}")
    runtime, sha256 = checks.load_artifact(artifact)
    request = checks.make_request(
        runtime, top_k, exclude_seen, sampling_temperature, random_state, user_col,
        item_col, time_col,
    )
    checks.check_columns(_kinds(ds.schema()), request, runtime)
    threads = threads_per_actor or max(1, int(num_cpus))
    rows = ds.select_columns([user_col, item_col, time_col])
    blocks = num_blocks or ds.context.default_hash_shuffle_parallelism
    shuffled = rows.repartition(blocks, keys=[user_col], sort=True)
    return shuffled.map_batches(
        BatchRecommender,
        batch_size=None,  # whole blocks: a block holds every row of its users
        batch_format="pyarrow",
        fn_constructor_kwargs=dict(
            artifact=str(Path(artifact).resolve()), request=request, sha256=sha256,
            threads=threads, providers=providers, batch_size=batch_size,
        ),
        concurrency=concurrency,
        num_cpus=num_cpus,
    )
