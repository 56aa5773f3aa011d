"""scikit-rec 0.4.2 SASRec training epochs, for ``bench/train_throughput.py``.

Runs in the scikit-rec venv (``bench/.venvs/skrec``). Trains through the public API
(``SequentialRecommender(SequentialScorer(SASRecClassifierEstimator(...))).train``) on a
parquet file of USER_ID, ITEM_ID, TIMESTAMP, OUTCOME and prints JSON: the wall time of
each epoch, of ``train()`` as a whole, and of reading the file.

Epoch boundaries: scikit-rec's training loop calls ``np.random.shuffle`` once at the
start of every epoch; a thin wrapper records when (``_peerlib.ShuffleClock``). Epoch i
lasts from its shuffle to the next epoch's shuffle (the last one: to the end of
``train()``, which returns right after the loop when there is no validation).
"""

from __future__ import annotations

import argparse
import sys as _sys
import time
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # bench/common.py
from common import ShuffleClock, emit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--loss", default="bce")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from skrec.dataset.interactions_dataset import InteractionsDataset
    from skrec.estimator.sequential.sasrec_estimator import SASRecClassifierEstimator
    from skrec.recommender.sequential.sequential_recommender import SequentialRecommender
    from skrec.scorer.sequential import SequentialScorer

    started = time.perf_counter()
    dataset = InteractionsDataset(data_location=args.data)
    n_rows = len(dataset.fetch_data())  # cached by the dataset: train() reuses it
    read_s = time.perf_counter() - started

    estimator = SASRecClassifierEstimator(
        hidden_units=args.hidden, num_blocks=args.blocks, num_heads=args.heads,
        dropout_rate=args.dropout, num_negatives=1, max_len=args.max_len,
        learning_rate=0.001, epochs=args.epochs, batch_size=args.batch,
        loss_fn_name=args.loss, random_state=args.seed,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=args.max_len)
    with ShuffleClock() as clock:
        started = time.perf_counter()
        recommender.train(interactions_ds=dataset)
        ended = time.perf_counter()
    marks = [*clock.times, ended]
    epochs = [b - a for a, b in zip(marks[:-1], marks[1:], strict=True)]
    if len(epochs) != args.epochs:
        raise RuntimeError(f"expected {args.epochs} shuffles (one per epoch), saw {len(epochs)}")
    emit({
        "epoch_s": epochs,
        "train_s": ended - started,
        "outside_epochs_s": (ended - started) - sum(epochs),
        "read_s": read_s,
        "n_rows": n_rows,
        "n_sequences": int(estimator.num_users),
        "n_items": int(estimator.num_items),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    })


if __name__ == "__main__":
    main()
