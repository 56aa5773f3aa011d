"""Table and figure from ``bench/quality.py``'s results: quality beside training time.

Run: ``python bench/quality_report.py`` after the ``bench/quality.py`` runs (``make
bench-quality`` runs both). Reads ``bench/results/quality_<dataset>_<recipe>.json``, prints
the Markdown table (model and baselines side by side, full ranking and sampled 1+100) and
writes ``docs/img/quality_vs_training_time.png``: per dataset, the validation NDCG@10 of
the network after each epoch against training time, the final model (item prior
included) and the baselines as reference lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path("bench/results")
FIGURE = Path("docs/img/quality_vs_training_time.png")
ORDER = ("ml-1m", "ml-1m-timestamps", "ml-latest-small", "beauty")


def load_rows(results: Path) -> list[dict]:
    """Every non-tuning result file, in :data:`ORDER` of datasets."""
    rows = [json.loads(p.read_text()) for p in sorted(results.glob("quality_*.json"))
            if not p.stem.endswith("_tuning") and p.stem.count("_") >= 2]
    rows = [r for r in rows if r.get("dataset") in ORDER]
    return sorted(rows, key=lambda r: (ORDER.index(r["dataset"]), r["recipe"]))


def time_to_quality(row: dict, share: float = 0.95) -> str:
    """Training time until validation NDCG@10 first reached ``share`` of its best."""
    curve = [p for p in row.get("curve", []) if p.get("val_ndcg@10") == p.get("val_ndcg@10")]
    if not curve:
        return "—"
    best = max(p["val_ndcg@10"] for p in curve)
    first = next(p for p in curve if p["val_ndcg@10"] >= share * best)
    return f"{first['elapsed_s'] / 60:.1f} min (epoch {first['epoch']})"


def _pair(result: dict) -> str:
    return f"{result['NDCG@10']:.4f} / {result['HR@10']:.4f}"


def as_misses(result: dict) -> dict:
    """NDCG@10 and HR@10 over every test user, those whose target item never occurs in the
    training rows counted as misses (how the published Beauty numbers count them); the
    evaluation itself leaves such users out."""
    unknown = result.get("n_skipped_unknown_target", 0)
    share = result["n_users"] / (result["n_users"] + unknown)
    return {"NDCG@10": result["NDCG@10"] * share, "HR@10": result["HR@10"] * share}


def _model_cell(result: dict) -> str:
    if not result.get("n_skipped_unknown_target"):
        return _pair(result)
    return f"{_pair(result)} ({_pair(as_misses(result))} counting unknown targets as misses)"


def _baseline(test: dict, name: str) -> str:
    """A baseline's pair, or a dash for results written before it existed."""
    return _pair(test[name]["full"]) if name in test else "—"


def render(rows: list[dict]) -> str:
    """Markdown table, one row per result file, then each row's command."""
    lines = [
        "| data | recipe | model full NDCG@10 / HR@10 | popularity | item-item | transitions "
        "| model sampled NDCG@10 / HR@10 | training time | epochs (best) | time to 95 % of "
        "best validation NDCG@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        test = r["test"]
        model = test.get("model")
        sets = ", ".join(f"{k}={json.dumps(v)}" for k, v in r.get("overrides", {}).items())
        recipe = f"`{r['recipe']}`" + (f" ({sets})" if sets else "")
        lines.append(
            f"| {r['dataset']} | {recipe} | {_model_cell(model['full']) if model else '—'} | "
            f"{_pair(test['popularity']['full'])} | {_pair(test['item-item']['full'])} | "
            f"{_baseline(test, 'transitions')} | "
            f"{_pair(model['sampled']) if model else '—'} | "
            + (f"{r['train_s'] / 60:.1f} min | {r['epochs_run']} ({r['best_epoch']}) | "
               f"{time_to_quality(r)} |" if model else "— | — | — |")
        )
    lines += ["", "Commands (one per row):", ""]
    lines += [f"- {r['dataset']}: `{r['command']}` ({r['date']}, {r['machine']})" for r in rows]
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Validation NDCG@10 against training time, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = [r for r in rows if r.get("curve")]
    if not trained:
        return
    fig, axes = plt.subplots(1, len(trained), figsize=(4.2 * len(trained), 3.4), squeeze=False)
    for ax, r in zip(axes[0], trained, strict=True):
        minutes = [p["elapsed_s"] / 60 for p in r["curve"]]
        ax.plot(minutes, [p["val_ndcg@10"] for p in r["curve"]], "o-", ms=3,
                label=f"{r['recipe']}: network, per epoch")
        final = r["valid"]["model"]["full"]["NDCG@10"]
        ax.plot([r["train_s"] / 60], [final], "*", ms=11, label="final model (with prior)")
        for name, style in (("popularity", ":"), ("item-item", "--"), ("transitions", "-.")):
            if name not in r["valid"]:
                continue
            ax.axhline(r["valid"][name]["full"]["NDCG@10"], ls=style, c="gray", label=name)
        sets = ", ".join(f"{k}={v}" for k, v in r.get("overrides", {}).items())
        ax.set_title(r["dataset"] + (f" ({sets})" if sets else ""), fontsize=9)
        ax.set_xlabel("training time, min (CPU, see BENCHMARKS.md)")
        ax.set_ylabel("validation NDCG@10 (full ranking)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--figure", type=Path, default=FIGURE)
    args = parser.parse_args()
    rows = load_rows(args.results)
    if not rows:
        print(f"SKIP: no bench/quality.py results under {args.results}")
        return 0
    print(render(rows))
    plot(rows, args.figure)
    print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
