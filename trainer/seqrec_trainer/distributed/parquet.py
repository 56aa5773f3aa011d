"""Tables too large for one machine: a Parquet directory of which each rank reads its files.

A user's rows must all be on one rank (their windows are cut from the whole history), so
the directory is partitioned *by user*: :func:`write_user_partitions` writes
``part-00000.parquet ...`` with every user's rows in the file ``crc32(str(user)) % n_files``
(any writer that keeps each user in one file will do, e.g. Spark's
``df.repartition(n, "USER_ID").write.parquet(...)``). :func:`read_rank_table` reads the
files of this rank: file ``i`` (in name order) belongs to rank ``i % world_size``, so a
validation directory written with the same number of files puts each user's validation
row on the rank that holds the user's history.

Every rank must build the same item vocabulary: pass the full item catalogue as
``items_ds`` (one small column). The training checks it (fingerprints) and the job's item
popularity is summed over the ranks.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmptyInputError, InvalidParameterError
from .context import current_context

USER_ID = "USER_ID"


def user_partition(user_ids: np.ndarray, n_files: int) -> np.ndarray:
    """File number of each row: ``crc32(str(user)) % n_files`` (stable across runs)."""
    distinct, codes = np.unique(np.asarray(user_ids), return_inverse=True)
    buckets = np.array([zlib.crc32(str(user).encode()) % n_files for user in distinct.tolist()],
                       dtype=np.int64)
    return buckets[codes.reshape(-1)]


def write_user_partitions(table: Any, directory: str | Path, n_files: int) -> list[Path]:
    """Write ``table`` (dict of columns / pandas / pyarrow) as ``n_files`` Parquet files,
    each user's rows in one file; return the paths (empty files are not written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(n_files, bool) or not isinstance(n_files, int) or n_files < 1:
        raise InvalidParameterError(f"n_files must be a positive int, got {n_files!r}")
    arrow = table if isinstance(table, pa.Table) else (
        pa.Table.from_pandas(table, preserve_index=False) if hasattr(table, "to_numpy")
        and not isinstance(table, dict) else pa.table(table))
    if USER_ID not in arrow.column_names:
        raise InvalidParameterError(f"the table has no {USER_ID} column to partition by")
    buckets = user_partition(arrow.column(USER_ID).to_numpy(zero_copy_only=False), n_files)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for bucket in range(n_files):
        rows = np.flatnonzero(buckets == bucket)
        if len(rows):
            path = directory / f"part-{bucket:05d}.parquet"
            pq.write_table(arrow.take(rows), path)
            written.append(path)
    return written


def rank_files(directory: str | Path, rank: int, world_size: int) -> list[Path]:
    """The ``*.parquet`` files of ``directory`` that rank ``rank`` reads (``i % world``)."""
    files = sorted(Path(directory).glob("*.parquet"))
    return [path for i, path in enumerate(files) if i % world_size == rank]


def read_rank_table(directory: str | Path):
    """This rank's part of a user-partitioned Parquet directory, as a pyarrow Table.

    Outside a process group: the whole directory.

    Raises
    ------
    EmptyInputError
        The directory has no ``*.parquet`` file, or fewer files than ranks (a rank would
        have no users; write at least as many files as ranks).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    context = current_context()
    rank, world = (0, 1) if context is None else (context.rank, context.world_size)
    n_files = len(list(Path(directory).glob("*.parquet")))
    if n_files < world:
        raise EmptyInputError(
            f"{directory} holds {n_files} Parquet file(s) for {world} ranks: every rank needs "
            "at least one; write the table with at least as many files as ranks "
            "(write_user_partitions(table, directory, n_files))"
        )
    return pa.concat_tables([pq.read_table(path) for path in rank_files(directory, rank, world)])
