"""Quality on MovieLens-1M (the SASRec paper's file): recommended preset vs paper BCE.

Run: ``make bench-quality`` (or ``python bench/quality_ml1m.py [--configs ml-1m,sasrec-paper]``).
Leave-one-out split; checkpoints and hyperparameters are chosen on the validation item
only (early stopping on validation NDCG@10). The test item is used for the final table
and, report-only, for the time-to-quality curve (never for selection).
Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ML1M, machine, today, write_section  # noqa: E402


class EpochModel:
    """Duck-typed scorer over the network being trained (for the report-only test curve)."""

    def __init__(self, train: dict, max_len: int) -> None:
        import numpy as np
        from seqrec_trainer.data.training import build_vocabulary

        self.vocabulary = build_vocabulary(train, None)
        self.item_ids_ = self.vocabulary.ids
        counts = np.bincount(
            self.vocabulary.encode(train["ITEM_ID"]), minlength=len(self.vocabulary) + 1
        )[1:].astype(np.float32)
        self.popularity = counts / counts.sum()
        self.max_len = max_len
        self.network = None

    def score_items(self, interactions, return_user_ids=False):
        import torch
        from seqrec_runtime.batch import score_all
        from seqrec_runtime.histories import read_histories

        seqs = read_histories(interactions, self.vocabulary, self.max_len)
        with torch.no_grad():
            scores = score_all(
                seqs, lambda x: self.network(torch.as_tensor(x)).numpy(), self.popularity, 512
            )
        return (seqs.user_ids, scores) if return_user_ids else scores


def run_config(name: str, split, epochs: int | None, target: float) -> dict:
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from seqrec_trainer.evaluation import evaluate, evaluate_many

    overrides = {"epochs": epochs} if epochs else {}
    estimator = SASRecClassifierEstimator.from_preset(name, random_state=0, verbose=0, **overrides)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=estimator.max_len)
    curve: list[dict] = []
    started = time.perf_counter()
    epoch_model = EpochModel(split.train, estimator.max_len)

    def on_epoch(epoch, network, record):
        # Report-only test curve for "time to quality"; never used to select anything.
        epoch_model.network = network
        res = evaluate(epoch_model, split.test_input, split.test, protocol="full", ks=(10,))
        point = {
            "epoch": epoch,
            "elapsed_s": round(time.perf_counter() - started, 1),
            "val_ndcg@10": round(record.get("val_ndcg@10", float("nan")), 4),
            "test_ndcg@10": round(res["NDCG@10"], 4),
        }
        curve.append(point)
        print(json.dumps(point), flush=True)

    estimator.epoch_callbacks = [on_epoch]
    recommender.train(
        interactions_ds=InteractionsDataset(split.train),
        valid_interactions_ds=InteractionsDataset(split.valid),
    )
    wall = time.perf_counter() - started
    results = evaluate_many(
        recommender,
        split.test_input,
        split.test,
        protocols=("full", "sampled"),
        ks=(10,),
        random_state=0,
    )
    reached = next((p for p in curve if p["test_ndcg@10"] >= target), None)
    return {
        "config": name,
        "params": {k: v for k, v in estimator.get_params().items() if k != "verbose"},
        "epochs_run": len(estimator.history_),
        "best_epoch": estimator.best_epoch_,
        "wall_s": round(wall, 1),
        "full": results["full"],
        "sampled": results["sampled"],
        "time_to_target": reached,
        "curve": curve,
    }


def render(rows: list[dict], target: float, command: str) -> str:
    lines = [
        "## Quality on MovieLens-1M (`ml-1m.txt.gz`, leave-one-out)",
        "",
        f"Command: `{command}` — {today()}, {machine()}. Checkpoint chosen by validation "
        "NDCG@10 (second-to-last item); test = last item. Full ranking removes the items in "
        "the user's input; sampled = test item vs 100 uniformly drawn unseen items.",
        "",
        "| config | full NDCG@10 | full Recall@10 | sampled NDCG@10 | sampled HR@10 "
        f"| epochs (best) | wall time | time to test NDCG@10 ≥ {target} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reach = r["time_to_target"]
        reach_txt = (
            f"{reach['elapsed_s'] / 60:.1f} min (epoch {reach['epoch']})"
            if reach
            else "not reached"
        )
        lines.append(
            f"| `{r['config']}` | {r['full']['NDCG@10']:.4f} | {r['full']['HR@10']:.4f} | "
            f"{r['sampled']['NDCG@10']:.4f} | {r['sampled']['HR@10']:.4f} | "
            f"{r['epochs_run']} ({r['best_epoch']}) | {r['wall_s'] / 60:.1f} min | {reach_txt} |"
        )
    lines += ["", "Configs (all other parameters at their defaults):", ""]
    for r in rows:
        lines.append(f"- `{r['config']}`: `{json.dumps(r['params'], sort_keys=True)}`")
    lines += [
        "",
        "Published (full ranking NDCG@10 / Recall@10): SASRec+ 0.1821 / 0.3152, gSASRec "
        "0.1726 / 0.3003, SASRec BCE ≈ 0.126 / 0.24. Sampled NDCG@10 / HR@10: SASRec paper "
        "0.5905 / 0.8245.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="ml-1m,sasrec-paper")
    parser.add_argument("--epochs", type=int, default=None, help="override max epochs")
    parser.add_argument("--target", type=float, default=0.18)
    parser.add_argument("--json", type=Path, default=Path("bench/results/quality_ml1m.json"))
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render BENCHMARKS.md from a previous run's --json output")
    args = parser.parse_args()
    if args.from_json is not None:
        from seqrec_trainer.presets import get_preset

        rows = json.loads(args.from_json.read_text())
        command = "` and `".join(
            f"python bench/quality_ml1m.py --configs {r['config']}"
            + (f" --epochs {r['params']['epochs']}"
               if r["params"]["epochs"] != get_preset(r["config"])["epochs"] else "")
            for r in rows
        )
        write_section("quality_ml1m", render(rows, args.target, command))
        return 0
    if not ML1M.exists():
        print(f"SKIP: {ML1M} not found (../shared/data is research data, absent on fresh clones)")
        return 0
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    split = leave_one_out_split(load_sasrec_txt(ML1M))
    rows = [run_config(name, split, args.epochs, args.target) for name in args.configs.split(",")]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))
    command = "python bench/quality_ml1m.py " + " ".join(sys.argv[1:])
    table = render(rows, args.target, command.strip())
    print(table)
    if not args.no_write:
        write_section("quality_ml1m", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
