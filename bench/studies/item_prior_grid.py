"""Grid over the item prior (EASE lambda, weight gamma, history span) on the VALIDATION item.

Scores the validation users once per saved model (trained on the training rows only,
without a prior), then adds ``gamma * (h @ B)`` post hoc, exactly what
``item_prior_weight=gamma, item_prior_l2=lambda`` computes (the prior never changes
training; ``tests/trainer/estimator/test_item_prior_estimator.py`` proves it). ``B`` is
fitted on the training rows with :func:`seqrec_trainer.model.item_prior.cooccurrence_gram`
and :func:`~seqrec_trainer.model.item_prior.ease_matrix`; ``h`` is the 0/1 indicator of
the user's whole training history (``full``, what the library does) or of its last
``max_len`` items (``window``, the transformer's input). With ``--ranks R1,R2,...`` the
grid is over the ``item_prior_kind="low_rank"`` prior instead
(:func:`~seqrec_trainer.model.item_prior.low_rank_ridge` with those ranks, seed 0).

Run: ``python bench/studies/item_prior_grid.py MODEL_DIR [MODEL_DIR ...] [--ranks 128,256]
[--json OUT]`` on models
saved by ``bench/quality_ml1m.py --validation-only --save-model DIR``. Prints one line per
(lambda, history, gamma) with the mean over models of the validation-item full-ranking
NDCG@10 and sampled HR@10 (negative seeds averaged), then a pivot table.
Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blend_analysis import FixedScores  # noqa: E402
from common import ML1M, ml1m_missing  # noqa: E402


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def indicator_rows(users: np.ndarray, codes: np.ndarray, items: np.ndarray, n_items: int,
                   last: int | None) -> np.ndarray:
    """0/1 ``(n_users, n_items)``: each user's items (rows already in time order per user),
    only the ``last`` most recent when given."""
    from seqrec_trainer.evaluation.split import positions_from_end

    out = np.zeros((len(users), n_items), dtype=np.float64)
    if last is not None:
        keep = positions_from_end(codes) < last
        codes, items = codes[keep], items[keep]
    out[codes, items - 1] = 1.0
    return out


@dataclass
class ValidationScores:
    """Saved models' scores of the validation users, and the rows they were scored from."""

    split: object  # seqrec_trainer.evaluation.split.LeaveOneOutSplit
    scores: list  # one (n_users, n_items) float64 matrix per model
    item_ids: np.ndarray
    user_ids: np.ndarray
    max_len: int
    codes: np.ndarray  # user code of each validation-input row, rows in time order per user
    items: np.ndarray  # item index 1..n_items of each row


