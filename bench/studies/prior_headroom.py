"""How far post-hoc levers on top of the item prior go, on the VALIDATION item only.

A former target was test sampled HR@10 >= 0.85; the ``ml-1m`` preset (network +
EASE prior) gets 0.8404 on the test item, and the test item has run about 0.025 below the
validation item in every session. This script asks what levers that need no new training
recipe could add on the validation item. It scores the validation users once per saved
model (trained on the training rows only, without a prior, like ``item_prior_grid.py``),
adds the preset's prior (EASE, ``--l2``, ``--weight``, whole history) and reports, as
means over the models and ``--seeds`` negative draws:

1. sampled HR@10 by training-history length for several prior weights (would a
   length-dependent weight help?);
2. one extra order-free signal added on top, row-standardised and scaled by ``w`` times
   the standard deviation of the preset's scores: user-kNN (cosine, 100 neighbours),
   RP3beta (beta 0.5), next-item transitions of the last five items (decayed), and
   log-popularity;
3. ensembles of ``k`` models (mean of their logits) plus the prior, over disjoint groups.

Run: ``python bench/studies/prior_headroom.py MODEL_DIR [MODEL_DIR ...] [--json OUT]`` on models
saved by ``bench/quality_ml1m.py --validation-only --save-model DIR``. Skips cleanly when
../shared/data is absent.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blend_analysis import FixedScores  # noqa: E402
from common import ml1m_missing  # noqa: E402
from item_prior_grid import (  # noqa: E402
    analysis_parser,
    indicator_rows,
    score_validation_users,
    whole_history_ease,
)

BUCKETS = ((0, 50), (50, 100), (100, 200), (200, 400), (400, None))


def standardised(m: np.ndarray) -> np.ndarray:
    return (m - m.mean(1, keepdims=True)) / (m.std(1, keepdims=True) + 1e-12)


def user_knn(h: np.ndarray, neighbours: int) -> np.ndarray:
    normed = h / np.sqrt(np.maximum(h.sum(1, keepdims=True), 1))
    sim = normed @ normed.T
    np.fill_diagonal(sim, 0)
    drop = np.argpartition(-sim, neighbours, axis=1)[:, neighbours:]
    np.put_along_axis(sim, drop, 0, axis=1)
    return sim @ h


def rp3beta(h: np.ndarray, beta: float) -> np.ndarray:
    user_to_item = h / np.maximum(h.sum(1, keepdims=True), 1)
    item_to_user = h.T / np.maximum(h.sum(0)[:, None], 1)
    walk = (item_to_user @ user_to_item) / np.maximum(h.sum(0), 1)[None, :] ** beta
    np.fill_diagonal(walk, 0)
    return h @ walk


def transitions(codes: np.ndarray, items: np.ndarray, n_users: int, n_items: int,
                from_end: np.ndarray) -> np.ndarray:
    """Row-normalised i -> j counts within 3 steps (weights 1, .5, .25), applied to each
    user's last five items with weights 1, .6, .36, .2, .13."""
    counts = np.zeros((n_items, n_items))
    for step, w in ((1, 1.0), (2, 0.5), (3, 0.25)):
        same = codes[:-step] == codes[step:]
        np.add.at(counts, (items[:-step][same] - 1, items[step:][same] - 1), w)
    counts /= np.maximum(counts.sum(1, keepdims=True), 1)
    out = np.zeros((n_users, n_items))
    for back, w in enumerate((1.0, 0.6, 0.36, 0.2, 0.13)):
        last = from_end == back
        out[codes[last]] += w * counts[items[last] - 1]
    return out


def main() -> int:
    parser = analysis_parser(__doc__)
    parser.add_argument("--l2", type=float, default=1000.0)
    parser.add_argument("--weight", type=float, default=5.0)
    args = parser.parse_args()
    if ml1m_missing():
        return 0
    from seqrec_trainer.evaluation.protocols import compute_ranks
    from seqrec_trainer.evaluation.split import positions_from_end

    data = score_validation_users(args.models)
    scores, user_ids, codes, items = data.scores, data.user_ids, data.codes, data.items
    n_users, n_items = len(user_ids), len(data.item_ids)
    lengths = np.bincount(codes, minlength=n_users)
    history = indicator_rows(user_ids, codes, items, n_items, None)
    prior = whole_history_ease(data, args.l2)
    results: dict[str, dict] = {}

    def evaluate(name: str, make: Callable[[np.ndarray], np.ndarray],
                 models: list[np.ndarray] | None = None) -> dict:
        hits, ndcg, by_bucket = [], [], np.zeros(len(BUCKETS))
        for s in scores if models is None else models:
            fixed = FixedScores(data.item_ids, user_ids, make(s))
            for seed in range(args.seeds):
                protocols = ("full", "sampled") if seed == 0 else ("sampled",)
                r = compute_ranks(fixed, data.split.valid_input, data.split.valid,
                                  protocols=protocols,
                                  random_state=seed)
                hit = r.ranks["sampled"] < 10
                hits.append(hit.mean())
                length = lengths[np.searchsorted(user_ids, r.user_ids)]
                for b, (low, high) in enumerate(BUCKETS):
                    inside = (length > low) & (length <= (high or length.max()))
                    by_bucket[b] += hit[inside].mean()
                if seed == 0:
                    full = r.ranks["full"]
                    ndcg.append(np.where(full < 10, 1 / np.log2(full + 2), 0.0).mean())
        out = {"sampled_hr": float(np.mean(hits)), "full_ndcg": float(np.mean(ndcg)),
               "hr_by_length": (by_bucket / len(hits)).tolist()}
        results[name] = out
        print(f"{name:32s} val sampled HR@10 {out['sampled_hr']:.4f}, full NDCG@10 "
              f"{out['full_ndcg']:.4f}; HR by length "
              + " ".join(f"{x:.4f}" for x in out["hr_by_length"]), flush=True)
        return out

    labels = ", ".join(f"{lo}-{hi}" if hi else f">{lo}" for lo, hi in BUCKETS)
    counts = [int(((lengths > lo) & (lengths <= (hi or lengths.max()))).sum())
              for lo, hi in BUCKETS]
    print(f"history-length buckets ({labels} items): {counts} users\n1. prior weight")
    for weight in sorted({0.0, 2.0, args.weight, 8.0, 12.0}):
        evaluate(f"prior weight {weight:g}", lambda s, w=weight: s + w * prior)

    print("2. one extra signal on top of the preset's prior")
    base_sd = float(np.mean([(s + args.weight * prior).std() for s in scores]))
    popularity = np.log1p(history.sum(0))
    signals = {
        "user-kNN": standardised(user_knn(history, 100)),
        "RP3beta": standardised(rp3beta(history, 0.5)),
        "transitions": standardised(transitions(codes, items, n_users, n_items,
                                                positions_from_end(codes))),
        "log-popularity": standardised(np.broadcast_to(popularity, history.shape)),
    }
    for name, signal in signals.items():
        for w in (0.02, 0.05, 0.1, 0.25):
            evaluate(f"{name} w={w:g}",
                     lambda s, x=signal, w=w: s + args.weight * prior + w * base_sd * x)

    print("3. ensembles (mean logits) + the preset's prior, disjoint groups")
    for k in range(2, len(scores) + 1):
        groups = [np.mean(scores[i:i + k], axis=0) for i in range(0, len(scores) - k + 1, k)]
        evaluate(f"ensemble of {k} ({len(groups)} groups)",
                 lambda s: s + args.weight * prior, models=groups)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
