"""Fit time and memory of the two item-prior kinds as the catalogue grows.

Synthetic interactions (power-law item popularity, ``--per-user`` distinct items per user,
``--users-per-item`` users per catalogue item) for each catalogue size; times
``cooccurrence_gram`` + ``ease_matrix`` (``item_prior_kind="ease"``, only up to
``MAX_PRIOR_ITEMS``) and ``low_rank_ridge`` (``"low_rank"``, ``--rank``), each in a fresh
subprocess so its peak RSS is its own. Reports medians over ``--repeats`` runs and the size
of the prior each kind puts in one exported graph. Writes the ``item_prior_scale``
section of BENCHMARKS.md (not with ``--quick`` or ``--no-write``); part of
``bench/run_all.py``.

Run: ``python bench/item_prior_scale.py [--quick] [--items 3416,15000,50000,100000]
[--rank 256] [--repeats 3] [--no-write]``. Needs no data.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import finish, header  # noqa: E402


def interactions(n_items: int, per_user: int, users_per_item: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    n_users = max(1, n_items * users_per_item // per_user)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    rows = np.repeat(np.arange(n_users), per_user)
    items = rng.choice(n_items, size=n_users * per_user, p=popularity) + 1
    return rows, items, n_users


def fit_once(kind: str, n_items: int, rank: int, per_user: int, users_per_item: int) -> dict:
    from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix, low_rank_ridge

    rows, items, n_users = interactions(n_items, per_user, users_per_item)
    started = time.perf_counter()
    if kind == "ease":
        ease_matrix(cooccurrence_gram(rows, items, n_items), 500.0)
    else:
        low_rank_ridge(rows, items, n_items, rank, 500.0)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak_mb, "n_users": n_users,
            "n_interactions": len(rows)}


def run_child(kind: str, n_items: int, args: argparse.Namespace) -> dict:
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "from item_prior_scale import fit_once; "
            f"print(json.dumps(fit_once({kind!r}, {n_items}, {args.rank}, {args.per_user}, "
            f"{args.users_per_item})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small catalogues, 1 repeat")
    parser.add_argument("--items", default=None, help="default 3416,15000,50000,100000")
    parser.add_argument("--rank", type=int, default=256)
    parser.add_argument("--per-user", type=int, default=50)
    parser.add_argument("--users-per-item", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--write", action="store_true", help="with --quick: write anyway")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    args.items = args.items or ("1000,5000,20000" if args.quick else "3416,15000,50000,100000")
    args.repeats = args.repeats or (1 if args.quick else 3)
    write = args.write or not (args.quick or args.no_write)
    from seqrec_trainer.model.item_prior import MAX_PRIOR_ITEMS

    command = (f"python bench/item_prior_scale.py{' --quick' if args.quick else ''} "
               f"--items {args.items} --rank {args.rank} --repeats {args.repeats}")
    lines = header(
        "Item prior: fit cost by catalogue size", command, args.quick,
        f"Synthetic interactions: {args.per_user} draws per user from a power-law item "
        f"popularity (exponent 0.8; a repeated draw counts once), {args.users_per_item} × "
        f"n_items / {args.per_user} users. Each fit runs in its own subprocess (peak RSS of "
        f"that process, imports included); medians over {args.repeats} runs; l2 = 500. "
        f"`\"ease\"` is refused above {MAX_PRIOR_ITEMS:,} items. \"Per graph\" is the float32 "
        "prior stored in each of the artifact's two graphs.",
    ) + [
        "",
        f"| n_items | draws | `\"ease\"` fit | `\"ease\"` peak RSS | `\"ease\"` per graph "
        f"| `\"low_rank\"` (r={args.rank}) fit | `\"low_rank\"` peak RSS "
        "| `\"low_rank\"` per graph |",
        "|---|---|---|---|---|---|---|---|",
    ]
    results = []
    for n_items in [int(x) for x in args.items.split(",")]:
        row = {"n_items": n_items}
        for kind in ("ease", "low_rank"):
            if kind == "ease" and n_items > MAX_PRIOR_ITEMS:
                continue
            runs = [run_child(kind, n_items, args) for _ in range(args.repeats)]
            row[kind] = {"seconds": statistics.median(r["seconds"] for r in runs),
                         "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs)}
            row["n_interactions"] = runs[0]["n_interactions"]
            print(n_items, kind, row[kind], flush=True)
        results.append(row)
        ease = row.get("ease")
        ease_cells = (f"{ease['seconds']:.1f} s | {ease['peak_rss_mb'] / 1024:.1f} GB | "
                      f"{4 * n_items**2 / 1e6:,.0f} MB") if ease else "refused | – | –"
        low = row["low_rank"]
        lines.append(
            f"| {n_items:,} | {row['n_interactions']:,} | {ease_cells} | "
            f"{low['seconds']:.1f} s | {low['peak_rss_mb'] / 1024:.1f} GB | "
            f"{4 * n_items * min(args.rank, n_items) / 1e6:,.1f} MB |"
        )
    finish("item_prior_scale", args.quick, write, "\n".join(lines), {"results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
