"""Training scenarios run by every rank of a ``torchrun`` job (gloo, CPU) for the DDP tests.

``python -m torch.distributed.run --standalone --nproc-per-node N ddp_worker.py OUT SUITE``
writes, per rank and scenario, ``OUT/<scenario>.rank<R>.pt`` (final parameters) and
``OUT/<scenario>.rank<R>.json`` (history, steps, errors...). The tests read them; the
single-process references are computed in the test process itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
)
from seqrec_trainer.distributed import init_process_group
from seqrec_trainer.distributed.sharding import fingerprint
from seqrec_trainer.estimator.training import ValidationData

TINY = {"hidden_units": 16, "num_blocks": 1, "num_heads": 1, "dropout_rate": 0.0,
        "max_len": 8, "random_state": 0, "verbose": 0}


def random_windows(n: int, seed: int, n_items: int = 30, width: int = 9) -> np.ndarray:
    """``n`` left-padded windows of 2..``width`` items (the same on every rank)."""
    rng = np.random.default_rng(seed)
    windows = np.zeros((n, width), dtype=np.int64)
    for row in range(n):
        length = int(rng.integers(2, width + 1))
        windows[row, width - length:] = rng.integers(1, n_items + 1, length)
    return windows


def window_outcomes(windows: np.ndarray, seed: int) -> np.ndarray:
    """OUTCOME weights in [0.5, 2] aligned with ``windows`` (0 on padding)."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, windows.shape) * (windows != 0)).astype(np.float32)


def validation(seed: int, n: int = 40) -> ValidationData:
    windows = random_windows(n, seed)
    return ValidationData(inputs=windows[:, 1:], targets=windows[:, -1].copy(), outcomes=None)


def fit(name: str, out: Path, rank: int, sequences, n_items=30, outcomes=None, valid=None,
        **params) -> SASRecClassifierEstimator:
    estimator = SASRecClassifierEstimator(**{**TINY, **params})
    estimator.fit(sequences, n_items, outcomes=outcomes, valid=valid)
    torch.save(estimator.network_.state_dict(), out / f"{name}.rank{rank}.pt")
    record = {"history": estimator.history_, "best_epoch": estimator.best_epoch_}
    (out / f"{name}.rank{rank}.json").write_text(json.dumps(record))
    return estimator


def expect_error(name: str, out: Path, rank: int, run) -> None:
    """Run ``run()``; record the exception it raises (type, message) or that none was."""
    try:
        run()
        record = {"error": None}
    except Exception as exc:  # recorded for the test to check
        record = {"error": type(exc).__name__, "message": str(exc)}
    (out / f"{name}.rank{rank}.json").write_text(json.dumps(record))


def suite_parity(out: Path, rank: int, world: int) -> None:
    """One SGD step on one global batch of 37 windows (19 + 18 per rank), unweighted and
    OUTCOME-weighted full softmax; then a few Adam epochs with validation."""
    windows = random_windows(37, seed=1)
    one_step = {"optimizer_name": "sgd", "learning_rate": 0.5, "epochs": 1,
                "batch_size": 37, "loss_fn_name": "ce"}
    fit("one_step_ce", out, rank, windows, **one_step)
    fit("one_step_weighted", out, rank, windows, outcomes=window_outcomes(windows, 2),
        **one_step)
    few_steps(out, rank)


def few_steps(out: Path, rank: int) -> None:
    """3 Adam epochs of 5 steps (70 windows, batches of 16) with validation."""
    fit("few_steps", out, rank, random_windows(70, seed=3), valid=validation(4),
        loss_fn_name="ce", epochs=3, batch_size=16, learning_rate=0.01, monitor="val_ndcg@10",
        early_stopping_patience=None)


def suite_edges(out: Path, rank: int, world: int) -> None:
    """Uneven shards, a rank holding a single user, early stopping, bad input, and a
    recommender trained, saved (rank 0 only) and fingerprinted."""
    # 33 windows in batches of 16: the last global batch has 1 window, rank 1 gets none
    fit("uneven", out, rank, random_windows(33, seed=5), loss_fn_name="bce", epochs=2,
        batch_size=16)
    # bfloat16 autocast (where native, as precision="auto" picks it) under DDP
    fit("bf16_autocast", out, rank, random_windows(40, seed=16), loss_fn_name="ce",
        precision="bf16", epochs=2, batch_size=16)
    # sharded data: rank 0 holds 25 windows, the last rank one user's single window
    own = random_windows(25, seed=6) if rank == 0 else random_windows(1, seed=7 + rank)
    fit("single_user_rank", out, rank, own, loss_fn_name="ce", epochs=2, batch_size=8)
    # validation split by rank; patience 1 on 40 random windows stops early
    fit("early_stopping", out, rank, random_windows(40, seed=8), valid=validation(9),
        loss_fn_name="ce", learning_rate=0.05, epochs=30, batch_size=8,
        early_stopping_patience=1, monitor="val_loss")
    # bad input on one rank only (OUTCOME 5 under "bce"): every rank raises, none hangs
    bad = window_outcomes(random_windows(20, seed=10), 11) * (5.0 if rank == world - 1 else 0.5)
    expect_error("bad_input_one_rank", out, rank, lambda: fit(
        "unused", out, rank, random_windows(20, seed=10), outcomes=bad, loss_fn_name="bce"))
    train_recommender(out, rank)


