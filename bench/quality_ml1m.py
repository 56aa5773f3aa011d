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
from common import ML1M, machine, ml1m_missing, today, write_section  # noqa: E402


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
        device = next(self.network.parameters()).device
        with torch.no_grad():
            scores = score_all(
                seqs,
                lambda x: self.network(torch.as_tensor(x, device=device)).cpu().numpy(),
                self.popularity,
                512,
            )
        return (seqs.user_ids, scores) if return_user_ids else scores


def run_config(
    name: str, split, overrides: dict, target: float, validation_only: bool = False,
    refit: bool = False, save_model: Path | None = None,
) -> dict:
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from seqrec_trainer.evaluation import evaluate, evaluate_many

    # refit: fixed epoch count (the preset's, chosen on validation), nothing to monitor
    no_monitor = {"early_stopping_patience": None} if refit else {}
    estimator = SASRecClassifierEstimator.from_preset(
        name, **{"random_state": 0, "verbose": 0, **overrides, **no_monitor}
    )
    # refit: every row before each user's test item (train + valid) is training data
    train_rows = split.test_input if refit else split.train
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=estimator.max_len)
    curve: list[dict] = []
    started = time.perf_counter()
    epoch_model = EpochModel(train_rows, estimator.max_len)
    report_s = [0.0]  # time spent in this report-only callback, excluded from elapsed_s

    def on_epoch(epoch, network, record):
        # Report-only test curve for "time to quality"; never used to select anything.
        entered = time.perf_counter()
        point = {
            "epoch": epoch,
            "elapsed_s": round(entered - started - report_s[0], 1),
            "epoch_s": round(record["time_s"], 1),
        }
        if "val_ndcg@10" in record:  # absent when refitting without validation
            point["val_ndcg@10"] = round(record["val_ndcg@10"], 4)
        if not validation_only:
            epoch_model.network = network
            res = evaluate(epoch_model, split.test_input, split.test, protocol="full", ks=(10,))
            point["test_ndcg@10"] = round(res["NDCG@10"], 4)
        report_s[0] += time.perf_counter() - entered
        curve.append(point)
        print(json.dumps(point), flush=True)

    recommender.train(
        interactions_ds=InteractionsDataset(train_rows),
        valid_interactions_ds=None if refit else InteractionsDataset(split.valid),
        callbacks=[on_epoch],
    )
    wall = time.perf_counter() - started - report_s[0]
    if save_model is not None:
        recommender.save(save_model / name)
    row = {
        "config": name,
        "overrides": overrides,
        "refit": refit,
        "params": {k: v for k, v in estimator.get_params().items() if k != "verbose"},
        "epochs_run": len(estimator.history_),
        "best_epoch": estimator.best_epoch_,
        "best_val_ndcg@10": None if refit else
        round(max(h["val_ndcg@10"] for h in estimator.history_), 4),
        "wall_s": round(wall, 1),
        "curve": curve,
    }

    def both_protocols(inputs, targets) -> dict:
        return evaluate_many(recommender, inputs, targets, protocols=("full", "sampled"),
                             ks=(10,), random_state=0)

    if not refit:
        # Both protocols on the validation item (input: the training rows), so that choices
        # can look at the sampled protocol too without touching the test item.
        valid = both_protocols(split.valid_input, split.valid)
        row.update(valid_full=valid["full"], valid_sampled=valid["sampled"])
    if validation_only:
        return row
    results = both_protocols(split.test_input, split.test)
    reached = next((p for p in curve if p["test_ndcg@10"] >= target), None)
    row.update(full=results["full"], sampled=results["sampled"], time_to_target=reached)
    if estimator.uses_item_prior:
        # Ablation on the same trained network: the item prior switched off (zeroing the
        # EASE matrix, or the low-rank scales, zeroes the whole prior term).
        network = estimator.network_
        prior = (network.item_prior_matrix if network.item_prior_matrix is not None
                 else network.item_prior_scales)
        saved = prior.clone()
        prior.zero_()
        try:
            plain = both_protocols(split.test_input, split.test)
            plain_valid = both_protocols(split.valid_input, split.valid) if not refit else {}
        finally:
            prior.copy_(saved)
        row["prior_off"] = {"full": plain["full"], "sampled": plain["sampled"],
                            **{f"valid_{k}": v for k, v in plain_valid.items()}}
    return row


def row_label(row: dict) -> str:
    """``ml-1m``, ``ml-1m, precision="fp32"`` for a row with overrides, `` (refit)`` added."""
    sets = ", ".join(f"{k}={json.dumps(v)}" for k, v in row.get("overrides", {}).items())
    label = f"{row['config']}, {sets}" if sets else row["config"]
    return f"{label} (refit)" if row.get("refit") else label


