"""One tiny trained model and its export, shared by the export tests (export takes ~10 s)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
)
from seqrec_trainer.datasets import make_sequential_interactions


@pytest.fixture(scope="session")
def export_data() -> dict[str, np.ndarray]:
    return make_sequential_interactions(n_users=120, n_items=60, min_length=3, max_length=30,
                                        random_state=3)


@pytest.fixture(scope="session")
def export_recommender(export_data) -> SequentialRecommender:
    estimator = SASRecClassifierEstimator(hidden_units=16, num_blocks=2, num_heads=2,
                                          max_len=16, epochs=3, loss_fn_name="ce",
                                          random_state=0)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=16)
    return recommender.train(interactions_ds=InteractionsDataset(export_data))


@pytest.fixture(scope="session")
def exported(export_recommender, tmp_path_factory):
    from seqrec_export import export_onnx

    out = tmp_path_factory.mktemp("export") / "artifact"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(export_recommender, out, top_k=20)
    return out
