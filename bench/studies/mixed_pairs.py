"""Two networks of different recipes + the item prior, on the VALIDATION item only.

``prior_headroom.py`` found that averaging k networks *of the same recipe* adds +0.003 (k = 2) to
+0.006 (k = 6) validation sampled HR@10 on top of the prior. This script asks whether a
second network trained with a *different* loss or size complements the first better. The
first model is the base; for each other model it reports that model alone + the prior, and
the pair + the prior, the pair being the mean of the two models' per-user standardised
scores rescaled to the base's per-user spread (so the prior weight keeps its meaning).
With ``--together`` it also reports all the given models averaged the same way.

Run: ``python bench/studies/mixed_pairs.py BASE_DIR OTHER_DIR [OTHER_DIR ...] [--json OUT]`` on
models saved by ``bench/quality_ml1m.py --validation-only --save-model DIR`` without a prior.
Validation sampled HR@10 is the mean over ``--seeds`` negative draws. Skips cleanly when
../shared/data is absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import ml1m_missing  # noqa: E402
from item_prior_grid import (  # noqa: E402
    analysis_parser,
    score_validation_users,
    validation_metrics,
    whole_history_ease,
)
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
    data = score_validation_users(args.models)
    prior = args.weight * whole_history_ease(data, args.l2)

    def evaluate(models: list[Path], scores: np.ndarray) -> dict:
        ndcg, hr = validation_metrics(data, scores + prior, args.seeds)
        return {"models": [str(m) for m in models], "sampled_hr": hr, "full_ndcg": ndcg}

    base, first = data.scores[0], args.models[0]
    spread, base_z = base.std(1, keepdims=True), standardised(base)
    rows = [evaluate([first], base)]
    for path, other in zip(args.models[1:], data.scores[1:], strict=True):
        rows.append(evaluate([path], other))
        rows.append(evaluate([first, path], (base_z + standardised(other)) / 2 * spread))
    if args.together:
        together = np.mean([standardised(s) for s in data.scores], axis=0) * spread
        rows.append(evaluate(args.models, together))
    for row in rows:
        print(f"{' + '.join(row['models'])} + prior: val sampled HR@10 {row['sampled_hr']:.4f},"
              f" full NDCG@10 {row['full_ndcg']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
