"""Item vocabulary: original item ids <-> model indices.

The vocabulary is the sorted array of distinct training item ids. Item ``vocabulary[k]``
has model index ``k + 1``; index ``0`` is reserved for padding and is also what unknown
ids encode to (they are then dropped from histories).
"""

from __future__ import annotations

import numpy as np

from .errors import IdTypeError
from .hashing import HASH_MIN_ROWS, KeyTable, ProbeLimitError, mismatched, string_hashes
from .table import ITEM_ID, CodedIds, normalize_ids

PAD_INDEX = 0


def _keys(ids: np.ndarray) -> np.ndarray:
    """64-bit lookup keys: string hashes, or the integer ids themselves."""
    if ids.dtype.kind == "U":
        return string_hashes(ids)
    return ids.astype(np.int64, copy=False).view(np.uint64)


def id_dtype_name(ids: np.ndarray) -> str:
    """Language-neutral dtype name of a normalised id array: ``"int64"`` or ``"string"``."""
    return "string" if ids.dtype.kind == "U" else "int64"


class ItemVocabulary:
    """Sorted, distinct item ids with vectorised encoding.

    Parameters
    ----------
    item_ids
        Distinct ids; they are normalised and sorted ascending.
    """

    def __init__(self, item_ids: np.ndarray) -> None:
        ids = normalize_ids(item_ids, ITEM_ID)
        unique = np.unique(ids)
        if len(unique) != len(ids):
            raise IdTypeError("item vocabulary ids must be distinct")
        self.ids: np.ndarray = unique
        self.dtype_name: str = id_dtype_name(unique)
        self._dense: tuple[int, np.ndarray] | None = None
        self._table: tuple[KeyTable | None] | None = None  # see _key_table
        if unique.dtype.kind == "i" and len(unique):
            low, span = int(unique[0]), int(unique[-1]) - int(unique[0])
            if span < 4 * len(unique) + 1024:  # ids in a dense range: O(1) table lookup
                table = np.zeros(span + 1, dtype=np.int64)
                table[unique - low] = np.arange(1, len(unique) + 1)
                self._dense = (low, table)

    def __len__(self) -> int:
        return len(self.ids)

    def check_same_type(self, ids: np.ndarray, column: str = ITEM_ID) -> None:
        """Raise :class:`IdTypeError` when normalised ``ids`` differ in type from the vocabulary."""
        if len(ids) and id_dtype_name(ids) != self.dtype_name:
            raise IdTypeError(
                f"{column} values are {id_dtype_name(ids)} but the model's item ids are "
                f"{self.dtype_name}; convert them (e.g. df.{column}.astype("
                f"{'str' if self.dtype_name == 'string' else 'int'})) so that 3 and '3' "
                "are not silently different items"
            )

    def encode(self, ids: np.ndarray | CodedIds) -> np.ndarray:
        """Map normalised ids to model indices (``1..n``); unknown ids map to ``0``.

        :class:`~seqrec_runtime.table.CodedIds` (distinct ids and row codes) are looked up
        once per distinct id.
        """
        if isinstance(ids, CodedIds):
            return self.encode(ids.distinct)[ids.codes]
        self.check_same_type(ids)
        if len(self.ids) == 0 or len(ids) == 0:
            return np.zeros(len(ids), dtype=np.int64)
        if self._dense is not None:
            low, dense = self._dense
            offsets = ids - low  # ids are int64 here (same type as the vocabulary)
            inside = (ids >= low) & (offsets >= 0) & (offsets < len(dense))
            return np.where(inside, dense[np.where(inside, offsets, 0)], PAD_INDEX)
        if len(ids) >= HASH_MIN_ROWS:
            key_table = self._key_table()
            if key_table is not None:
                return self._lookup(key_table, ids)
        return self._search(ids)

    def _key_table(self) -> KeyTable | None:
        """Hash table of the ids' 64-bit keys, built on first use (None when two string
        ids share a hash or the keys cluster: lookups then binary-search the sorted ids)."""
        if self._table is None:
            keys = _keys(self.ids)
            table: KeyTable | None = None
            if len(np.unique(keys)) == len(keys):  # else two string ids share a hash
                table = KeyTable()
                try:
                    table.add(keys)
                except ProbeLimitError:  # clustered keys: binary search instead
                    table = None
            self._table = (table if table is not None and len(table) == len(keys) else None,)
        return self._table[0]

    def _lookup(self, table: KeyTable, ids: np.ndarray) -> np.ndarray:
        try:
            found = table.find(_keys(ids))  # table positions are vocabulary positions
        except ProbeLimitError:
            return self._search(ids)
        if ids.dtype.kind == "U":  # a string's hash matches only its own entry, if any
            found[mismatched(ids, self.ids, np.maximum(found, 0))] = -1
        return found + 1  # -1 (absent) becomes PAD_INDEX

    def _search(self, ids: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.ids, ids)
        pos_clipped = np.minimum(pos, len(self.ids) - 1)
        found = self.ids[pos_clipped] == ids
        return np.where(found, pos_clipped + 1, PAD_INDEX).astype(np.int64)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Map 0-based *column* indices (score matrix columns) back to original ids."""
        return self.ids[indices]
