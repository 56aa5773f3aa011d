"""Session 12 screen: a user-ID embedding (SSE-PT style) on the VALIDATION item only.

Trains the ``ml-1m`` preset (no prior during training, seed 0) with ``user_embedding=True``
and the given ``user_dropout``, then scores the validation users twice: with their own
user row and with the unknown-user row (row 0, what a user unseen in training gets), and
adds the preset's EASE prior (lambda 1000, whole history) post hoc with gamma 0, 2, 5, 8.
Sampled HR@10 is the mean over negative seeds 0-1; full NDCG@10 removes seen items.
The test item is never read. Writes the rows to ``--json`` and the own-row validation
scores to ``--scores`` (``.npy``) for pairing with other networks.

Run: ``python bench/user_embedding_screen.py --user-dropout 0.1 --json OUT.json
--scores OUT.npy``. Skips cleanly when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ML1M, ml1m_missing  # noqa: E402
from item_prior_grid import ValidationScores, validation_metrics, whole_history_ease  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user-dropout", type=float, required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--scores", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    if ml1m_missing():
        return 0
    import torch
    from seqrec_runtime.sequences import sort_order
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from seqrec_trainer.evaluation import leave_one_out_split, load_sasrec_txt

    split = leave_one_out_split(load_sasrec_txt(ML1M))
    overrides = {"random_state": 0, "verbose": 0, "item_prior_weight": 0,
                 "user_embedding": True, "user_dropout": args.user_dropout}
    if args.epochs:
        overrides["epochs"] = args.epochs
    estimator = SASRecClassifierEstimator.from_preset("ml-1m", **overrides)
    started = time.perf_counter()

    def on_epoch(epoch, network, record):
        print(json.dumps({"epoch": epoch, "elapsed_s": round(time.perf_counter() - started, 1),
                          "epoch_s": round(record["time_s"], 1),
                          "val_ndcg@10": round(record["val_ndcg@10"], 4)}), flush=True)

    estimator.epoch_callbacks = [on_epoch]
    rec = SequentialRecommender(SequentialScorer(estimator), max_len=estimator.max_len)
    rec.train(interactions_ds=InteractionsDataset(split.train),
              valid_interactions_ds=InteractionsDataset(split.valid))
    wall = time.perf_counter() - started

    # validation users scored by the normal path: no user id reaches it, so row 0
    user_ids, unknown = rec.score_items(split.valid_input, return_user_ids=True)
    item_ids = rec.item_ids_
    rows_in = split.valid_input
    codes = np.searchsorted(user_ids, np.asarray(rows_in["USER_ID"]))
    items = np.searchsorted(item_ids, np.asarray(rows_in["ITEM_ID"])) + 1
    order = sort_order(codes, np.asarray(rows_in["TIMESTAMP"]))
    codes, items = codes[order], items[order]
    data = ValidationScores(split, [], item_ids, user_ids, estimator.max_len, codes, items)

    # own user rows: the same windows, with the user's row of the trained table
    trained_users = np.unique(np.asarray(split.train["USER_ID"]))
    user_index = np.searchsorted(trained_users, user_ids) + 1
    assert np.array_equal(trained_users[user_index - 1], user_ids)
    width = estimator.max_len
    counts = np.bincount(codes, minlength=len(user_ids))
    ends = np.cumsum(counts)
    from_end = ends[codes] - 1 - np.arange(len(codes))
    keep = from_end < width
    windows = np.zeros((len(user_ids), width), dtype=np.int64)
    windows[codes[keep], width - 1 - from_end[keep]] = items[keep]
    network = estimator.network_.eval()
    own = np.empty((len(user_ids), len(item_ids)), dtype=np.float64)
    with torch.no_grad():
        weights = network.item_weights()
        for start in range(0, len(user_ids), 512):
            stop = start + 512
            h = network.encode_last(torch.as_tensor(windows[start:stop]),
                                    torch.as_tensor(user_index[start:stop]))
            own[start:stop] = (h @ weights.T).double().numpy()
    # row 0 for everyone, computed the same way, must equal the normal scoring path
    with torch.no_grad():
        h0 = network.encode_last(torch.as_tensor(windows[:256]))
        check = (h0 @ network.item_weights().T).double().numpy()
    assert np.allclose(check, unknown[:256], atol=1e-3), "window rebuild differs from scorer"

    prior = whole_history_ease(data, 1000.0)
    results = {"user_dropout": args.user_dropout, "wall_s": round(wall, 1),
               "best_epoch": estimator.best_epoch_,
               "best_val_ndcg@10": round(max(h["val_ndcg@10"] for h in estimator.history_), 4),
               "rows": []}
    for label, scores in (("own user row", own), ("unknown-user row", unknown.astype(np.float64))):
        for gamma in (0.0, 2.0, 5.0, 8.0):
            ndcg, hr = validation_metrics(data, scores + gamma * prior, 2)
            results["rows"].append({"scores": label, "gamma": gamma, "sampled_hr": hr,
                                    "full_ndcg": ndcg})
            print(f"{label}, prior gamma {gamma:g}: validation sampled HR@10 {hr:.4f}, "
                  f"full NDCG@10 {ndcg:.4f}", flush=True)
    args.json.write_text(json.dumps(results, indent=1))
    if args.scores is not None:
        np.save(args.scores, own)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
