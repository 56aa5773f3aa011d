"""Two networks of different recipes + the item prior, on the VALIDATION item only.

Session 8 found that averaging k networks *of the same recipe* adds +0.003 (k = 2) to
+0.006 (k = 6) validation sampled HR@10 on top of the prior. This script asks whether a
second network trained with a *different* loss or size complements the first better. The
first model is the base; for each other model it reports that model alone + the prior, and
the pair + the prior, the pair being the mean of the two models' per-user standardised
scores rescaled to the base's per-user spread (so the prior weight keeps its meaning).
With ``--together`` it also reports all the given models averaged the same way.

Run: ``python bench/mixed_pairs.py BASE_DIR OTHER_DIR [OTHER_DIR ...] [--json OUT]`` on
models saved by ``bench/quality_ml1m.py --validation-only --save-model DIR`` without a prior.
Validation sampled HR@10 is the mean over ``--seeds`` negative draws. Skips cleanly when
../shared/data is absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blend_analysis import FixedScores  # noqa: E402
from common import ml1m_missing  # noqa: E402
from item_prior_grid import analysis_parser, indicator_rows, score_validation_users  # noqa: E402
from prior_headroom import standardised  # noqa: E402


def main() -> int:
    parser = analysis_parser(__doc__)
    parser.add_argument("--l2", type=float, default=1000.0)
    parser.add_argument("--weight", type=float, default=5.0)
    parser.add_argument("--together", action="store_true",
                        help="also average all the given models (same standardisation)")
    args = parser.parse_args()
    if ml1m_missing():
        return 0
    from seqrec_trainer.evaluation.protocols import compute_ranks
    from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix

    data = score_validation_users(args.models)
    n_items = len(data.item_ids)
    history = indicator_rows(data.user_ids, data.codes, data.items, n_items, None)
    prior = args.weight * (history @ ease_matrix(
        cooccurrence_gram(data.codes, data.items, n_items), args.l2))

    def evaluate(scores: np.ndarray) -> dict:
        fixed = FixedScores(data.item_ids, data.user_ids, scores + prior)
        hits = []
        for seed in range(args.seeds):
            r = compute_ranks(fixed, data.split.valid_input, data.split.valid,
                              protocols=("full", "sampled") if seed == 0 else ("sampled",),
                              random_state=seed)
            hits.append(float((r.ranks["sampled"] < 10).mean()))
            if seed == 0:
                full = r.ranks["full"]
                ndcg = float(np.where(full < 10, 1 / np.log2(full + 2), 0.0).mean())
        return {"sampled_hr": float(np.mean(hits)), "full_ndcg": ndcg}

    base = data.scores[0]
    spread = base.std(1, keepdims=True)
    rows = [{"models": [str(args.models[0])], **evaluate(base)}]
    for path, other in zip(args.models[1:], data.scores[1:], strict=True):
        pair = (standardised(base) + standardised(other)) / 2 * spread
        rows.append({"models": [str(path)], **evaluate(other)})
        rows.append({"models": [str(args.models[0]), str(path)], **evaluate(pair)})
    if args.together:
        together = np.mean([standardised(s) for s in data.scores], axis=0) * spread
        rows.append({"models": [str(p) for p in args.models], **evaluate(together)})
    for row in rows:
        print(f"{' + '.join(row['models'])} + prior: val sampled HR@10 {row['sampled_hr']:.4f},"
              f" full NDCG@10 {row['full_ndcg']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