def train_recommender(out: Path, rank: int) -> None:
    from seqrec_trainer.datasets import make_sequential_interactions

    data = make_sequential_interactions(n_users=80, n_items=40, min_length=4, max_length=20,
                                        random_state=12)
    estimator = SASRecClassifierEstimator(**{**TINY, "loss_fn_name": "ce", "epochs": 2,
                                             "batch_size": 32, "item_prior_weight": 2.0})
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=8)
    recommender.train(interactions_ds=InteractionsDataset(data))
    network = estimator.network_
    record = {
        "vocabulary": fingerprint(np.asarray(recommender.item_ids_)),
        "popularity": fingerprint(recommender.scorer.popularity_),
        "prior": fingerprint(network.item_prior_matrix.numpy()),
        "weights": fingerprint(*(p.detach().numpy() for p in network.parameters())),
    }
    recommender.save(out / f"model_from_rank{rank}")  # only rank 0 writes
    (out / f"recommender.rank{rank}.json").write_text(json.dumps(record))


def sharded_table() -> dict[str, np.ndarray]:
    """70 users over 200 items: each rank's files miss some items of the catalogue."""
    from seqrec_trainer.datasets import make_sequential_interactions

    return make_sequential_interactions(n_users=70, n_items=200, min_length=3, max_length=20,
                                        random_state=14)


def sharded_parquet(out: Path, rank: int) -> None:
    """Each rank reads its own files of a user-partitioned Parquet directory."""
    import torch.distributed as dist
    from seqrec_trainer import ItemsDataset
    from seqrec_trainer.distributed import read_rank_table, write_user_partitions

    data = sharded_table()
    if rank == 0:
        write_user_partitions(data, out / "parts", n_files=5)
    dist.barrier()
    table = read_rank_table(out / "parts")
    catalogue = ItemsDataset({"ITEM_ID": np.unique(data["ITEM_ID"])})

    def train(items, **params):
        estimator = SASRecClassifierEstimator(**{**TINY, "loss_fn_name": "ce", "epochs": 2,
                                                 "batch_size": 16, **params})
        recommender = SequentialRecommender(SequentialScorer(estimator), max_len=8)
        return recommender.train(items_ds=items, interactions_ds=InteractionsDataset(table))

    recommender = train(catalogue)
    network = recommender.scorer.estimator.network_
    record = {
        "users": sorted(int(u) for u in np.unique(table.column("USER_ID").to_numpy())),
        "popularity": recommender.scorer.popularity_.tolist(),
        "item_ids": recommender.item_ids_.tolist(),
        "weights": fingerprint(*(p.detach().numpy() for p in network.parameters())),
        "n_train_sequences": recommender.training_summary_["n_train_sequences"],
    }
    (out / f"sharded_parquet.rank{rank}.json").write_text(json.dumps(record))
    expect_error("sharded_without_catalogue", out, rank, lambda: train(None))
    expect_error("sharded_with_prior", out, rank, lambda: train(catalogue,
                                                                item_prior_weight=1.0))


def suite_failure(out: Path, rank: int, world: int) -> None:
    """The last rank raises during its second epoch; the job must end, not hang."""

    def fail_on_last_rank(epoch, network, record) -> None:
        if epoch == 2 and rank == world - 1:
            raise RuntimeError(f"deliberate failure on rank {rank} at epoch {epoch}")

    estimator = SASRecClassifierEstimator(**{**TINY, "loss_fn_name": "ce", "epochs": 50,
                                             "batch_size": 8})
    estimator.fit(random_windows(40, seed=13), 30, callbacks=(fail_on_last_rank,))


def suite_training(out: Path, rank: int, world: int) -> None:
    suite_parity(out, rank, world)
    suite_edges(out, rank, world)
    sharded_parquet(out, rank)


SUITES = {"training": suite_training, "failure": suite_failure}


def main() -> None:
    out, suite = Path(sys.argv[1]), sys.argv[2]
    torch.set_num_threads(1)
    context = init_process_group()
    SUITES[suite](out, context.rank, context.world_size)
    (out / f"done.rank{context.rank}").write_text("ok")


if __name__ == "__main__":
    main()
