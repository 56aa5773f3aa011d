"""How much a BCE head adds on top of the item prior, on the VALIDATION item only.

Models trained with ``bce_head_weight > 0`` (a second, untied output table trained by the
sampled BCE loss beside the full-softmax loss) score ``a + beta * m(b)``: ``a`` the main
scores, ``b`` the BCE head's, ``m`` centring ``b`` per user and rescaling it to the spread
of ``a``. ``bce_head_blend`` is ``beta``, applied at scoring time only, so one trained model
answers every ``beta``. This script scores the validation users of each saved model (trained
with ``item_prior_weight=0``) at ``beta = 0`` and ``1``, derives every other ``beta`` from the
two, adds the ``ml-1m`` preset's prior (EASE, ``--l2``, ``--weight``) and prints validation
sampled HR@10 (mean over ``--seeds`` negative draws) and full NDCG@10 per model and ``beta``.
Models without a head are reported at ``beta = 0`` only (the baseline rows).

Run: ``python bench/bce_head_blend.py MODEL_DIR [MODEL_DIR ...] [--json OUT]`` on models
saved by ``bench/quality_ml1m.py --validation-only --save-model DIR`` (``bench/gpu_tuning.sh``
with ``SAVE_MODELS=1``). Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blend_analysis import FixedScores  # noqa: E402
from common import ML1M, ml1m_missing  # noqa: E402
from item_prior_grid import analysis_parser, indicator_rows  # noqa: E402

BETAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def main() -> int:
    parser = analysis_parser(__doc__)
    parser.add_argument("--l2", type=float, default=1000.0)
    parser.add_argument("--weight", type=float, default=5.0)
    args = parser.parse_args()
    if ml1m_missing():
        return 0
    from seqrec_runtime.sequences import sort_order
    from seqrec_trainer import SequentialRecommender
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt
    from seqrec_trainer.evaluation.protocols import compute_ranks
    from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix

    split = leave_one_out_split(load_sasrec_txt(ML1M))
    prior = None
    rows = []
    for path in args.models:
        rec = SequentialRecommender.load(path, device="cpu")
        network = rec.scorer.estimator.network_
        if network.has_item_prior:
            raise SystemExit(f"{path} already has an item prior; pass models trained without")
        head = network.bce_item_weights is not None
        parts = []
        for beta in ((0.0, 1.0) if head else (0.0,)):
            if head:
                network.bce_head_blend.fill_(beta)
            users, s = rec.score_items(split.valid_input, return_user_ids=True)
            parts.append(s.astype(np.float64))
        if prior is None:
            item_ids = rec.item_ids_
            codes = np.searchsorted(users, np.asarray(split.valid_input["USER_ID"]))
            items = np.searchsorted(item_ids, np.asarray(split.valid_input["ITEM_ID"])) + 1
            order = sort_order(codes, np.asarray(split.valid_input["TIMESTAMP"]))
            codes, items = codes[order], items[order]
            history = indicator_rows(users, codes, items, len(item_ids), None)
            prior = history @ ease_matrix(cooccurrence_gram(codes, items, len(item_ids)),
                                          args.l2)
        for beta in (BETAS if head else (0.0,)):
            scores = parts[0] + (beta * (parts[1] - parts[0]) if head else 0.0)
            fixed = FixedScores(rec.item_ids_, users, scores + args.weight * prior)
            hits = []
            for seed in range(args.seeds):
                r = compute_ranks(fixed, split.valid_input, split.valid,
                                  protocols=("full", "sampled") if seed == 0 else ("sampled",),
                                  random_state=seed)
                hits.append(float((r.ranks["sampled"] < 10).mean()))
                if seed == 0:
                    full = r.ranks["full"]
                    ndcg = float(np.where(full < 10, 1 / np.log2(full + 2), 0.0).mean())
            row = {"model": str(path), "beta": beta, "sampled_hr": float(np.mean(hits)),
                   "full_ndcg": ndcg}
            rows.append(row)
            print(f"{path}  beta {beta:<4g} val sampled HR@10 {row['sampled_hr']:.4f}, "
                  f"full NDCG@10 {ndcg:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
