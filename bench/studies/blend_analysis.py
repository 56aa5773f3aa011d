"""Post-hoc analysis of saved ml-1m models on the VALIDATION item (never the test item).

Scores the validation users once per saved model, then evaluates both protocols for
(a) each model, (b) each model mixed with the training popularity in probability space,
``log((1 - a) * softmax(s) + a * popularity)``, for a grid of ``a``, and (c) ensembles
(mean of log-softmax over models), optionally mixed the same way.

Run: ``python bench/studies/blend_analysis.py MODEL_DIR [MODEL_DIR ...] [--alphas 0,0.01,...]
[--seeds 3] [--no-ensembles]``, on models saved by ``bench/quality_ml1m.py --validation-only
--save-model DIR`` (or ``SAVE_MODELS=1 bench/studies/gpu_tuning.sh``), which are trained on the
training rows only. ``--seeds`` averages the sampled protocol over that many negative draws.
Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import ML1M, ml1m_missing  # noqa: E402


def log_softmax(s: np.ndarray) -> np.ndarray:
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


class FixedScores:
    """Duck-typed model over a precomputed score matrix (rows in ``user_ids`` order)."""

    def __init__(self, item_ids, user_ids, scores) -> None:
        self.item_ids_ = item_ids
        self.user_ids = user_ids
        self.scores = scores
        self.row = {u: i for i, u in enumerate(user_ids.tolist())}

    def score_items(self, interactions, return_user_ids=False):
        users = np.unique(interactions["USER_ID"])
        rows = np.array([self.row[u] for u in users.tolist()])
        out = self.scores[rows]
        return (users, out) if return_user_ids else out


def mix(logp: np.ndarray, popularity: np.ndarray, alpha: float) -> np.ndarray:
    if alpha == 0:
        return logp
    return np.log((1 - alpha) * np.exp(logp) + alpha * popularity[None, :])


def summarize(rows: list[dict]) -> str:
    """Markdown: the mean over the single models per ``a``, then each ensemble per ``a``."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        kind = r["name"] if r["name"].startswith("ensemble") else "single model"
        groups.setdefault((kind, r["alpha"]), []).append(r)
    lines = [
        "| models | a | n | val item full NDCG@10 / HR@10 | val item sampled NDCG@10 / HR@10 |",
        "|---|---|---|---|---|",
    ]
    singles_first = sorted(groups, key=lambda key: (key[0] != "single model", key))
    for kind, alpha in singles_first:
        group = groups[kind, alpha]

        def mean(key: str, group: list[dict] = group) -> float:
            return float(np.mean([r[key] for r in group]))

        lines.append(f"| {kind} | {alpha:g} | {len(group)} | {mean('full_ndcg'):.4f} / "
                     f"{mean('full_hr'):.4f} | {mean('sampled_ndcg'):.4f} / "
                     f"{mean('sampled_hr'):.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="only print the summary table of earlier --json outputs")
    parser.add_argument("--alphas", default="0,0.001,0.003,0.01,0.03,0.1")
    parser.add_argument("--seeds", type=int, default=1, help="sampled-negative seeds")
    parser.add_argument("--no-ensembles", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.from_json:
        print(summarize([r for f in args.from_json for r in json.loads(f.read_text())]))
        return 0
    if not args.models:
        parser.error("give MODEL_DIR arguments or --from-json")
    from seqrec_trainer import SequentialRecommender
    from seqrec_trainer.evaluation import evaluate_many, leave_one_out_split, load_sasrec_txt

    if ml1m_missing():
        return 0
    split = leave_one_out_split(load_sasrec_txt(ML1M))
    alphas = [float(a) for a in args.alphas.split(",")]
    logps, item_ids, user_ids, popularity = [], None, None, None
    for path in args.models:
        rec = SequentialRecommender.load(path, device="cpu")
        users, scores = rec.score_items(split.valid_input, return_user_ids=True)
        if item_ids is None:
            item_ids, user_ids = rec.item_ids_, users
            popularity = rec.scorer.popularity_.astype(np.float64)
        if not (np.array_equal(users, user_ids) and np.array_equal(rec.item_ids_, item_ids)):
            raise SystemExit(f"{path}: trained on other items or users than {args.models[0]}")
        logps.append(log_softmax(scores.astype(np.float64)))
    rows = []

    def report(name: str, logp: np.ndarray) -> None:
        for alpha in alphas:
            model = FixedScores(item_ids, user_ids, mix(logp, popularity, alpha))
            # full ranking does not depend on the negative seed: computed with seed 0 only
            sampled = []
            for seed in range(args.seeds):
                protocols = ("full", "sampled") if seed == 0 else ("sampled",)
                r = evaluate_many(model, split.valid_input, split.valid, protocols=protocols,
                                  ks=(10,), random_state=seed)
                if seed == 0:
                    full = r["full"]
                sampled.append(r["sampled"])
            res = {
                "name": name, "alpha": alpha,
                "full_ndcg": full["NDCG@10"], "full_hr": full["HR@10"],
                "sampled_ndcg": float(np.mean([x["NDCG@10"] for x in sampled])),
                "sampled_hr": float(np.mean([x["HR@10"] for x in sampled])),
            }
            rows.append(res)
            print(f"{name:28s} a={alpha:<6g} full {res['full_ndcg']:.4f} / {res['full_hr']:.4f}"
                  f"  sampled {res['sampled_ndcg']:.4f} / {res['sampled_hr']:.4f}", flush=True)

    for path, logp in zip(args.models, logps, strict=True):
        report(f"{path.parent.name}/{path.name}", logp)
    for k in range(2, 1 if args.no_ensembles else len(logps) + 1):
        report(f"ensemble of {k}", np.mean(logps[:k], axis=0))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
