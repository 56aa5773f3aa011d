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


def train_ce_model(data, max_len: int, **params) -> SequentialRecommender:
    """A tiny full-softmax classifier trained on ``data`` (``params`` override the rest)."""
    estimator = SASRecClassifierEstimator(**{
        "hidden_units": 16, "num_blocks": 2, "num_heads": 2, "epochs": 3,
        "loss_fn_name": "ce", "random_state": 0, "max_len": max_len, **params,
    })
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=max_len)
    return recommender.train(interactions_ds=InteractionsDataset(data))


def export_quietly(recommender, directory, top_k: int):
    """``export_onnx`` with the exporter's warnings silenced; returns ``directory``."""
    from seqrec_export import export_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(recommender, directory, top_k=top_k)
    return directory


@pytest.fixture(scope="session")
def make_ce_model():
    """Factory fixture: :func:`train_ce_model`."""
    return train_ce_model


@pytest.fixture(scope="session")
def export_artifact():
    """Factory fixture: :func:`export_quietly`."""
    return export_quietly


@pytest.fixture(scope="session")
def export_recommender(export_data) -> SequentialRecommender:
    return train_ce_model(export_data, max_len=16)


@pytest.fixture(scope="session")
def exported(export_recommender, tmp_path_factory):
    return export_quietly(export_recommender, tmp_path_factory.mktemp("export") / "artifact",
                          top_k=20)
