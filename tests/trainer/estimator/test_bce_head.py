"""The BCE head: a second, untied output table trained by sampled BCE beside the main loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer import InteractionsDataset, SASRecRegressorEstimator, SequentialRecommender
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.estimator.losses import bce_loss, ce_loss
from seqrec_trainer.estimator.training import training_step_loss
from seqrec_trainer.model import SASRecNetwork

HEAD = {"bce_head_weight": 1.0, "bce_head_negatives": 4, "bce_head_blend": 0.5}


@pytest.fixture(scope="module")
def with_head(synthetic_table, make_recommender):
    rec = make_recommender(max_len=6, **HEAD)
    return rec.train(interactions_ds=InteractionsDataset(synthetic_table))


def _parts(rec, table):
    """Main-head and BCE-head scores of the recommender's users, computed by hand."""
    network = rec.scorer.estimator.network_
    with torch.no_grad():
        network.bce_head_blend.fill_(0.0)
        main = rec.score_items(table)
        network.bce_head_blend.fill_(1.0)
        both = rec.score_items(table)
        network.bce_head_blend.fill_(HEAD["bce_head_blend"])
    return main, both


def test_scores_add_the_head_rescaled_to_the_main_spread(with_head, synthetic_table):
    network = with_head.scorer.estimator.network_
    seqs = torch.tensor([[0, 0, 3, 5, 7, 2], [0, 0, 0, 0, 1, 9]])
    with torch.no_grad():
        hidden = network.encode_last(seqs)
        main = hidden @ network.item_weights().T
        head = hidden @ network.bce_item_weights.T
        centred = head - head.mean(1, keepdim=True)
        expected = main + 0.5 * centred * main.std(1, keepdim=True) / centred.std(1, keepdim=True)
        np.testing.assert_allclose(network(seqs).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_blend_zero_is_the_main_head_alone(with_head, synthetic_table):
    main, both = _parts(with_head, synthetic_table)
    assert not np.allclose(main, both)
    blended = with_head.score_items(synthetic_table)
    np.testing.assert_allclose(blended, main + 0.5 * (both - main), rtol=1e-5, atol=1e-4)


def test_loss_is_main_loss_plus_weighted_bce():
    torch.manual_seed(0)
    network = SASRecNetwork(n_items=12, max_len=6, hidden_units=8, num_blocks=1,
                            dropout_rate=0.0, bce_head=True)
    seqs = torch.tensor([[0, 0, 3, 5, 7, 2, 4], [0, 1, 9, 9, 2, 3, 11]])
    kwargs = {"generator": torch.Generator().manual_seed(3)}
    got = training_step_loss(network, seqs, None, ce_loss, kwargs, bce_head=(0.7, 5))
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    valid = (inputs != 0) & (targets != 0)
    h = network.encode(inputs)[valid]
    t, y = targets[valid], torch.ones(int(valid.sum()))
    expected = ce_loss(h, t, y, network.item_weights()) + 0.7 * bce_loss(
        h, t, y, network.bce_item_weights, num_negatives=5,
        generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, expected)


def test_weight_zero_builds_no_head(trained_recommender):
    network = trained_recommender.scorer.estimator.network_
    assert network.bce_item_weights is None
    assert not any(k.startswith("bce_") for k in network.state_dict())


def test_fit_twice_and_save_load_give_equal_scores(with_head, synthetic_table, make_recommender,
                                                   tmp_path):
    again = make_recommender(max_len=6, **HEAD).train(
        interactions_ds=InteractionsDataset(synthetic_table))
    np.testing.assert_array_equal(again.score_items(synthetic_table),
                                  with_head.score_items(synthetic_table))
    with_head.save(tmp_path / "model")
    loaded = SequentialRecommender.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.score_items(synthetic_table),
                                  with_head.score_items(synthetic_table))


@pytest.mark.parametrize("params, match", [
    ({"bce_head_weight": -1.0}, "bce_head_weight must be a finite number >= 0"),
    ({"bce_head_weight": float("nan")}, "bce_head_weight must be a finite number >= 0"),
    ({"bce_head_weight": True}, "bce_head_weight must be a finite number >= 0"),
    ({"bce_head_weight": 1.0, "bce_head_blend": -0.5}, "bce_head_blend must be"),
    ({"bce_head_weight": 1.0, "bce_head_negatives": 0}, "bce_head_negatives must be a positive"),
    ({"bce_head_weight": 1.0, "bce_head_negatives": 2.5}, "bce_head_negatives must be a positive"),
])
def test_bad_parameters_are_refused_by_name(params, match, synthetic_table, make_recommender):
    rec = make_recommender(max_len=6, **params)
    with pytest.raises(InvalidParameterError, match=match):
        rec.train(interactions_ds=InteractionsDataset(synthetic_table))


def test_regressors_refuse_the_head(synthetic_table, make_recommender):
    rec = make_recommender(estimator_cls=SASRecRegressorEstimator, max_len=6,
                           loss_fn_name="mse", bce_head_weight=1.0)
    with pytest.raises(InvalidParameterError, match="only available for SASRecClassifier"):
        rec.train(interactions_ds=InteractionsDataset(synthetic_table))