def render(rows: list[dict], target: float, command: str) -> str:
    lines = [
        "## Quality on MovieLens-1M (`ml-1m.txt.gz`, leave-one-out)",
        "",
        f"Command: `{command}` — {today()}, {machine()}. Checkpoint chosen by validation "
        "NDCG@10 (second-to-last item); test = last item. Full ranking removes the items in "
        "the user's input; sampled = test item vs 100 uniformly drawn unseen items. Wall "
        "time = training with per-epoch validation, without the report-only per-epoch test "
        "evaluation that draws the time-to-quality curve.",
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
            f"| `{row_label(r)}` | {r['full']['NDCG@10']:.4f} | {r['full']['HR@10']:.4f} | "
            f"{r['sampled']['NDCG@10']:.4f} | {r['sampled']['HR@10']:.4f} | "
            f"{r['epochs_run']} ({r['best_epoch'] or 'last'}) | {r['wall_s'] / 60:.1f} min | "
            f"{reach_txt} |"
        )
        if "prior_off" in r:
            off = r["prior_off"]
            lines.append(
                f"| ↳ same trained network, `item_prior_weight` 0 | {off['full']['NDCG@10']:.4f} | "
                f"{off['full']['HR@10']:.4f} | {off['sampled']['NDCG@10']:.4f} | "
                f"{off['sampled']['HR@10']:.4f} | | | |"
            )
    if any("prior_off" in r for r in rows):
        lines += ["", "With an item prior, the time-to-quality curve follows the network alone "
                  "during training: the prior is fitted after the last epoch (its fit is in the "
                  "wall time)."]
    lines += ["", "Configs (all other parameters at their defaults):", ""]
    for r in rows:
        lines.append(f"- `{row_label(r)}`: `{json.dumps(r['params'], sort_keys=True)}`")
    lines += [
        "",
        "Published (full ranking NDCG@10 / Recall@10): SASRec+ 0.1821 / 0.3152, gSASRec "
        "0.1726 / 0.3003, SASRec BCE ≈ 0.126 / 0.24. Sampled NDCG@10 / HR@10: SASRec paper "
        "0.5905 / 0.8245.",
    ]
    return "\n".join(lines)


def parse_overrides(pairs: list[str], epochs: int | None) -> dict:
    """``["hidden_units=128", "dropout_rate=0.1"]`` -> typed estimator overrides."""
    overrides: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        overrides[key] = json.loads(text) if text not in ("None", "none") else None
    if epochs:
        overrides["epochs"] = epochs
    return overrides


def command_for(row: dict) -> str:
    """The command that reproduces one row."""
    sets = " ".join(f"--set {k}={json.dumps(v)}" for k, v in row.get("overrides", {}).items())
    refit = " --refit" if row.get("refit") else ""
    return f"python bench/quality_ml1m.py --configs {row['config']}{refit} {sets}".strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="ml-1m,sasrec-paper")
    parser.add_argument("--epochs", type=int, default=None, help="override max epochs")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="override a preset parameter (JSON value), e.g. hidden_units=128")
    parser.add_argument("--validation-only", action="store_true",
                        help="tuning mode: report validation NDCG@10 only, never touch the "
                             "test item, do not write BENCHMARKS.md")
    parser.add_argument("--refit", action="store_true",
                        help="train on train + valid rows (everything before each user's test "
                             "item) for the preset's epoch count, no validation; NOT the paper's "
                             "protocol, reported as its own (refit) row")
    parser.add_argument("--target", type=float, default=0.18)
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the rows (default bench/results/quality_ml1m.json, "
                             "or quality_ml1m_tuning.json with --validation-only)")
    parser.add_argument("--save-model", type=Path, default=None, metavar="DIR",
                        help="also save each trained recommender to DIR/CONFIG (for analysis)")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render BENCHMARKS.md from a previous run's --json output")
    args = parser.parse_args()
    if args.refit and args.validation_only:
        parser.error("--refit trains on the validation rows; it cannot be --validation-only")
    if args.from_json is not None:
        rows = json.loads(args.from_json.read_text())
        command = "` and `".join(command_for(r) for r in rows)
        write_section("quality_ml1m", render(rows, args.target, command))
        return 0
    if ml1m_missing():
        return 0
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    overrides = parse_overrides(args.set, args.epochs)
    split = leave_one_out_split(load_sasrec_txt(ML1M))
    rows = [
        run_config(name, split, overrides, args.target, args.validation_only, args.refit,
                   args.save_model)
        for name in args.configs.split(",")
    ]
    default_name = "quality_ml1m_tuning.json" if args.validation_only else "quality_ml1m.json"
    out = args.json or Path("bench/results") / default_name
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.validation_only:
        previous = json.loads(out.read_text()) if out.exists() else []
        out.write_text(json.dumps(previous + rows, indent=1))
        for r in rows:
            full, sampled = r["valid_full"], r["valid_sampled"]
            print(f"{command_for(r)} --validation-only: best validation NDCG@10 "
                  f"{r['best_val_ndcg@10']} at epoch {r['best_epoch']} "
                  f"({r['wall_s'] / 60:.1f} min); validation item, full "
                  f"{full['NDCG@10']:.4f} / {full['HR@10']:.4f}, sampled "
                  f"{sampled['NDCG@10']:.4f} / {sampled['HR@10']:.4f}", flush=True)
        return 0
    out.write_text(json.dumps(rows, indent=1))
    table = render(rows, args.target, "` and `".join(command_for(r) for r in rows))
    print(table)
    if not args.no_write:
        write_section("quality_ml1m", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
