"""Item vocabulary lookup of many ids: the hash table against binary search, side by side.

``ItemVocabulary.encode`` looks long inputs up in a hash table of the vocabulary's keys
(``seqrec_runtime.hashing.KeyTable``); below ``HASH_MIN_ROWS`` rows, and when two string
ids share a hash, it binary-searches the sorted ids (``_search``). Both are timed on the
same queries, alternating, in one process: sparse int ids (random 62-bit) and string ids,
with a tenth of the queries unknown to the vocabulary.

Run: ``python bench/vocabulary_lookup.py [--rows N] [--items N] [--repeats N]``. Prints
medians (min–max) and the ratio; writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from seqrec_runtime.vocabulary import ItemVocabulary

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import median_range, timed  # noqa: E402


def _text(seconds: list[float]) -> str:
    median, low, high = median_range(seconds)
    return f"{median:.3f} s ({low:.3f}–{high:.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    known = np.unique(rng.integers(0, 2**62, size=args.items))
    unknown = rng.integers(0, 2**62, size=args.items // 9)
    pool = np.r_[known, unknown]
    for kind in ("sparse int", "str"):
        ids = pool if kind == "sparse int" else np.char.add("item-", pool.astype(str))
        vocabulary = ItemVocabulary(ids[: len(known)])
        queries = ids[rng.integers(0, len(ids), size=args.rows)]
        vocabulary.encode(queries[:100_000])  # builds the table once, outside the timing
        table, search = [], []
        for _ in range(args.repeats):
            seconds, by_table = timed(vocabulary.encode, queries)
            table.append(seconds)
            seconds, by_search = timed(vocabulary._search, queries)
            search.append(seconds)
            assert np.array_equal(by_table, by_search)
        ratio = statistics.median(s / t for s, t in zip(search, table, strict=True))
        print(f"{kind:>10} ids, {args.rows:,} rows, {len(known):,} items: "
              f"hash table {_text(table)}, binary search {_text(search)}, table {ratio:.1f}× "
              "faster (median of per-repeat ratios)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
