"""Tiny-model factories and a shared trained recommender for the trainer tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer import (
    InteractionsDataset,
    ItemsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SequentialScorer,
)

TINY_PARAMS = {
    "hidden_units": 16,
    "num_blocks": 1,
    "num_heads": 1,
    "dropout_rate": 0.0,
    "max_len": 8,
    "epochs": 2,
    "batch_size": 64,
    "loss_fn_name": "ce",
    "random_state": 0,
}
CATALOGUE = np.arange(1, 33)  # the synthetic table uses items 1..30; 31 and 32 never occur


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """Tiny models train several times faster on one intra-op thread, and OpenMP threads
    spinning against other processes on a 2-core runner can make them 10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_params() -> dict:
    """Estimator parameters of a model that trains in well under a second."""
    return dict(TINY_PARAMS)


@pytest.fixture(scope="session")
def make_recommender():
    """Factory: ``make_recommender(estimator_cls=..., max_len=..., batch_size=..., **params)``."""

    def make(estimator_cls=SASRecClassifierEstimator, max_len=8, batch_size=512, **params):
        estimator = estimator_cls(**{**TINY_PARAMS, "max_len": max_len, **params})
        return SequentialRecommender(
            SequentialScorer(estimator, batch_size=batch_size), max_len=max_len
        )

    return make


@pytest.fixture(scope="session")
def trained_recommender(synthetic_table, make_recommender) -> SequentialRecommender:
    """A tiny trained classifier (max_len 8, catalogue 1..32). Tests must leave it unchanged
    (clear any item subset they set)."""
    recommender = make_recommender()
    recommender.train(
        items_ds=ItemsDataset({"ITEM_ID": CATALOGUE}),
        interactions_ds=InteractionsDataset(synthetic_table),
    )
    return recommender
