"""Quality of one recipe on one dataset, with popularity, item-item and transitions beside it.

Run: ``python bench/quality.py --dataset beauty --recipe auto`` (``make bench-quality`` runs
one such command per dataset). Leave-one-out split; the checkpoint, early stopping and
the auto recipe's item-prior weight are chosen on the validation item only; the test item
gives the reported numbers. Time to quality is read from the validation curve (the
network alone after each epoch, without the prior; ``--test-curve`` adds the test item's,
report-only). Writes
``bench/results/quality_<dataset>_<recipe>.json``; ``bench/quality_report.py`` turns the
results into BENCHMARKS.md's table and the quality-vs-training-time figure.
Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, machine, today  # noqa: E402
from quality_ml1m import EpochModel  # noqa: E402

DATASETS = {
    "ml-1m": "ml-1m/ml-1m.txt.gz",
    "beauty": "beauty/beauty.txt.gz",
    "ml-latest-small": "ml-latest-small/ratings.csv.gz",
    "ml-1m-timestamps": "ml-1m-timestamps/ratings_users1-2999.dat.gz",
}


def parse_overrides(pairs: list[str]) -> dict:
    """``["hidden_units=128"]`` -> ``{"hidden_units": 128}`` (JSON values)."""
    overrides: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        overrides[key] = json.loads(text) if text not in ("None", "none") else None
    return overrides


def command_for(dataset: str, recipe: str, overrides: dict) -> str:
    sets = " ".join(f"--set {k}={json.dumps(v)}" for k, v in overrides.items())
    return f"python bench/quality.py --dataset {dataset} --recipe {recipe} {sets}".strip()


def run(dataset: str, recipe: str, overrides: dict, validation_only: bool,
        test_curve: bool = False) -> dict:
    from seqrec_trainer.evaluation import evaluate, leave_one_out_split, load_interactions
    from seqrec_trainer.evaluation.holdout import train_and_evaluate

    split = leave_one_out_split(load_interactions(SHARED_DATA / DATASETS[dataset]))
    curve: list[dict] = []
    report_s = [0.0]
    started = [time.perf_counter()]
    epoch_model = EpochModel(split.train, 200) if test_curve and not validation_only else None

    def on_epoch(epoch, network, record):
        # Report-only test curve for "time to quality"; never used to select anything.
        entered = time.perf_counter()
        point = {"epoch": epoch, "elapsed_s": round(entered - started[0] - report_s[0], 1),
                 "epoch_s": round(record["time_s"], 1),
                 "val_ndcg@10": round(record.get("val_ndcg@10", float("nan")), 4)}
        if epoch_model is not None:
            epoch_model.network, epoch_model.max_len = network, network.max_len
            res = evaluate(epoch_model, split.test_input, split.test, protocol="full", ks=(10,))
            point["test_ndcg@10"] = round(res["NDCG@10"], 4)
        report_s[0] += time.perf_counter() - entered
        curve.append(point)
        print(json.dumps(point), flush=True)

    started[0] = time.perf_counter()
    out = train_and_evaluate(split, recipe, overrides, epoch_callback=on_epoch)
    estimator = out["recommender"].scorer.estimator
    row = {
        "dataset": dataset, "recipe": recipe, "overrides": overrides,
        "command": command_for(dataset, recipe, overrides), "date": today(),
        "machine": machine(),
        "params": {k: v for k, v in estimator.get_params().items() if k != "verbose"},
        "auto": out["recipe"].to_dict() if out["recipe"] is not None else None,
        "epochs_run": len(estimator.history_), "best_epoch": estimator.best_epoch_,
        "train_s": round(out["train_seconds"] - report_s[0], 1),
        "baselines": out["baselines"], "valid": out["valid"], "curve": curve,
    }
    if not validation_only:
        row.update(test=out["test"], verdict=out["verdict"])
    return row


def baselines_only(dataset: str) -> dict:
    """The baselines on the dataset's split (validation and test), no training."""
    from seqrec_trainer.evaluation import leave_one_out_split, load_interactions
    from seqrec_trainer.evaluation.baselines import fit_baselines
    from seqrec_trainer.evaluation.protocols import evaluate_many

    split = leave_one_out_split(load_interactions(SHARED_DATA / DATASETS[dataset]))
    row: dict = {"dataset": dataset, "recipe": "baselines", "date": today(),
                 "machine": machine(),
                 "command": f"python bench/quality.py --dataset {dataset} --baselines-only",
                 "valid": {}, "test": {}, "baselines": {}}
    for baseline in fit_baselines(split.train):
        row["baselines"][baseline.name] = baseline.description
        for stage, (inputs, targets) in (("valid", (split.valid_input, split.valid)),
                                         ("test", (split.test_input, split.test))):
            row[stage][baseline.name] = evaluate_many(baseline, inputs, targets,
                                                      ("full", "sampled"), (10,))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--recipe", default="auto",
                        help="auto, a preset name (ml-1m, sasrec-paper) or plain")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="override a recipe parameter (JSON value), e.g. epochs=5")
    parser.add_argument("--validation-only", action="store_true",
                        help="tuning mode: never touch the test item")
    parser.add_argument("--baselines-only", action="store_true",
                        help="only the baselines (no training)")
    parser.add_argument("--test-curve", action="store_true",
                        help="also rank the test item after every epoch (report-only; costs "
                        "a full-ranking pass per epoch)")
    parser.add_argument("--json", type=Path, default=None,
                        help="output (default bench/results/quality_<dataset>_<recipe>.json)")
    args = parser.parse_args()
    path = SHARED_DATA / DATASETS[args.dataset]
    if not path.exists():
        print(f"SKIP: {path} not found (../shared/data is research data, absent on fresh "
              "clones)")
        return 0
    if args.baselines_only:
        row = baselines_only(args.dataset)
        args.recipe = "baselines"
    else:
        row = run(args.dataset, args.recipe, parse_overrides(args.set), args.validation_only,
                  args.test_curve)
    suffix = "_tuning" if args.validation_only else ""
    out = args.json or Path("bench/results") / f"quality_{args.dataset}_{args.recipe}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=1))
    stage = "valid" if args.validation_only else "test"
    for name, res in row[stage].items():
        full, sampled = res["full"], res["sampled"]
        print(f"{stage} {name}: full NDCG@10 {full['NDCG@10']:.4f} HR@10 {full['HR@10']:.4f} | "
              f"sampled NDCG@10 {sampled['NDCG@10']:.4f} HR@10 {sampled['HR@10']:.4f}")
    if "train_s" in row:
        print(f"training {row['train_s'] / 60:.1f} min, {row['epochs_run']} epochs "
              f"(best {row['best_epoch']})")
    print(f"written to {out}")
    for line in row.get("verdict", []):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
