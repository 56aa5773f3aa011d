"""Score pyarrow tables that hold every row of their users (the engines' worker side).

Spark and Ray hand a worker a stream of Arrow batches. :func:`complete_user_tables` turns
a stream sorted by user into tables of whole users (a user whose rows span two batches is
carried over), and :func:`recommend_table` / :func:`score_table` score one such table with
the runtime's own sequence building and ranking, returning one row per user.

Sampling on a cluster: with ``sampling_temperature > 0`` each user draws its noise from
its own generator, ``user_rng(seed, user_id)``, so a user's sample depends only on the
seed and that user's rows, never on which other users share a batch, a partition or a
worker. It equals ``rt.recommend(<that user's rows>, random_state=user_rng(seed, user))``.

pyarrow is imported lazily: ``import seqrec_runtime`` never needs it.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batch import distinct_seen_counts, iter_chunks, score_chunk
from .errors import InvalidParameterError, SeqrecError
from .histories import ColdUserWarning, read_histories
from .ranking import rank
from .runtime import SeqrecRuntime
from .sequences import Sequences, distinct_history
from .table import ITEM_ID, TIMESTAMP, USER_ID

ITEMS, SCORES = "items", "scores"
_UINT64 = 1 << 64


@dataclass(frozen=True)
class ScoringRequest:
    """What to compute for each user; validated where the job is defined.

    ``seed`` is the resolved sampling seed (an int >= 0), used only when
    ``temperature > 0``. ``columns``: score columns of :func:`score_table` (None there =
    every item).
    """

    user_col: str = USER_ID
    item_col: str = ITEM_ID
    time_col: str = TIMESTAMP
    top_k: int = 10
    exclude_seen: bool = True
    temperature: float = 0.0
    seed: int = 0
    columns: tuple[int, ...] | None = None


def user_rng(seed: int, user_id: Any) -> np.random.Generator:
    """The generator of one user's sampling noise: a function of ``seed`` and the id only.

    Integer ids and text ids get distinct streams (``3`` and ``"3"`` differ).
    """
    if isinstance(user_id, (str, np.str_)):
        digest = hashlib.sha256(str(user_id).encode("utf-8")).digest()
        words = (1, int.from_bytes(digest[:16], "little"))
    else:
        words = (0, int(user_id) % _UINT64)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=words))


def complete_user_tables(batches: Iterable[Any], user_col: str) -> Iterator[Any]:
    """Tables of whole users from record batches sorted (grouped) by ``user_col``.

    The last user of each batch may continue in the next one: its rows are held back and
    prepended to the next batch, so every user appears in exactly one output table and at
    most one batch plus one user's rows are held at a time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    carry = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        table = pa.Table.from_batches([batch])
        if carry is not None:
            table = pa.concat_tables([carry, table])
        users = table.column(user_col)
        last = users[len(users) - 1]
        if not last.is_valid:  # nulls sort together; let the scorer report them
            start = len(users) - pc.sum(pc.is_null(users)).as_py()
        else:
            start = pc.index(users, last).as_py()
        carry = table.slice(start)
        if start > 0:
            yield table.slice(0, start)
    if carry is not None and carry.num_rows:
        yield carry


def _runtime_input(table: Any, request: ScoringRequest) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            USER_ID: table.column(request.user_col),
            ITEM_ID: table.column(request.item_col),
            TIMESTAMP: table.column(request.time_col),
        }
    )


def _read(runtime: SeqrecRuntime, table: Any, request: ScoringRequest) -> Sequences:
    """Histories of ``table``'s users; an error names the first user whose rows are bad."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdUserWarning)
            return read_histories(_runtime_input(table, request), runtime.vocabulary,
                                  runtime.max_len)
    except SeqrecError as exc:
        raise _named_error(runtime, table, request, exc) from exc


def _named_error(
    runtime: SeqrecRuntime, table: Any, request: ScoringRequest, exc: SeqrecError
) -> SeqrecError:
    """``exc`` with the id of the first user whose rows alone raise it."""
    import pyarrow.compute as pc

    users = table.column(request.user_col)
    if users.null_count:
        return type(exc)(f"{request.user_col} is null in {users.null_count} row(s): {exc}")
    for user in pc.unique(users).to_pylist():
        rows = table.filter(pc.equal(users, user))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ColdUserWarning)
                read_histories(_runtime_input(rows, request), runtime.vocabulary, runtime.max_len)
        except SeqrecError as user_exc:
            return type(exc)(f"{request.user_col}={user!r}: {user_exc}")
    return exc


def _top_k_graph(
    runtime: SeqrecRuntime, seqs: Sequences, top_k: int, exclude_seen: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Columns and scores from the top-k graph: the path ``rt.recommend`` takes."""
    graphs = runtime.graphs
    n = len(seqs.user_ids)
    columns = np.empty((n, top_k), dtype=np.int64)
    scores = np.empty((n, top_k), dtype=np.float32)
    for start, stop, items in iter_chunks(seqs, runtime.batch_size):
        seen = None
        if exclude_seen or graphs.with_history:
            seen = distinct_history(seqs, start, stop, runtime.n_items)
        exclude = seen if exclude_seen and seen is not None \
            else np.zeros((stop - start, 1), dtype=np.int64)
        top_scores, top = graphs.top_k(items, exclude, seen)
        top, top_scores = top[:, :top_k], top_scores[:, :top_k]
        cold = seqs.lengths[start:stop] == 0
        if cold.any():
            top[cold] = graphs.fallback_order[:top_k]
            top_scores[cold] = graphs.fallback[graphs.fallback_order[:top_k]]
        columns[start:stop], scores[start:stop] = top, top_scores
    return columns, scores


