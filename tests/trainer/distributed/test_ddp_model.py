"""A recommender trained on 2 ranks: one save, identical vocabulary / prior on every rank,
and the saved model loads, exports and serves through the runtime like any other."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import seqrec_runtime
from seqrec_trainer import SequentialRecommender
from seqrec_trainer.datasets import make_sequential_interactions


def test_vocabulary_popularity_prior_and_weights_are_identical_on_every_rank(trained_2ranks):
    records = [trained_2ranks.record("recommender", rank) for rank in range(2)]
    assert records[0] == records[1]
    assert set(records[0]) == {"vocabulary", "popularity", "prior", "weights"}


def test_only_rank_0_writes_the_model(trained_2ranks):
    assert (trained_2ranks.out / "model_from_rank0" / "weights.pt").is_file()
    assert not (trained_2ranks.out / "model_from_rank1").exists()


@pytest.fixture(scope="module")
def served(trained_2ranks, tmp_path_factory):
    from seqrec_export import export_onnx

    recommender = SequentialRecommender.load(trained_2ranks.out / "model_from_rank0")
    artifact = tmp_path_factory.mktemp("ddp_artifact") / "artifact"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(recommender, artifact, top_k=10)
    return recommender, seqrec_runtime.load(artifact)


def test_model_trained_on_two_ranks_exports_and_serves_with_parity(served):
    recommender, runtime = served
    data = make_sequential_interactions(n_users=80, n_items=40, min_length=4, max_length=20,
                                        random_state=12)
    assert recommender.scorer.estimator.uses_item_prior
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        users_t, torch_scores = recommender.score_items(data, return_user_ids=True)
        users_r, onnx_scores = runtime.score_items(data, return_user_ids=True)
    np.testing.assert_array_equal(users_t, users_r)
    assert np.abs(onnx_scores - torch_scores).max() <= 1e-4
    np.testing.assert_array_equal(recommender.recommend(data, top_k=10, exclude_seen=True),
                                  runtime.recommend(data, top_k=10, exclude_seen=True))
