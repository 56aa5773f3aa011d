"""Rebuild the tiny golden artifact used by the runtime and cross-language tests.

``python -m seqrec_export.golden tests/runtime/golden`` (``make golden``) trains a tiny
deterministic model on synthetic data, exports it, and writes ``expected.json`` beside the
artifact directory with raw interaction rows of a few users and the trainer's (torch)
scores and recommendations for them. Runtime and Node tests must reproduce those.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
)
from seqrec_trainer.datasets import make_sequential_interactions

from .api import export_onnx

MAX_LEN = 12
TOP_K = 5


def golden_model() -> SequentialRecommender:
    """Train the tiny golden model (string item ids, int user ids)."""
    data = make_sequential_interactions(n_users=300, n_items=40, min_length=4, max_length=25,
                                        random_state=7)
    data["ITEM_ID"] = np.array([f"item-{i:03d}" for i in data["ITEM_ID"]])
    estimator = SASRecClassifierEstimator(
        hidden_units=16, num_blocks=2, num_heads=2, dropout_rate=0.1, max_len=MAX_LEN,
        epochs=25, loss_fn_name="ce", random_state=0,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=MAX_LEN)
    return recommender.train(interactions_ds=InteractionsDataset(data))


def golden_histories() -> dict[str, list]:
    """Raw rows for the golden users: unsorted, ties, unknown items, long and cold users."""
    rows = []
    rng = np.random.default_rng(11)
    for user in (1, 2, 3, 4, 5, 6):
        length = {1: 3, 2: 8, 3: 20, 4: 1, 5: 12, 6: 5}[user]
        items = rng.integers(0, 40, size=length)
        times = np.sort(rng.integers(1_000, 2_000, size=length))
        if user == 5:
            times[:] = 1_500  # all tied: input order decides
        rows += [(user, f"item-{i:03d}", int(t)) for i, t in zip(items, times, strict=True)]
    rows += [(2, "unknown-item", 1_999), (7, "unknown-a", 10), (7, "unknown-b", 20)]
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order if not (rows[i][0] == 5)] + [r for r in rows if r[0] == 5]
    return {
        "USER_ID": [r[0] for r in rows],
        "ITEM_ID": [r[1] for r in rows],
        "TIMESTAMP": [r[2] for r in rows],
    }


def write_golden(artifact_dir: Path) -> None:
    """Train, export and write ``expected.json`` next to ``artifact_dir``."""
    recommender = golden_model()
    export_onnx(recommender, artifact_dir, top_k=10)
    histories = golden_histories()
    table = {k: np.array(v) for k, v in histories.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        users, scores = recommender.score_items(table, return_user_ids=True)
        top = recommender.recommend(table, top_k=TOP_K, exclude_seen=False)
        top_unseen = recommender.recommend(table, top_k=TOP_K, exclude_seen=True)
        sampled = recommender.recommend(table, top_k=TOP_K, sampling_temperature=1.0,
                                        exclude_seen=False, random_state=3)
    expected = {
        "about": "Expected outputs of the golden artifact, computed with the torch trainer "
                 "(python -m seqrec_export.golden). Runtimes must reproduce them.",
        "interactions": histories,
        "top_k": TOP_K,
        "user_ids": users.tolist(),
        "scores": np.round(scores.astype(np.float64), 6).tolist(),
        "recommend": top.tolist(),
        "recommend_exclude_seen": top_unseen.tolist(),
        "recommend_sampled": {"sampling_temperature": 1.0, "random_state": 3,
                              "items": sampled.tolist()},
    }
    path = Path(artifact_dir).parent / "golden_expected.json"
    path.write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("artifact_dir", type=Path)
    write_golden(parser.parse_args().artifact_dir)


if __name__ == "__main__":
    main()
