"""Vectorised sequence building: interaction rows -> left-padded index matrices.

The rule (shared by trainer and runtime, documented in ``docs/artifact.md``):

1. Rows are sorted stably by (USER_ID, TIMESTAMP); rows with equal user and timestamp
   keep their input order.
2. Rows whose item is unknown (index 0) are dropped.
3. The last ``max_len`` remaining items per user are kept and left-padded with 0.

Output rows are users in ascending USER_ID order. No Python loop over users.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .hashing import HASH_MIN_ROWS, factorize_ints, factorize_strings, sort_distinct
from .table import CodedIds
from .vocabulary import PAD_INDEX

_ROW_CHUNK = 1 << 20  # rows per step of the chunked loops (8 MiB of int64)


class Sequences:
    """Per-user histories and their left-padded windows, one row per user.

    Only the compact form is stored: every known item of every user, in order, as CSR
    (``history_ptr``, ``history_items``: 8 bytes per interaction). The padded window
    matrix (``max_len`` int64 per user, 1.6 KB at ``max_len`` 200) is built per chunk by
    :meth:`window`, so scoring many users never holds it for all of them at once;
    :attr:`items` builds it whole on first use.

    Attributes
    ----------
    user_ids
        Distinct users in ascending order (row order of every matrix).
    lengths
        Number of real (non-pad) items per row: ``min(history length, max_len)``.
    aligned
        Extra per-row value matrices (e.g. OUTCOME) aligned with ``items``, 0 at padding.
    history_ptr, history_items
        Every known item of every user (not only the last ``max_len``), in order, as CSR:
        row ``r``'s items are ``history_items[history_ptr[r]:history_ptr[r + 1]]``.
        Used to build windows and to exclude everything a user has seen.
    max_len
        Width of the padded windows.
    """

    def __init__(
        self,
        user_ids: np.ndarray,
        lengths: np.ndarray,
        aligned: dict[str, np.ndarray],
        history_ptr: np.ndarray,
        history_items: np.ndarray,
        max_len: int,
    ) -> None:
        self.user_ids = user_ids
        self.lengths = lengths
        self.aligned = aligned
        self.history_ptr = history_ptr
        self.history_items = history_items
        self.max_len = max_len
        self._items: np.ndarray | None = None

    @property
    def items(self) -> np.ndarray:
        """``(n_users, max_len)`` int64 item indices, left-padded with 0 (built once)."""
        if self._items is None:
            self._items = self.window(0, len(self.user_ids))
        return self._items

    def window(self, start: int, stop: int, width: int | None = None) -> np.ndarray:
        """Left-padded ``(stop - start, width)`` matrix of rows ``start:stop``' last items.

        ``width`` defaults to ``max_len``; a smaller one keeps each row's last ``width``
        items (the chunk trimming of scoring, where no row has more).

        Each row is one slice of the CSR history: the ``width`` items that end where the
        row's history ends, copied through a sliding-window view (no per-item index
        arrays), with the slots before the row's own items then set to 0. Rows whose
        history ends fewer than ``width`` items into the array have no such slice and are
        filled item by item (:meth:`_scatter_window`).
        """
        width = self.max_len if width is None else width
        take = np.minimum(self.lengths[start:stop], width)
        ends = self.history_ptr[start + 1 : stop + 1]
        if len(self.history_items) < width or width == 0:
            return self._scatter_window(start, stop, width, take)
        slices = sliding_window_view(self.history_items, width)
        matrix = slices[np.maximum(ends - width, 0)].astype(np.int64, copy=False)
        np.copyto(matrix, 0, where=np.arange(width) < (width - take)[:, None])
        # ends ascend, so the rows without a whole slice before their end come first
        early = int(np.searchsorted(ends, width))
        if early:
            matrix[:early] = self._scatter_window(start, start + early, width, take[:early])
        return matrix

    def _scatter_window(
        self, start: int, stop: int, width: int, take: np.ndarray
    ) -> np.ndarray:
        """:meth:`window` item by item: every kept item's source and target position."""
        # element j of the output (row-major over kept items) comes from flat position
        # j + source_shift[row] and lands at flat position j + target_shift[row]
        before = np.cumsum(take) - take  # kept items of the previous rows
        source_shift = self.history_ptr[start + 1 : stop + 1] - take - before
        target_shift = np.arange(1, stop - start + 1) * width - take - before
        flat = np.arange(int(take.sum()))
        matrix = np.zeros((stop - start, width), dtype=np.int64)
        matrix.reshape(-1)[flat + np.repeat(target_shift, take)] = self.history_items[
            flat + np.repeat(source_shift, take)
        ]
        return matrix

    def history_counts(self) -> np.ndarray:
        """Number of known items (whole history) per row."""
        return np.diff(self.history_ptr)

    def seen_mask(self, start: int, stop: int, n_items: int) -> np.ndarray:
        """Boolean ``(stop - start, n_items)`` mask of every known item rows ``start:stop`` saw."""
        lo, hi = self.history_ptr[start], self.history_ptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(self.history_ptr[start : stop + 1]))
        mask = np.zeros((stop - start, n_items + 1), dtype=bool)
        mask[rows, self.history_items[lo:hi]] = True
        return mask[:, 1:]


