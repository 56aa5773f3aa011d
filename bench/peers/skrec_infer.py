"""scikit-rec 0.4.2 inference speed, for ``bench/inference.py`` (run in the scikit-rec venv).

Builds an ML-1M-sized SASRec through the public ``train()`` with ``epochs=0`` (random
initial weights: scores do not matter for speed; the item vocabulary, the model and all
inference code paths are the real ones), then times its closest calls to seqrec's:

* one user: ``recommender.recommend(interactions=<that user's 200 rows>, top_k=10)``
  (scikit-rec's ``recommend_online`` raises ``NotImplementedError`` for SASRec);
* a batch: ``recommender.recommend(interactions=<all rows of N users>, top_k=10)``.

Users: the first users (ascending USER_ID) with at least ``max_len`` rows, their last
``max_len`` rows by TIMESTAMP; the same rule as ``bench/inference.py``.
"""

from __future__ import annotations

import argparse
import pickle
import sys as _sys
import time
from pathlib import Path as _Path

import numpy as np

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # bench/common.py
from common import emit  # noqa: E402


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q * 100))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--pool", type=int, default=50, help="distinct single users")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100, help="single-user calls per round")
    parser.add_argument("--batch-users", type=int, default=None, help="default: all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--save-pickle", default=None)
    parser.add_argument("--threads", default="auto",
                        help="torch threads: an int, or 'auto' = whichever of the default and "
                             "1 is faster on a short probe (reported)")
    args = parser.parse_args()

    import pandas as pd
    import torch
    from skrec.dataset.interactions_dataset import InteractionsDataset
    from skrec.estimator.sequential.sasrec_estimator import SASRecClassifierEstimator
    from skrec.recommender.sequential.sequential_recommender import SequentialRecommender
    from skrec.scorer.sequential import SequentialScorer

    estimator = SASRecClassifierEstimator(
        hidden_units=args.hidden, num_blocks=args.blocks, num_heads=1, dropout_rate=0.2,
        max_len=args.max_len, epochs=0, batch_size=128, random_state=0,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=args.max_len)
    started = time.perf_counter()
    recommender.train(interactions_ds=InteractionsDataset(data_location=args.data))
    build_s = time.perf_counter() - started
    if args.save_pickle:
        with open(args.save_pickle, "wb") as fh:
            pickle.dump(recommender, fh)

    df = pd.read_parquet(args.data, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    df = df.sort_values(["USER_ID", "TIMESTAMP"], kind="stable")
    counts = df.groupby("USER_ID").size()
    pool_users = counts.index[counts >= args.max_len][: args.pool]
    single = [df[df.USER_ID == u].tail(args.max_len).reset_index(drop=True) for u in pool_users]

    users = np.sort(df.USER_ID.unique())
    if args.batch_users:
        users = users[: args.batch_users]
    batch_df = df[df.USER_ID.isin(users)].sample(frac=1.0, random_state=0)  # unsorted rows

    default_threads = torch.get_num_threads()
    probe = {}
    if args.threads == "auto":
        probe_df = batch_df[batch_df.USER_ID.isin(users[:300])]
        for threads in sorted({default_threads, 1}):
            torch.set_num_threads(threads)
            recommender.recommend(interactions=single[0], top_k=10)
            t0 = time.perf_counter()
            for frame in single[:5]:
                recommender.recommend(interactions=frame, top_k=10)
            t1 = time.perf_counter()
            recommender.recommend(interactions=probe_df, top_k=10)
            probe[threads] = {"single_s": (t1 - t0) / 5, "batch300_s": time.perf_counter() - t1}
        threads = min(probe, key=lambda t: probe[t]["single_s"] + probe[t]["batch300_s"] / 300)
    else:
        threads = int(args.threads)
    torch.set_num_threads(threads)

    for frame in single[:3]:  # warm-up
        recommender.recommend(interactions=frame, top_k=10)
    rounds = []
    for _ in range(args.rounds):
        lat = []
        for i in range(args.calls):
            frame = single[i % len(single)]
            t0 = time.perf_counter()
            recommender.recommend(interactions=frame, top_k=10)
            lat.append(time.perf_counter() - t0)
        rounds.append({"p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
                       "mean": float(np.mean(lat))})

    batch_s = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        recs = recommender.recommend(interactions=batch_df, top_k=10)
        batch_s.append(time.perf_counter() - t0)
    emit({
        "build_s": build_s, "single_rounds": rounds, "batch_s": batch_s,
        "batch_users": int(len(users)), "batch_rows": int(len(batch_df)),
        "recs_shape": list(recs.shape), "n_items": int(estimator.num_items),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "torch_default_threads": default_threads, "thread_probe": probe,
        "pandas": pd.__version__,
    })


if __name__ == "__main__":
    main()
