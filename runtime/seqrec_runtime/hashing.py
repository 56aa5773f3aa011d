"""Grouping many ids by 64-bit key in an open-addressing table instead of sorting them.

Sorting 10 million ids (or their hashes) costs a few seconds; looking each row up in a
hash table of the few distinct ids costs a few tenths. String ids are reduced to a 64-bit
hash first and every row is then checked against its group's representative, so a hash
collision is detected (the string functions return None and the caller falls back to
sorting the strings): results never depend on the hash. Integer ids are their own key, so
their grouping is exact.
"""

from __future__ import annotations

import numpy as np

#: Below this many rows ``np.unique`` is as fast as grouping by hash.
HASH_MIN_ROWS = 4096
_MASK64 = (1 << 64) - 1
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: a key's slot = top bits of key*_MIX
_HASH_BLOCK_ROWS = 1 << 14  # rows hashed together: their code points stay in cache
_GROUP_CHUNK_ROWS = 1 << 18  # rows looked up together; misses become new keys
#: More new keys than this share of the first chunk's rows: (nearly) all ids distinct, and
#: one sort of all rows beats growing the table (``bench/studies/grouping_threshold.py``
#: places the threshold)
_SORT_ABOVE_NEW_SHARE = 0.97
_VERIFY_ROWS = 1 << 20
#: Probing work allowed per key inserted or looked up (random keys need about 1.5-2.5 at
#: half load); beyond it the keys are clustered on purpose or by accident and the caller
#: sorts instead, so crafted ids cannot make a lookup quadratic.
_PROBES_PER_KEY, _PROBES_SLACK = 32, 4096


class ProbeLimitError(RuntimeError):
    """Keys cluster in the table far beyond what random keys do; sort instead."""


def _word_weights(n: int) -> np.ndarray:
    """``n`` fixed odd 64-bit multipliers, one per word position (SplitMix64 sequence)."""
    weights, state = [], 0x9E3779B97F4A7C15
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        weights.append((z ^ (z >> 31)) | 1)
    return np.array(weights, dtype=np.uint64)


def string_hashes(ids: np.ndarray) -> np.ndarray:
    """64-bit hash of each fixed-width unicode id, the same for any array width.

    The UCS-4 code points are read two at a time as 64-bit words; the hash is the sum of
    each word times a fixed odd multiplier for its position (mod 2**64). The padding of a
    wider array adds zero words, which add nothing, so an id hashes alike in a ``<U5`` and
    a ``<U12`` array. Rows are hashed a block at a time so that each block is read from
    cache.
    """
    n, width = len(ids), ids.dtype.itemsize // 4
    hashes = np.zeros(n, dtype=np.uint64)
    if width == 0 or n == 0:
        return hashes
    points = np.ascontiguousarray(ids).view(np.uint32).reshape(n, width)
    words = np.zeros((min(n, _HASH_BLOCK_ROWS), width + width % 2), dtype=np.uint32)
    weights = _word_weights(words.shape[1] // 2)
    product = np.empty(len(words), dtype=np.uint64)
    for start in range(0, n, _HASH_BLOCK_ROWS):
        stop = min(start + _HASH_BLOCK_ROWS, n)
        block = words[: stop - start]
        block[:, :width] = points[start:stop]
        wide = block.view(np.uint64)
        out, tmp = hashes[start:stop], product[: stop - start]
        for column, weight in enumerate(weights):
            np.multiply(wide[:, column], weight, out=tmp)
            np.add(out, tmp, out=out)
    return hashes


class KeyTable:
    """Positions of distinct 64-bit keys, found by linear probing in a power-of-two table.

    ``keys[p]`` is the key at position ``p``; :meth:`find` maps queries to positions
    (``-1`` when absent). The table is kept at most half full.
    """

    def __init__(self) -> None:
        self._keys = np.zeros(1, dtype=np.uint64)  # the keys, then a sentinel (see find)
        self._slots = np.full(16, -1, dtype=np.int64)
        self._shift = np.uint64(64 - 4)

    def __len__(self) -> int:
        return len(self._keys) - 1

    @property
    def keys(self) -> np.ndarray:
        """The distinct keys, in position order."""
        return self._keys[:-1]

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _MIX) >> self._shift).astype(np.int64)

    def add(self, new_keys: np.ndarray) -> None:
        """Append distinct keys that are not in the table yet.

        Raises
        ------
        ProbeLimitError
            The keys cluster (the table is then unusable: sort instead).
        """
        start = len(self)
        self._keys = np.concatenate([self.keys, new_keys.astype(np.uint64, copy=False),
                                     np.zeros(1, dtype=np.uint64)])
        if 2 * len(self.keys) > len(self._slots):
            bits = max(4, (2 * len(self.keys) - 1).bit_length())
            self._slots = np.full(1 << bits, -1, dtype=np.int64)
            self._shift = np.uint64(64 - bits)
            start = 0
        self._insert(np.arange(start, len(self.keys), dtype=np.int64))

    def _insert(self, pending: np.ndarray) -> None:
        slots, mask = self._slots, len(self._slots) - 1
        where = self._home(self.keys[pending])
        budget = _PROBES_PER_KEY * len(pending) + _PROBES_SLACK
        while len(pending):
            budget -= len(pending)
            if budget < 0:
                raise ProbeLimitError(f"{len(pending)} keys still probing")
            empty = slots[where] < 0
            slots[where[empty]] = pending[empty]  # of keys sharing a slot, one wins
            moved = slots[where] != pending  # the others probe the next slot
            pending, where = pending[moved], (where[moved] + 1) & mask

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Position of each query key (int64), ``-1`` where it is not in the table.

        Raises
        ------
        ProbeLimitError
            The queries walk long clusters (sort instead).
        """
        if len(self.keys) == 0 or len(queries) == 0:
            return np.full(len(queries), -1, dtype=np.int64)
        slots, mask, keys = self._slots, len(self._slots) - 1, self._keys  # -1 reads the sentinel
        where = self._home(queries)
        found = slots[where]
        occupied = found >= 0
        hit = keys[found] == queries
        hit &= occupied
        rows = np.flatnonzero(occupied & ~hit)  # an empty slot ends a probe: absent
        found[~hit] = -1
        where = (where[rows] + 1) & mask
        budget = _PROBES_PER_KEY * len(queries) + _PROBES_SLACK
        while len(rows):  # the few rows whose key sits further along
            budget -= len(rows)
            if budget < 0:
                raise ProbeLimitError(f"{len(rows)} queries still probing")
            candidate = slots[where]
            occupied = candidate >= 0
            hit = occupied & (keys[candidate] == queries[rows])
            found[rows[hit]] = candidate[hit]
            again = occupied & ~hit
            rows, where = rows[again], (where[again] + 1) & mask
        return found


def group_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Group rows by 64-bit key in a hash table, without sorting them.

    Returns
    -------
    (distinct, first, codes) or None
        ``distinct[codes]`` equals ``keys``; ``first[c]`` is a row whose key is
        ``distinct[c]``. The order of ``distinct`` is unspecified. None when most rows of
        the first chunk are new keys (mostly distinct ids: one sort of all rows is then
        faster) or the keys cluster in the table (:class:`ProbeLimitError`): the caller
        sorts instead.
    """
    if keys.dtype.kind == "i":  # integer ids are their own key
        keys = keys.astype(np.int64, copy=False).view(np.uint64)
    try:
        return _group_in_table(keys)
    except ProbeLimitError:
        return None


