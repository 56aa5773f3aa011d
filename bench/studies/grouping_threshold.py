"""Is ``_SORT_ABOVE_NEW_SHARE`` in the right place? ``factorize`` of 5M ids, side by side.

``seqrec_runtime.hashing.group_keys`` groups ids in a hash table unless (nearly) every row
of its first chunk is a new id, where one sort of all rows is faster. For ids drawn from
pools of 1 %, 20 %, 40 % and 100 % of the row count (sparse ints and strings), this prints
``factorize`` with the shipped rule, with the table only (rule off), and ``np.unique``; and
the first chunk's share of new ids that the rule looks at. One process, one run each.

Run: ``python bench/studies/grouping_threshold.py [--rows N]``. Prints only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from seqrec_runtime import hashing
from seqrec_runtime.sequences import factorize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import timed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shipped = hashing._SORT_ABOVE_NEW_SHARE
    for share in (0.01, 0.2, 0.4, 1.0):
        k = int(args.rows * share)
        pool = rng.permutation(k).astype(np.int64) * 7_919 + 2**40
        ints = pool[rng.integers(0, k, size=args.rows)] if share < 1 else pool
        for kind, ids in (("int", ints), ("str", np.char.add("u-", ints.astype(str)))):
            times = {}
            for label, rule in (("rule", shipped), ("table only", 2.0)):
                hashing._SORT_ABOVE_NEW_SHARE = rule
                times[label] = timed(factorize, ids)[0]
            hashing._SORT_ABOVE_NEW_SHARE = shipped
            unique = timed(np.unique, ids, False, True)[0]
            chunk = ids[: hashing._GROUP_CHUNK_ROWS]
            first_new = len(np.unique(chunk)) / len(chunk)
            print(f"{args.rows:,} rows, {share:.0%} distinct, {kind}: first chunk {first_new:.0%} "
                  f"new; factorize with the rule (> {shipped:.0%}) {times['rule']:.2f} s, "
                  f"table only {times['table only']:.2f} s, np.unique {unique:.2f} s",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