def analysis_parser(description: str) -> argparse.ArgumentParser:
    """Arguments shared by the validation-item analyses of saved models."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=2, help="sampled-negative seeds")
    parser.add_argument("--json", type=Path, default=None, help="write the rows there")
    return parser


def score_validation_users(models: list[Path]) -> ValidationScores:
    """Score the ml-1m validation users with each saved model (all trained without a prior,
    on the same items and users)."""
    from seqrec_runtime.sequences import sort_order
    from seqrec_trainer import SequentialRecommender
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    split = leave_one_out_split(load_sasrec_txt(ML1M))
    scores, item_ids, user_ids, max_len = [], None, None, 0
    for path in models:
        rec = SequentialRecommender.load(path, device="cpu")
        if rec.scorer.estimator.uses_item_prior:
            raise SystemExit(f"{path} already has an item prior; pass models trained without")
        users, s = rec.score_items(split.valid_input, return_user_ids=True)
        if item_ids is None:
            item_ids, user_ids, max_len = rec.item_ids_, users, rec.max_len
        if not (np.array_equal(users, user_ids) and np.array_equal(rec.item_ids_, item_ids)):
            raise SystemExit(f"{path}: trained on other items or users than {models[0]}")
        scores.append(s.astype(np.float64))
    rows_in = split.valid_input
    codes = np.searchsorted(user_ids, np.asarray(rows_in["USER_ID"]))
    items = np.searchsorted(item_ids, np.asarray(rows_in["ITEM_ID"])) + 1
    order = sort_order(codes, np.asarray(rows_in["TIMESTAMP"]))
    return ValidationScores(split, scores, item_ids, user_ids, max_len, codes[order],
                            items[order])


def validation_metrics(data: ValidationScores, matrix: np.ndarray,
                       seeds: int) -> tuple[float, float]:
    """Full NDCG@10 and sampled HR@10 (mean over ``seeds`` negative draws) of the score
    ``matrix`` (rows in ``data.user_ids`` order) on the validation item."""
    from seqrec_trainer.evaluation import evaluate_many

    model = FixedScores(data.item_ids, data.user_ids, matrix)
    hr = []
    for seed in range(seeds):
        protocols = ("full", "sampled") if seed == 0 else ("sampled",)
        r = evaluate_many(model, data.split.valid_input, data.split.valid, protocols=protocols,
                          ks=(10,), random_state=seed)
        if seed == 0:
            ndcg = r["full"]["NDCG@10"]
        hr.append(r["sampled"]["HR@10"])
    return ndcg, float(np.mean(hr))


def whole_history_ease(data: ValidationScores, l2: float) -> np.ndarray:
    """The EASE prior term of every validation user: their whole training history's
    indicator times the EASE matrix fitted on those histories (weight 1)."""
    from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix

    n_items = len(data.item_ids)
    history = indicator_rows(data.user_ids, data.codes, data.items, n_items, None)
    return history @ ease_matrix(cooccurrence_gram(data.codes, data.items, n_items), l2)


def pivot(rows: list[dict], gammas: list[float]) -> str:
    head = " | ".join(f"γ = {g:g}" for g in gammas)
    lines = [f"| λ | history | prior | {head} |", "|---|---|---|" + "---|" * len(gammas)]

    def key(r: dict) -> tuple:
        return r["l2"], r["history"], r["rank"] or 0

    for k in sorted({key(r) for r in rows if r["gamma"] > 0}):
        cells = []
        for g in gammas:
            r = next(x for x in rows if key(x) == k and x["gamma"] == g)
            cells.append(f"{r['sampled_hr']:.4f} / {r['full_ndcg']:.4f}")
        prior = f"low-rank r={k[2]}" if k[2] else "EASE"
        lines.append(f"| {k[0]:g} | {k[1]} | {prior} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = analysis_parser(__doc__)
    parser.add_argument("--lambdas", type=floats, default=floats("100,300,1000,3000"))
    parser.add_argument("--gammas", type=floats, default=floats("1,2,3,5,8,12"))
    parser.add_argument("--histories", default="window,full")
    parser.add_argument("--ranks", type=lambda t: [int(x) for x in t.split(",")], default=[],
                        help="grid over the low_rank prior with these ranks (default: EASE)")
    args = parser.parse_args()
    if ml1m_missing():
        return 0
    from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix, low_rank_ridge

    data = score_validation_users(args.models)
    scores, item_ids, user_ids = data.scores, data.item_ids, data.user_ids
    codes, items, max_len = data.codes, data.items, data.max_len
    n_items = len(item_ids)
    longer = int((np.bincount(codes) > max_len).sum())
    print(f"{longer} of {len(user_ids)} users ({100 * longer / len(user_ids):.1f} %) have more "
          f"than max_len={max_len} training items", flush=True)
    gram = None if args.ranks else cooccurrence_gram(codes, items, n_items)
    spans = {"full": None, "window": max_len}
    indicators = {h: indicator_rows(user_ids, codes, items, n_items, spans[h])
                  for h in args.histories.split(",")}

    rows = []

    def record(l2: float, history: str, gamma: float, prior: np.ndarray | None,
               rank: int | None = None) -> None:
        results = [validation_metrics(data, s if prior is None else s + gamma * prior,
                                      args.seeds) for s in scores]
        row = {"l2": l2, "history": history, "gamma": gamma, "rank": rank,
               "full_ndcg": float(np.mean([r[0] for r in results])),
               "sampled_hr": float(np.mean([r[1] for r in results]))}
        rows.append(row)
        print(f"lambda={l2:g} history={history} rank={rank} gamma={gamma:g}: full NDCG@10 "
              f"{row['full_ndcg']:.4f}, sampled HR@10 {row['sampled_hr']:.4f}", flush=True)

    record(0.0, "-", 0.0, None)
    for l2 in args.lambdas:
        for rank in args.ranks or [None]:
            if rank is None:
                weights = ease_matrix(gram, l2)
            else:
                factors, shrink = low_rank_ridge(codes, items, n_items, rank, l2, seed=0)
            for history, indicator in indicators.items():
                prior = (indicator @ weights if rank is None  # low rank: diagonal removed
                         else ((indicator @ factors) * shrink) @ factors.T
                         - indicator * ((factors * factors) @ shrink))
                for gamma in args.gammas:
                    record(l2, history, gamma, prior, rank)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(f"\nvalidation item, mean of {len(scores)} model(s): sampled HR@10 / full NDCG@10; "
          f"without prior {rows[0]['sampled_hr']:.4f} / {rows[0]['full_ndcg']:.4f}\n")
    print(pivot(rows, args.gammas))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
