"""Artifacts of models with a BCE head: the blend is inside the graphs, the runtime agrees."""

from __future__ import annotations

import numpy as np
import pytest
import seqrec_runtime


@pytest.fixture(scope="module", params=[{}, {"item_prior_weight": 3.0, "item_prior_l2": 5.0}],
                ids=["head", "head+prior"])
def head_recommender(request, export_data, make_ce_model):
    return make_ce_model(export_data, max_len=6, num_blocks=1, num_heads=1, epochs=2,
                         bce_head_weight=1.0, bce_head_negatives=4, bce_head_blend=0.75,
                         **request.param)


@pytest.fixture(scope="module")
def head_runtime(head_recommender, tmp_path_factory, export_artifact):
    directory = tmp_path_factory.mktemp("head") / "artifact"
    return seqrec_runtime.load(export_artifact(head_recommender, directory, top_k=10))


def test_runtime_scores_and_top10_match_torch(head_runtime, head_recommender, export_data):
    expected = head_recommender.score_items(export_data)
    assert np.abs(head_runtime.score_items(export_data) - expected).max() <= 1e-4
    np.testing.assert_array_equal(head_runtime.recommend(export_data, top_k=10),
                                  head_recommender.recommend(export_data, top_k=10))


def test_the_head_changes_the_scores(head_recommender, export_data):
    network = head_recommender.scorer.estimator.network_
    blended = head_recommender.score_items(export_data)
    network.bce_head_blend.fill_(0.0)
    try:
        assert not np.allclose(head_recommender.score_items(export_data), blended)
    finally:
        network.bce_head_blend.fill_(0.75)
