"""What the item prior costs at serving time: the same trained model with and without it.

Takes a model saved with ``item_prior_weight > 0`` (e.g. ``bench/quality_ml1m.py
--configs ml-1m --save-model DIR``, then ``DIR/ml-1m``), builds its twin without the prior
(same weights, ``item_prior_weight=0``), exports both with ``export_onnx`` and measures,
side by side and interleaved in rounds, through ``seqrec_runtime``:

* artifact size on disk;
* ``seqrec_runtime.load`` time;
* batch ``recommend(all rows, top_k=10)`` for every ML-1M user (the training rows);
* online ``recommend_online`` p50 for 50 users with >= 200 items (history of 200 items).

Reports medians over rounds and the with/without ratio. Writes the ``item_prior_cost``
section of BENCHMARKS.md with ``--write``.

Run: ``python bench/item_prior_cost.py MODEL_DIR [--rounds 5] [--write]``.
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
from common import ML1M, machine, today, write_section  # noqa: E402

TOP_K = 10


def without_prior(path: Path):
    """The recommender saved at ``path``, rebuilt with the same weights and no prior."""
    from seqrec_trainer import SequentialRecommender

    recommender = SequentialRecommender.load(path, device="cpu")
    estimator = recommender.scorer.estimator
    state = {k: v for k, v in estimator.network_.state_dict().items()
             if k != "item_prior_matrix"}
    estimator.set_params(item_prior_weight=0.0)
    network = estimator.build_network(estimator.n_items_)
    network.load_state_dict(state)
    estimator.network_ = network.eval()
    return recommender


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=Path("bench/results/item_prior_cost.json"))
    args = parser.parse_args()
    if not ML1M.exists():
        print(f"SKIP: {ML1M} not found (../shared/data is research data, absent on fresh clones)")
        return 0
    import numpy as np
    import seqrec_runtime
    from seqrec_export import export_onnx
    from seqrec_trainer import SequentialRecommender
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    with_prior = SequentialRecommender.load(args.model, device="cpu")
    if not with_prior.scorer.estimator.uses_item_prior:
        raise SystemExit(f"{args.model} has no item prior (item_prior_weight=0)")
    rows = leave_one_out_split(load_sasrec_txt(ML1M)).train
    order = np.lexsort((rows["TIMESTAMP"], rows["USER_ID"]))
    users, starts, counts = np.unique(rows["USER_ID"][order], return_index=True,
                                      return_counts=True)
    long_users = np.flatnonzero(counts >= 200)[:50]
    histories = [rows["ITEM_ID"][order][starts[u] + counts[u] - 200: starts[u] + counts[u]]
                 for u in long_users]

    tmp = Path(tempfile.mkdtemp(prefix="seqrec-prior-cost-"))
    variants = {"with prior": with_prior, "without prior": without_prior(args.model)}
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
            recs[name] = runtime.recommend(rows, top_k=TOP_K)
            timings[name]["batch_s"].append(time.perf_counter() - started)
            latencies = []
            for history in histories:
                started = time.perf_counter()
                runtime.recommend_online(history, top_k=TOP_K)
                latencies.append(time.perf_counter() - started)
            timings[name]["online_p50_ms"].append(1e3 * statistics.median(latencies))
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in timings.items()}
    changed = float(np.mean(np.any(recs["with prior"] != recs["without prior"], axis=1)))
    a, b = med["with prior"], med["without prior"]
    n_users = len(users)
    table = "\n".join([
        "## Item prior: serving cost (same trained network with and without the prior)",
        "",
        f"Command: `python bench/item_prior_cost.py MODEL_DIR --rounds {args.rounds} --write` "
        f"on the `ml-1m` preset model of `bench/quality_ml1m.py --configs ml-1m --save-model` "
        f"— {today()}, {machine()}. Both artifacts exported by `export_onnx`, served by "
        f"`seqrec_runtime` on CPUExecutionProvider; medians over {args.rounds} interleaved "
        "rounds.",
        "",
        "| | with prior | without prior | ratio |",
        "|---|---|---|---|",
        f"| artifact size | {sizes['with prior'] / 1e6:.1f} MB | "
        f"{sizes['without prior'] / 1e6:.1f} MB | "
        f"{sizes['with prior'] / sizes['without prior']:.1f}× |",
        f"| `seqrec_runtime.load` | {a['load_s']:.2f} s | {b['load_s']:.2f} s | "
        f"{a['load_s'] / b['load_s']:.2f}× |",
        f"| `recommend`, {n_users:,} users, top-10 | {a['batch_s']:.1f} s "
        f"({n_users / a['batch_s']:,.0f} users/s) | {b['batch_s']:.1f} s "
        f"({n_users / b['batch_s']:,.0f} users/s) | {a['batch_s'] / b['batch_s']:.2f}× |",
        f"| `recommend_online`, 200-item history, p50 | {a['online_p50_ms']:.2f} ms | "
        f"{b['online_p50_ms']:.2f} ms | {a['online_p50_ms'] / b['online_p50_ms']:.2f}× |",
        "",
        f"The prior changes at least one of the top-10 items for {100 * changed:.0f} % of users.",
    ])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"sizes": sizes, "timings": timings, "medians": med,
                                     "changed_top10_share": changed}, indent=1))
    print(table)
    if args.write:
        write_section("item_prior_cost", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