def factorize(ids: np.ndarray | CodedIds) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids and each row's code (like ``np.unique(..., return_inverse=True)``).

    Integer ids in a dense range (the common case: 1..n_users) are coded in O(n) with a
    presence table instead of a sort; many other ids are grouped in a hash table first and
    only the distinct ones are sorted (:mod:`~.hashing`). :class:`~.table.CodedIds` are
    grouped already: only their distinct values are sorted.
    """
    if isinstance(ids, CodedIds):
        return sort_distinct(ids.distinct, ids.codes)
    if ids.dtype.kind == "i" and len(ids):
        low = int(ids.min())
        span = int(ids.max()) - low
        if span < 4 * len(ids) + 1024:
            offsets = ids - low
            present = np.zeros(span + 1, dtype=bool)
            present[offsets] = True
            rank = np.cumsum(present, dtype=np.int64) - 1
            return (np.flatnonzero(present) + low).astype(ids.dtype), rank[offsets]
    if ids.dtype.kind in "iU" and len(ids) >= HASH_MIN_ROWS:
        found = factorize_ints(ids) if ids.dtype.kind == "i" else factorize_strings(ids)
        if found is not None:
            return found
    uniques, codes = np.unique(ids, return_inverse=True)
    return uniques, codes.reshape(-1)


def sort_order(user_codes: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Stable order by (user, timestamp); ties keep input order.

    When codes and integer timestamps fit together in 62 bits, one stable argsort of a
    packed key replaces the two-key ``lexsort`` (same order, one sort instead of two).
    The key is built in place, with one row-sized temporary at most.
    """
    if timestamps.dtype.kind == "i" and len(timestamps):
        low = timestamps.min()
        span, step = int(timestamps.max()) - int(low), 1
        time_bits = max(1, span.bit_length())
        user_bits = max(1, int(user_codes.max()).bit_length())
        row_bits = max(1, (len(timestamps) - 1).bit_length())
        offsets = None
        if time_bits + user_bits + row_bits > 63 and span < 2**62:
            # coarse clocks (dates as unix seconds, seconds as milliseconds) have a common
            # step; dividing it out keeps the order and may fit the one-sort key below
            offsets = np.subtract(timestamps, low, dtype=np.int64)
            step = _common_step(offsets)
            time_bits = max(1, (span // step).bit_length())
        if time_bits + user_bits <= 62:
            if offsets is None:
                offsets = np.subtract(timestamps, low, dtype=np.int64)
            if step > 1:
                offsets //= step
            key = user_codes.astype(np.int64)
            key <<= time_bits
            key |= offsets
            del offsets
            if time_bits + user_bits + row_bits <= 63:
                # Row numbers in the low bits make every key distinct and break ties by
                # input order, so an unstable value sort (no indirection) is stable here.
                key <<= row_bits
                for start in range(0, len(key), _ROW_CHUNK):
                    stop = min(start + _ROW_CHUNK, len(key))
                    key[start:stop] |= np.arange(start, stop, dtype=np.int64)
                key.sort()
                key &= (1 << row_bits) - 1
                return key
            return np.argsort(key, kind="stable")
    return np.lexsort((timestamps, user_codes))


def _common_step(offsets: np.ndarray) -> int:
    """Greatest common divisor of non-negative integer offsets (1 when there is none)."""
    step = int(np.gcd.reduce(offsets[:1024]))
    if step <= 1:
        return 1
    for start in range(0, len(offsets), _ROW_CHUNK):  # chunks: no row-sized temporary
        if (offsets[start : start + _ROW_CHUNK] % step).any():
            return max(int(np.gcd.reduce(offsets)), 1)
    return step


def build_sequences(
    user_ids: np.ndarray,
    item_index: np.ndarray,
    timestamps: np.ndarray | None,
    max_len: int,
    aligned: dict[str, np.ndarray] | None = None,
    presorted: bool = False,
    user_codes: np.ndarray | None = None,
) -> Sequences:
    """Group interaction rows into left-padded per-user sequences.

    Parameters
    ----------
    user_ids
        Normalised user ids, one per row.
    item_index
        Model item indices (``0`` = unknown item, dropped), one per row.
    timestamps
        Normalised numeric timestamps, one per row (unused, may be None, when
        ``presorted``).
    max_len
        Number of most recent items kept per user (matrix width).
    aligned
        Optional per-row values carried along into ``(n_users, max_len)`` matrices.
    presorted
        The rows are already in :func:`sort_order` order with ``user_ids`` ascending
        (the trainer sorts once and passes the result), so no sort is needed.
    user_codes
        Each row's code when the caller has grouped the users already; ``user_ids`` is
        then the sorted distinct users that the codes index.

    Returns
    -------
    Sequences
    """
    if presorted:  # rows already in order: renumber the users that have rows 0..n-1
        starts = np.flatnonzero(np.r_[True, user_ids[1:] != user_ids[:-1]]) if len(user_ids) \
            else np.zeros(0, dtype=np.int64)
        users = user_ids[starts]
        counts = np.diff(np.r_[starts, len(user_ids)])
        sorted_items = item_index
        order = None
    else:
        if user_codes is None:
            users, user_codes = factorize(user_ids)
        else:
            users = user_ids
        if timestamps is None:
            raise ValueError("build_sequences needs timestamps unless the rows are presorted")
        order = sort_order(user_codes, timestamps)
        counts = np.bincount(user_codes, minlength=len(users))
        sorted_items = item_index[order]
    n_users = len(users)
    # sorted rows come in runs per user, so each row's user is a repeat, not a gather
    sorted_users = None
    keep = sorted_items != PAD_INDEX
    if not keep.all():  # unknown items are dropped
        sorted_users = np.repeat(np.arange(n_users), counts)[keep]
        sorted_items = sorted_items[keep]
        order = np.flatnonzero(keep) if order is None else order[keep]
        counts = np.bincount(sorted_users, minlength=n_users)
    del keep

    ends = np.cumsum(counts)
    aligned_out: dict[str, np.ndarray] = {}
    if aligned:
        if sorted_users is None:
            sorted_users = np.repeat(np.arange(n_users), counts)
        rank_from_end = ends[sorted_users] - 1 - np.arange(len(sorted_users))
        in_window = rank_from_end < max_len
        rows = sorted_users[in_window]
        cols = max_len - 1 - rank_from_end[in_window]
        for name, values in aligned.items():
            matrix = np.zeros((n_users, max_len), dtype=values.dtype)
            matrix[rows, cols] = (values if order is None else values[order])[in_window]
            aligned_out[name] = matrix
    lengths = np.minimum(counts, max_len).astype(np.int64)
    history_ptr = np.concatenate([[0], ends]).astype(np.int64)
    return Sequences(users, lengths, aligned_out, history_ptr, sorted_items, max_len)


def left_pad(item_index: np.ndarray, max_len: int) -> np.ndarray:
    """Left-pad one user's ordered known item indices into a ``(1, width)`` matrix.

    Unknown items (0) are dropped and only the last ``max_len`` are kept; ``width`` is
    ``max(1, number of kept items)`` (the trimmed form, which the model scores exactly
    like the padded one).
    """
    known = item_index[item_index != PAD_INDEX][-max_len:]
    if len(known) == 0:
        return np.zeros((1, 1), dtype=np.int64)
    return known.astype(np.int64, copy=False).reshape(1, -1)


def distinct_history(seqs: Sequences, start: int, stop: int, n_items: int) -> np.ndarray:
    """Distinct known items of rows ``start:stop`` (whole history), 0-padded on the right.

    Returns an ``(stop - start, max(1, most distinct items))`` int64 matrix of model
    indices, ascending per row: the ``exclude_items`` input of the top-k graph and the
    ``history_items`` input of graphs with an item prior.
    """
    lo, hi = seqs.history_ptr[start], seqs.history_ptr[stop]
    rows = np.repeat(np.arange(stop - start), np.diff(seqs.history_ptr[start : stop + 1]))
    keys = np.unique(rows * (n_items + 1) + seqs.history_items[lo:hi])
    rows, items = keys // (n_items + 1), keys % (n_items + 1)
    counts = np.bincount(rows, minlength=stop - start)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    matrix = np.zeros((stop - start, max(1, int(counts.max(initial=0)))), dtype=np.int64)
    matrix[rows, np.arange(len(rows)) - first[rows]] = items
    return matrix