def _group_in_table(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    table = KeyTable()
    codes = np.empty(len(keys), dtype=np.int64)
    firsts = [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(keys), _GROUP_CHUNK_ROWS):
        part = keys[start : start + _GROUP_CHUNK_ROWS]
        found = table.find(part)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            new, first, inverse = np.unique(
                part[missing], return_index=True, return_inverse=True
            )
            if start == 0 and len(part) < len(keys) \
                    and len(new) > _SORT_ABOVE_NEW_SHARE * len(part):
                return None  # mostly distinct keys: sorting them all at once is faster
            found[missing] = len(table) + inverse.reshape(-1)
            firsts.append(start + missing[first])
            table.add(new)
        codes[start : start + len(part)] = found
    return table.keys, np.concatenate(firsts), codes


def factorize_ints(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct int64 ids and each row's code, like ``np.unique(ids,
    return_inverse=True)``: rows grouped by :func:`group_keys`, then only the distinct ids
    sorted. None when :func:`group_keys` leaves the ids to a sort."""
    grouped = group_keys(ids)
    if grouped is None:  # (nearly) all distinct or clustered ids: the caller sorts them
        return None
    _, first, codes = grouped
    return sort_distinct(ids[first], codes)


def distinct_strings(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct values of a unicode array (unspecified order) and each row's code.

    Returns
    -------
    (distinct, codes) or None
        ``distinct[codes]`` equals ``ids``; None when two different ids share a hash or
        (nearly) every id is distinct (:func:`group_keys`): sort the strings instead.
    """
    grouped = group_keys(string_hashes(ids))
    if grouped is None:  # (nearly) all distinct: sorting the strings themselves is faster
        return None
    _, first, codes = grouped
    distinct = ids[first]
    if mismatched(ids, distinct, codes).any():  # a row differs from its group's first row
        return None
    return distinct, codes


def mismatched(ids: np.ndarray, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per row, ``ids[i] != values[positions[i]]`` (positions >= 0), gathering the compared
    strings a block of rows at a time so that no second full-size string array is built."""
    out = np.empty(len(ids), dtype=bool)
    for start in range(0, len(ids), _VERIFY_ROWS):
        stop = start + _VERIFY_ROWS
        np.not_equal(ids[start:stop], values[positions[start:stop]], out=out[start:stop])
    return out


def factorize_strings(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct ids and each row's code, like ``np.unique(ids, return_inverse=True)``:
    :func:`distinct_strings`, then only the distinct strings are sorted. None on a hash
    collision."""
    found = distinct_strings(ids)
    if found is None:
        return None
    return sort_distinct(*found)


def sort_distinct(distinct: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (no repeats) and row codes into them -> the same values sorted and
    the codes renumbered to match, like ``np.unique(distinct[codes], return_inverse=True)``."""
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[codes]