def _full_scores(
    runtime: SeqrecRuntime, seqs: Sequences, top_k: int, request: ScoringRequest
) -> tuple[np.ndarray, np.ndarray]:
    """Columns and scores from the scores graph and numpy ranking (sampling, large k)."""
    graphs = runtime.graphs
    n = len(seqs.user_ids)
    columns = np.empty((n, top_k), dtype=np.int64)
    scores = np.empty((n, top_k), dtype=np.float32)
    for start, stop, items in iter_chunks(seqs, runtime.batch_size):
        chunk = score_chunk(seqs, start, stop, items, graphs.scores, graphs.fallback,
                            graphs.with_history)
        exclude = seqs.seen_mask(start, stop, runtime.n_items) if request.exclude_seen else None
        if request.temperature == 0.0:
            picked = rank(chunk, top_k, 0.0, None, exclude)
        else:
            picked = np.empty((stop - start, top_k), dtype=np.int64)
            for row in range(stop - start):
                rng = user_rng(request.seed, seqs.user_ids[start + row])
                row_exclude = None if exclude is None else exclude[row : row + 1]
                picked[row] = rank(chunk[row : row + 1], top_k, request.temperature, rng,
                                   row_exclude)[0]
        columns[start:stop] = picked
        scores[start:stop] = np.take_along_axis(chunk, picked, axis=1)
    return columns, scores


def _lengths(runtime: SeqrecRuntime, seqs: Sequences, request: ScoringRequest) -> np.ndarray:
    """Items per user: ``top_k``, or fewer where ``exclude_seen`` leaves fewer candidates."""
    top_k = min(request.top_k, runtime.n_items)
    lengths = np.full(len(seqs.user_ids), top_k, dtype=np.int64)
    if request.exclude_seen:
        left = runtime.n_items - distinct_seen_counts(seqs, runtime.n_items, None)
        if (left <= 0).any():
            user = seqs.user_ids[int(np.flatnonzero(left <= 0)[0])].item()
            raise InvalidParameterError(
                f"{request.user_col}={user!r} has seen every item: exclude_seen=True leaves "
                "no candidate; pass exclude_seen=False (CLI: --include-seen)"
            )
        np.minimum(lengths, left, out=lengths)
    return lengths


def _user_array(seqs: Sequences, arrow_type: Any) -> Any:
    import pyarrow as pa

    return pa.array(seqs.user_ids.tolist()).cast(arrow_type)


def _list_array(values: np.ndarray, lengths: np.ndarray, value_type: Any) -> Any:
    import pyarrow as pa

    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    keep = np.arange(values.shape[1]) < lengths[:, None]
    flat = values[keep] if values.ndim == 2 else values
    list_type = pa.list_(pa.field("element", value_type, nullable=False))  # Spark's naming
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=value_type),
                                    type=list_type)


def item_arrow_type(runtime: SeqrecRuntime) -> Any:
    """The Arrow type of the artifact's item ids: int64 or string."""
    import pyarrow as pa

    return pa.int64() if runtime.item_ids_.dtype.kind == "i" else pa.string()


def recommend_table(runtime: SeqrecRuntime, table: Any, request: ScoringRequest) -> Any:
    """One row per user of ``table`` (which holds all of their rows): user, items, scores.

    Items equal ``rt.recommend``'s row for the user. Scores are the model's scores of
    those items (popularity fallback for cold users), also when sampling. Where
    ``exclude_seen`` leaves a user fewer than ``top_k`` candidates, that user's lists are
    shorter (``rt.recommend`` clips every row to the smallest such count instead).
    """
    import pyarrow as pa

    seqs = _read(runtime, table, request)
    lengths = _lengths(runtime, seqs, request)
    top_k = int(lengths.max(initial=1))
    # the path depends on the request only, never on which users share this table
    if request.temperature == 0.0 and request.top_k <= runtime.graphs.k:
        columns, scores = _top_k_graph(runtime, seqs, top_k, request.exclude_seen)
    else:
        columns, scores = _full_scores(runtime, seqs, top_k, request)
    items = runtime.item_ids_[columns]
    return pa.table(
        {
            request.user_col: _user_array(seqs, table.schema.field(request.user_col).type),
            ITEMS: _list_array(items, lengths, item_arrow_type(runtime)),
            SCORES: _list_array(scores, lengths, pa.float32()),
        }
    )


def score_table(runtime: SeqrecRuntime, table: Any, request: ScoringRequest) -> Any:
    """One row per user: user and the scores of ``request.columns`` (``rt.score_items``)."""
    import pyarrow as pa

    seqs = _read(runtime, table, request)
    graphs = runtime.graphs
    columns = None if request.columns is None else np.asarray(request.columns, dtype=np.int64)
    width = runtime.n_items if columns is None else len(columns)
    out = np.empty((len(seqs.user_ids), width), dtype=np.float32)
    for start, stop, items in iter_chunks(seqs, runtime.batch_size):
        chunk = score_chunk(seqs, start, stop, items, graphs.scores, graphs.fallback,
                            graphs.with_history)
        out[start:stop] = chunk if columns is None else chunk[:, columns]
    lengths = np.full(len(out), width, dtype=np.int64)
    return pa.table(
        {
            request.user_col: _user_array(seqs, table.schema.field(request.user_col).type),
            SCORES: _list_array(out, lengths, pa.float32()),
        }
    )
