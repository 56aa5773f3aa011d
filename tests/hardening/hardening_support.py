"""Constants and factories shared by the hardening tests (not a conftest: test modules
import it by name, and several ``conftest`` modules exist in the suite)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
GOLDEN = HERE.parent / "runtime" / "golden"
GOLDEN_EXPECTED = HERE.parent / "runtime" / "golden_expected.json"
MAX_LEN = 12  # of the golden artifact; the tiny trainer uses the same


def make_tiny_recommender(**params):
    from seqrec_trainer import SASRecClassifierEstimator, SequentialRecommender, SequentialScorer

    estimator = SASRecClassifierEstimator(**{
        "hidden_units": 8, "num_blocks": 1, "num_heads": 1, "dropout_rate": 0.0,
        "max_len": MAX_LEN, "epochs": 1, "batch_size": 64, "loss_fn_name": "ce",
        "random_state": 0, **params,
    })
    return SequentialRecommender(SequentialScorer(estimator, batch_size=5), max_len=MAX_LEN)
