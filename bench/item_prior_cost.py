"""What the item prior costs at serving time: the same trained model with and without it.

Takes a model saved with an EASE prior (e.g. ``bench/quality_ml1m.py --configs ml-1m
--save-model DIR``, then ``DIR/ml-1m``) and builds two twins with the same network weights:
one without the prior (``item_prior_weight=0``) and one with the ``"low_rank"`` prior
(``item_prior_rank=--rank``, same weight and l2, fitted on the same training rows). Exports
all three with ``export_onnx`` and measures, side by side and interleaved in rounds,
through ``seqrec_runtime``:

* artifact size on disk;
* ``seqrec_runtime.load`` time;
* batch ``recommend(all rows, top_k=10)`` for every ML-1M user (the training rows);
* online ``recommend_online`` p50 for 50 users with >= 200 items (history of 200 items).

Reports medians over rounds and the with/without ratio. Writes the ``item_prior_cost``
section of BENCHMARKS.md with ``--write``.

Run: ``python bench/item_prior_cost.py MODEL_DIR [--rounds 5] [--rank 256] [--write]``.
Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ML1M, machine, ml1m_missing, today, write_section  # noqa: E402

TOP_K = 10


def twin(path: Path, rows: dict, **params):
    """The recommender saved at ``path`` with the same network weights and the prior
    parameters ``params``; a prior is refitted on ``rows`` (the training rows)."""
    from seqrec_trainer import SequentialRecommender

    return SequentialRecommender.load(path, device="cpu").refit_item_prior(rows, **params)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rank", type=int, default=256, help="rank of the low-rank twin")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=Path("bench/results/item_prior_cost.json"))
    args = parser.parse_args()
    if ml1m_missing():
        return 0
    import numpy as np
    import seqrec_runtime
    from seqrec_export import export_onnx
    from seqrec_trainer import SequentialRecommender
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    with_prior = SequentialRecommender.load(args.model, device="cpu")
    estimator = with_prior.scorer.estimator
    if not estimator.uses_item_prior or estimator.item_prior_kind != "ease":
        raise SystemExit(f"{args.model} has no EASE item prior")
    rows = leave_one_out_split(load_sasrec_txt(ML1M)).train
    if not np.array_equal(np.unique(rows["ITEM_ID"]), with_prior.item_ids_):
        raise SystemExit(f"{args.model} was not trained on the ml-1m training rows")
    order = np.lexsort((rows["TIMESTAMP"], rows["USER_ID"]))
    users, starts, counts = np.unique(rows["USER_ID"][order], return_index=True,
                                      return_counts=True)
    long_users = np.flatnonzero(counts >= 200)[:50]
    histories = [rows["ITEM_ID"][order][starts[u] + counts[u] - 200: starts[u] + counts[u]]
                 for u in long_users]

    tmp = Path(tempfile.mkdtemp(prefix="seqrec-prior-cost-"))
    low_rank = f"low-rank prior (r={args.rank})"
    variants = {
        "EASE prior": with_prior,
        low_rank: twin(args.model, rows, item_prior_kind="low_rank", item_prior_rank=args.rank),
        "no prior": twin(args.model, rows, item_prior_weight=0.0),
    }
    dirs = {}
    for name, recommender in variants.items():
        dirs[name] = tmp / name.replace(" ", "_")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_onnx(recommender, dirs[name])
    sizes = {name: dir_bytes(d) for name, d in dirs.items()}
    timings: dict[str, dict[str, list[float]]] = {
        name: {"load_s": [], "batch_s": [], "online_p50_ms": []} for name in variants
    }
    recs = {}
    for _ in range(args.rounds):
        for name, directory in dirs.items():
            started = time.perf_counter()
            runtime = seqrec_runtime.load(directory, providers=["CPUExecutionProvider"])
            timings[name]["load_s"].append(time.perf_counter() - started)
            started = time.perf_counter()
            recs[name] = runtime.recommend(rows, top_k=TOP_K, exclude_seen=False)
            timings[name]["batch_s"].append(time.perf_counter() - started)
            latencies = []
            for history in histories:
                started = time.perf_counter()
                runtime.recommend_online(history, top_k=TOP_K, exclude_seen=False)
                latencies.append(time.perf_counter() - started)
            timings[name]["online_p50_ms"].append(1e3 * statistics.median(latencies))
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in timings.items()}
    def overlap(a: str, b: str) -> float:
        """Mean share of top-10 items two variants have in common."""
        return float(np.mean([np.isin(x, y).mean() for x, y in zip(recs[a], recs[b],
                                                                    strict=True)]))

    names = list(variants)
    base = med["no prior"]
    n_users = len(users)

    def row(label: str, values: list[float], fmt: str, key: str) -> str:
        cells = [fmt.format(v) for v in values]
        ratios = [f"{med[n][key] / base[key]:.2f}×" for n in names[:2]]
        return f"| {label} | " + " | ".join(cells + ratios) + " |"

    table = "\n".join([
        "## Item prior: serving cost (same trained network with and without the prior)",
        "",
        f"Command: `python bench/item_prior_cost.py MODEL_DIR --rounds {args.rounds} "
        f"--rank {args.rank} --write` on the `ml-1m` preset model of `bench/quality_ml1m.py "
        f"--configs ml-1m --save-model` — {today()}, {machine()}. The low-rank twin keeps "
        "the network and the prior's weight and l2 and refits the prior as "
        "`item_prior_kind=\"low_rank\"` on the same training rows. All artifacts exported by "
        "`export_onnx`, served by `seqrec_runtime` on CPUExecutionProvider; medians over "
        f"{args.rounds} interleaved rounds.",
        "",
        f"| | {' | '.join(names)} | EASE / none | low-rank / none |",
        "|---|---|---|---|---|---|",
        "| artifact size | " + " | ".join(f"{sizes[n] / 1e6:.1f} MB" for n in names) + " | "
        + " | ".join(f"{sizes[n] / sizes['no prior']:.1f}×" for n in names[:2]) + " |",
        row("`seqrec_runtime.load`", [med[n]["load_s"] for n in names], "{:.2f} s", "load_s"),
        row(f"`recommend`, {n_users:,} users, top-10",
            [med[n]["batch_s"] for n in names], "{:.1f} s", "batch_s"),
        row("`recommend_online`, 200-item history, p50",
            [med[n]["online_p50_ms"] for n in names], "{:.2f} ms", "online_p50_ms"),
        "",
        f"Top-10 overlap (mean share of items in common): EASE vs no prior "
        f"{overlap('EASE prior', 'no prior'):.2f}, low-rank vs no prior "
        f"{overlap(low_rank, 'no prior'):.2f}, low-rank vs EASE "
        f"{overlap(low_rank, 'EASE prior'):.2f}.",
    ])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"sizes": sizes, "timings": timings, "medians": med,
                                     "rank": args.rank}, indent=1))
    print(table)
    if args.write:
        write_section("item_prior_cost", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
