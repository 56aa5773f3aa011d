"""``make demo``: the main job end to end on the embedded synthetic dataset.

Generates sequentially structured interactions, splits them leave-one-out, trains SASRec
with validation and early stopping, compares it with a popularity baseline on the held-out
items, saves the model, exports the ONNX artifact and recommends through the torch-free
runtime, checking that both agree.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np


def _popularity_baseline(split, ks=(10,)) -> dict:
    from seqrec_trainer.evaluation import evaluate

    class Popularity:
        def __init__(self, table):
            self.item_ids_, counts = np.unique(table["ITEM_ID"], return_counts=True)
            self._scores = (counts / counts.sum()).astype(np.float32)

        def score_items(self, interactions, return_user_ids=False):
            users = np.unique(interactions["USER_ID"])
            scores = np.tile(self._scores, (len(users), 1))
            return (users, scores) if return_user_ids else scores

    return evaluate(Popularity(split.train), split.test_input, split.test, protocol="full", ks=ks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("demo_output"))
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import seqrec_runtime
    from seqrec_export import export_onnx

    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from seqrec_trainer.datasets import make_sequential_interactions
    from seqrec_trainer.evaluation import evaluate, leave_one_out_split

    t0 = time.perf_counter()
    data = make_sequential_interactions(n_users=args.users, n_items=300, random_state=0)
    split = leave_one_out_split(data)
    print(f"[1/5] synthetic data: {len(data['USER_ID']):,} interactions, "
          f"{len(np.unique(data['USER_ID'])):,} users, {len(np.unique(data['ITEM_ID']))} items; "
          f"leave-one-out split (train / validation item / test item)")

    estimator = SASRecClassifierEstimator(
        hidden_units=64, num_blocks=2, max_len=50, loss_fn_name="ce", epochs=args.epochs,
        early_stopping_patience=5, monitor="val_ndcg@10", random_state=0,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=50)
    started = time.perf_counter()
    recommender.train(interactions_ds=InteractionsDataset(split.train),
                      valid_interactions_ds=InteractionsDataset(split.valid))
    best = estimator.history_[(estimator.best_epoch_ or len(estimator.history_)) - 1]
    print(f"[2/5] trained SASRec (ce loss) in {time.perf_counter() - started:.0f}s: "
          f"{len(estimator.history_)} epochs, best epoch {estimator.best_epoch_} "
          f"(validation NDCG@10 {best['val_ndcg@10']:.3f})")

    model_quality = evaluate(recommender, split.test_input, split.test, protocol="full", ks=(10,))
    baseline = _popularity_baseline(split)
    print(f"[3/5] held-out test items, full ranking: SASRec HR@10 {model_quality['HR@10']:.3f} "
          f"NDCG@10 {model_quality['NDCG@10']:.3f} | popularity HR@10 {baseline['HR@10']:.3f} "
          f"NDCG@10 {baseline['NDCG@10']:.3f}")

    model_dir, artifact_dir = args.output / "model", args.output / "artifact"
    recommender.save(model_dir)
    export_onnx(model_dir, artifact_dir)
    print(f"[4/5] saved {model_dir} and exported {artifact_dir} (validated against torch)")

    runtime = seqrec_runtime.load(artifact_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        users, via_runtime = runtime.recommend(split.test_input, top_k=5, exclude_seen=True,
                                               return_user_ids=True)
        via_torch = recommender.recommend(split.test_input, top_k=5, exclude_seen=True)
    same = float(np.mean(np.all(via_runtime == via_torch, axis=1)))
    print(f"[5/5] runtime ({', '.join(runtime.providers)}) recommendations for {len(users):,} "
          f"users; identical to torch for {same:.1%} of users. First users:")
    for user, items in list(zip(users, via_runtime, strict=True))[:3]:
        print(f"      user {user}: {items.tolist()}")
    online = runtime.recommend_online([int(x) for x in via_runtime[0][:3]], top_k=5)
    print(f"      recommend_online(3 items) -> {online.tolist()}")
    print(f"done in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
