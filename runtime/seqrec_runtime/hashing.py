"""Grouping many string ids by 64-bit hash instead of sorting the strings themselves.

Sorting unicode arrays compares strings character by character; sorting their 64-bit
hashes is several times faster. Every row is then checked against the first row of its
hash group, so a hash collision is detected (the functions return None and the caller
falls back to sorting the strings): results never depend on the hash.
"""

from __future__ import annotations

import numpy as np

#: Below this many rows ``np.unique`` on the strings is as fast as hashing them first.
HASH_MIN_ROWS = 4096
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_VERIFY_ROWS = 1 << 20


def string_hashes(ids: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hash of each fixed-width unicode id, over its UCS-4 code points."""
    width = ids.dtype.itemsize // 4
    points = np.ascontiguousarray(ids).view(np.uint32).reshape(len(ids), width)
    hashes = np.full(len(ids), _FNV_OFFSET, dtype=np.uint64)
    for column in range(width):
        np.bitwise_xor(hashes, points[:, column], out=hashes, casting="unsafe")
        np.multiply(hashes, _FNV_PRIME, out=hashes)
    return hashes


def distinct_strings(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct values of a unicode array (in hash order) and each row's code.

    Returns
    -------
    (distinct, codes) or None
        ``distinct[codes]`` equals ``ids``; None when two different ids share a hash.
    """
    _, first, codes = np.unique(string_hashes(ids), return_index=True, return_inverse=True)
    codes = codes.reshape(-1)
    distinct = ids[first]
    for start in range(0, len(ids), _VERIFY_ROWS):  # every row equals its group's first row
        stop = start + _VERIFY_ROWS
        if not np.array_equal(ids[start:stop], distinct[codes[start:stop]]):
            return None
    return distinct, codes


def factorize_strings(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct ids and each row's code, like ``np.unique(ids, return_inverse=True)``:
    :func:`distinct_strings`, then only the distinct strings are sorted. None on a hash
    collision."""
    found = distinct_strings(ids)
    if found is None:
        return None
    distinct, codes = found
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[codes]
