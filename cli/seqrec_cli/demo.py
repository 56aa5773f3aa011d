"""make demo: the main job end to end on the embedded synthetic dataset.

Generates sequentially structured interactions, splits them leave-one-out (the tables go
to OUTPUT/data as CSV, to try the seqrec commands on), trains SASRec with validation and
early stopping, compares it with a popularity baseline on the held-out items, saves the
model with its training curve, exports the ONNX artifact and recommends through the
torch-free runtime, checking that both agree. Every step says what it does as it starts.
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


def _write_csv(table: dict, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table(table), path)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("demo_output"),
                        help="directory for the data, model and artifact (default: demo_output)")
    parser.add_argument("--users", type=int, default=2000,
                        help="synthetic users (default: 2000)")
    parser.add_argument("--epochs", type=int, default=40,
                        help="most training epochs; early stopping usually ends sooner "
                             "(default: 40)")
    parser.add_argument("--verbose", type=int, default=None,
                        help="0: no progress bar; 1: always; default: when in a terminal")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(f"seqrec demo: generate {args.users:,} users' interactions, train SASRec, compare it "
          f"with popularity, export the ONNX artifact and serve it; writes {args.output}/ "
          "(a few minutes on 2 CPU cores)", flush=True)

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
    data_dir = args.output / "data"
    _write_csv(data, data_dir / "interactions.csv")
    for name in ("train", "valid", "test", "test_input"):
        _write_csv(getattr(split, name), data_dir / f"{name}.csv")
    print(f"[1/5] synthetic data: {len(data['USER_ID']):,} interactions, "
          f"{len(np.unique(data['USER_ID'])):,} users, {len(np.unique(data['ITEM_ID']))} items; "
          f"split per user into training rows, a validation item and a test item "
          f"(CSV files in {data_dir}/)", flush=True)

    estimator = SASRecClassifierEstimator(
        hidden_units=64, num_blocks=2, max_len=50, loss_fn_name="ce", epochs=args.epochs,
        early_stopping_patience=5, monitor="val_ndcg@10", random_state=0,
        verbose=args.verbose,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=50)
    print(f"[2/5] training SASRec (full-softmax ce loss) for up to {args.epochs} epochs; it "
          "stops after 5 epochs without a better validation NDCG@10", flush=True)
    started = time.perf_counter()
    recommender.train(interactions_ds=InteractionsDataset(split.train),
                      valid_interactions_ds=InteractionsDataset(split.valid))
    best = estimator.history_[(estimator.best_epoch_ or len(estimator.history_)) - 1]
    print(f"      trained in {time.perf_counter() - started:.0f}s: "
          f"{len(estimator.history_)} epochs, best epoch {estimator.best_epoch_} "
          f"(validation NDCG@10 {best['val_ndcg@10']:.3f})", flush=True)

    model_quality = evaluate(recommender, split.test_input, split.test, protocol="full", ks=(10,))
    baseline = _popularity_baseline(split)
    print(f"[3/5] held-out test items, full ranking: SASRec HR@10 {model_quality['HR@10']:.3f} "
          f"NDCG@10 {model_quality['NDCG@10']:.3f} | popularity HR@10 {baseline['HR@10']:.3f} "
          f"NDCG@10 {baseline['NDCG@10']:.3f}", flush=True)

    model_dir, artifact_dir = args.output / "model", args.output / "artifact"
    recommender.save(model_dir)
    print(f"[4/5] saved the model to {model_dir}/ (training curve: "
          f"{model_dir / 'training_curve.png'}); exporting the ONNX artifact and checking it "
          "against torch...", flush=True)
    export_onnx(model_dir, artifact_dir)
    print(f"      exported {artifact_dir}/", flush=True)

    runtime = seqrec_runtime.load(artifact_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        users, via_runtime = runtime.recommend(split.test_input, top_k=5, return_user_ids=True)
        via_torch = recommender.recommend(split.test_input, top_k=5)
    same = float(np.mean(np.all(via_runtime == via_torch, axis=1)))
    print(f"[5/5] runtime ({', '.join(runtime.providers)}) recommendations for {len(users):,} "
          f"users (items they already have left out); identical to torch for {same:.1%} of "
          "users. First users:")
    for user, items in list(zip(users, via_runtime, strict=True))[:3]:
        print(f"      user {user}: {items.tolist()}")
    online = runtime.recommend_online([int(x) for x in via_runtime[0][:3]], top_k=5)
    print(f"      recommend_online(3 items) -> {online.tolist()}")
    print(f"done in {time.perf_counter() - t0:.0f}s. Next, from the command line "
          "(after `source .venv/bin/activate`):\n"
          f"      seqrec recommend {artifact_dir} --interactions {data_dir / 'test_input.csv'} "
          "--top-k 5\n"
          f"      seqrec evaluate --model {artifact_dir} --data {data_dir / 'interactions.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
