"""SASRec estimators: learning, validation/early stopping, reproducibility, parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_runtime.errors import InvalidParameterError, SeqrecError
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SASRecRegressorEstimator,
)
from seqrec_trainer.data.training import build_vocabulary, prepare
from seqrec_trainer.estimator.losses import CLASSIFIER_LOSSES
from seqrec_trainer.estimator.training import validate

N_CYCLE = 20
ESTIMATORS = [SASRecClassifierEstimator, SASRecRegressorEstimator]


def _cyclic_interactions(n_users=200, seed=0) -> dict[str, np.ndarray]:
    """Item i is always followed by (i + 1) mod N_CYCLE; rows in random order."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 14, size=n_users)
    starts = rng.integers(0, N_CYCLE, size=n_users)
    users = np.repeat(np.arange(n_users), lengths)
    step = np.concatenate([np.arange(n) for n in lengths])
    items = (np.repeat(starts, lengths) + step) % N_CYCLE
    order = rng.permutation(len(users))
    return {"USER_ID": users[order], "ITEM_ID": items[order], "TIMESTAMP": step[order] * 7}


@pytest.fixture(scope="module")
def cyclic():
    return _cyclic_interactions()


@pytest.fixture(scope="module")
def overfit_data():
    """Random sequences (nothing to generalise) so validation loss rises after a few epochs."""
    rng = np.random.default_rng(0)
    n_users, length = 80, 10
    data = {
        "USER_ID": np.repeat(np.arange(n_users), length),
        "ITEM_ID": rng.integers(1, 41, n_users * length),
        "TIMESTAMP": np.tile(np.arange(length), n_users),
    }
    valid = {k: v.reshape(n_users, length)[:, -2] for k, v in data.items()}
    vocabulary = build_vocabulary(data, None)
    return prepare(data, valid, vocabulary, 8), len(vocabulary)


OVERFIT_PARAMS = {"hidden_units": 32, "num_blocks": 1, "max_len": 8, "epochs": 7,
                  "batch_size": 32, "learning_rate": 0.05, "dropout_rate": 0.0,
                  "loss_fn_name": "ce", "random_state": 1}


# ------------------------------------------------------------------ learning
@pytest.mark.parametrize(
    ("loss", "extra"),
    [("ce", {}), ("bce", {}), ("sampled_softmax", {"num_negatives": 8})],
)
def test_learns_a_deterministic_successor(cyclic, make_recommender, loss, extra):
    recommender = make_recommender(max_len=6, hidden_units=32, epochs=25, learning_rate=0.01,
                                   loss_fn_name=loss, **extra)
    recommender.train(interactions_ds=InteractionsDataset(cyclic))
    user_ids, recs = recommender.recommend(cyclic, top_k=1, return_user_ids=True)
    last = {}
    for u, i, t in zip(cyclic["USER_ID"], cyclic["ITEM_ID"], cyclic["TIMESTAMP"], strict=True):
        if u not in last or t > last[u][1]:
            last[u] = (i, t)
    expected = np.array([(last[u][0] + 1) % N_CYCLE for u in user_ids])
    accuracy = float((recs[:, 0] == expected).mean())
    assert accuracy >= 0.95, accuracy
    history = recommender.scorer.estimator.history_
    assert history[-1]["loss"] < history[0]["loss"]


def test_regressor_fits_outcome(make_recommender):
    rng = np.random.default_rng(1)
    n_users, length = 120, 8
    items = rng.integers(0, 10, size=(n_users, length))
    data = {
        "USER_ID": np.repeat(np.arange(n_users), length),
        "ITEM_ID": items.ravel(),
        "TIMESTAMP": np.tile(np.arange(length), n_users),
        "OUTCOME": np.where(items.ravel() % 2 == 0, 5.0, 1.0),  # even items are liked
    }
    recommender = make_recommender(SASRecRegressorEstimator, max_len=6, epochs=20,
                                   learning_rate=0.01, loss_fn_name="mse")
    recommender.train(interactions_ds=InteractionsDataset(data))
    losses = [h["loss"] for h in recommender.scorer.estimator.history_]
    assert losses[-1] < 0.25 * losses[0], losses
    scores = recommender.score_items(data)
    even = recommender.item_ids_ % 2 == 0
    np.testing.assert_allclose(scores[:, even].mean(), 5.0, atol=0.75)
    np.testing.assert_allclose(scores[:, ~even].mean(), 1.0, atol=0.75)


# ------------------------------------------------------------------ validation
def _recomputed_val_loss(estimator, valid) -> float:
    generator = torch.Generator().manual_seed(0)  # "ce" ignores it: deterministic
    return validate(
        estimator.network_, valid, CLASSIFIER_LOSSES["ce"],
        estimator._loss_kwargs(generator, False), torch.device("cpu"),
        estimator.batch_size * 4, False,
    )["val_loss"]


@pytest.mark.parametrize("patience", [None, 2], ids=["no-patience", "patience-2"])
def test_restore_best_weights_restores_the_best_epoch(overfit_data, patience):
    prepared, n_items = overfit_data
    estimator = SASRecClassifierEstimator(**OVERFIT_PARAMS, early_stopping_patience=patience)
    estimator.fit(prepared.train.sequences, n_items, valid=prepared.valid)
    history = estimator.history_
    val = [h["val_loss"] for h in history]
    assert estimator.best_epoch_ == int(np.argmin(val)) + 1
    assert estimator.best_epoch_ < len(history), "test needs a run whose last epoch is not best"
    assert _recomputed_val_loss(estimator, prepared.valid) == pytest.approx(
        history[estimator.best_epoch_ - 1]["val_loss"], rel=1e-5)
    if patience is None:
        assert len(history) == OVERFIT_PARAMS["epochs"]
    else:
        assert len(history) == estimator.best_epoch_ + patience  # stopped by patience
        assert len(history) < OVERFIT_PARAMS["epochs"]


def test_without_restore_the_last_epoch_is_kept(overfit_data):
    prepared, n_items = overfit_data
    estimator = SASRecClassifierEstimator(**OVERFIT_PARAMS, restore_best_weights=False)
    estimator.fit(prepared.train.sequences, n_items, valid=prepared.valid)
    assert estimator.best_epoch_ is None
    assert _recomputed_val_loss(estimator, prepared.valid) == pytest.approx(
        estimator.history_[-1]["val_loss"], rel=1e-5)
    assert estimator.history_[-1]["val_loss"] > min(h["val_loss"] for h in estimator.history_)


def test_ranking_monitor_keeps_the_highest_value(overfit_data):
    prepared, n_items = overfit_data
    estimator = SASRecClassifierEstimator(**{**OVERFIT_PARAMS, "epochs": 4},
                                          monitor="val_ndcg@10")
    estimator.fit(prepared.train.sequences, n_items, valid=prepared.valid)
    ndcg = [h["val_ndcg@10"] for h in estimator.history_]
    assert estimator.best_epoch_ == int(np.argmax(ndcg)) + 1
    assert all(0.0 <= h["val_hr@10"] <= 1.0 for h in estimator.history_)


def test_early_stopping_without_validation_is_an_error(synthetic_table, make_recommender):
    recommender = make_recommender(early_stopping_patience=3)
    with pytest.raises(InvalidParameterError, match="valid_interactions_ds") as excinfo:
        recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
    assert isinstance(excinfo.value, ValueError)


# ------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_refit_with_the_same_random_state_is_identical(synthetic_table, make_recommender, loss):
    def fitted_scores(seed):
        recommender = make_recommender(random_state=seed, dropout_rate=0.3, loss_fn_name=loss)
        recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
        return recommender.score_items(synthetic_table)

    first, again, other = fitted_scores(5), fitted_scores(5), fitted_scores(6)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_fit_leaves_the_global_torch_rng_alone(overfit_data):
    prepared, n_items = overfit_data
    state = torch.random.get_rng_state()
    SASRecClassifierEstimator(**{**OVERFIT_PARAMS, "epochs": 1, "dropout_rate": 0.2}).fit(
        prepared.train.sequences, n_items)
    assert torch.equal(state, torch.random.get_rng_state())


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_get_set_params_round_trip_and_clone(cls, tiny_params):
    estimator = cls(**{k: v for k, v in tiny_params.items() if k != "loss_fn_name"})
    params = estimator.get_params()
    assert params["hidden_units"] == tiny_params["hidden_units"]
    assert set(params) == set(cls._param_names())
    clone = type(estimator)(**estimator.get_params())
    assert clone.get_params() == params
    assert clone is not estimator
    assert estimator.set_params(epochs=7, monitor="val_loss") is estimator
    assert estimator.get_params()["epochs"] == 7
    assert params["epochs"] == tiny_params["epochs"]  # the earlier dict is a snapshot
    assert repr(estimator).startswith(cls.__name__ + "(")


def test_default_losses():
    assert SASRecClassifierEstimator().loss_fn_name == "bce"
    assert SASRecRegressorEstimator().loss_fn_name == "mse"
    assert SASRecRegressorEstimator(16).hidden_units == 16  # positional args still work
    assert SASRecRegressorEstimator().get_params()["loss_fn_name"] == "mse"


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_set_params_with_an_unknown_name(cls):
    with pytest.raises(ValueError, match="hidden_size"):
        cls().set_params(hidden_size=3)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (SASRecClassifierEstimator, {"hidden_units": 10, "num_heads": 3}),
        (SASRecClassifierEstimator, {"hidden_units": 0}),
        (SASRecClassifierEstimator, {"epochs": 2.5}),
        (SASRecClassifierEstimator, {"max_len": True}),
        (SASRecClassifierEstimator, {"dropout_rate": 1.0}),
        (SASRecClassifierEstimator, {"learning_rate": 0.0}),
        (SASRecClassifierEstimator, {"loss_fn_name": "mse"}),
        (SASRecRegressorEstimator, {"loss_fn_name": "bce"}),
        (SASRecClassifierEstimator, {"optimizer_name": "lbfgs"}),
        (SASRecRegressorEstimator, {"monitor": "val_ndcg@10"}),
        (SASRecClassifierEstimator, {"monitor": "loss"}),
        (SASRecClassifierEstimator, {"lr_schedule": "step"}),
        (SASRecClassifierEstimator, {"precision": "fp16"}),
        (SASRecClassifierEstimator, {"precision": None}),
        (SASRecClassifierEstimator, {"pack_sequences": "yes"}),
    ],
)
def test_invalid_parameters_are_reported_at_fit(cls, params, overfit_data):
    prepared, n_items = overfit_data
    estimator = cls(**{**OVERFIT_PARAMS, "loss_fn_name": cls().loss_fn_name, **params})
    with pytest.raises(InvalidParameterError) as excinfo:
        estimator.fit(prepared.train.sequences, n_items, valid=prepared.valid)
    assert isinstance(excinfo.value, (ValueError, SeqrecError))
    assert not hasattr(estimator, "network_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only torch")
def test_cuda_device_without_cuda_is_a_clear_error(overfit_data):
    prepared, n_items = overfit_data
    estimator = SASRecClassifierEstimator(**OVERFIT_PARAMS, device="cuda")
    with pytest.raises(InvalidParameterError, match="CUDA"):
        estimator.fit(prepared.train.sequences, n_items)


@pytest.mark.parametrize(
    "params",
    [{"lr_schedule": "cosine", "warmup_epochs": 0.5}, {"max_grad_norm": 1.0,
                                                       "optimizer_name": "adamw"},
     {"label_smoothing": 0.1}],
)
def test_training_options_run(overfit_data, params):
    prepared, n_items = overfit_data
    estimator = SASRecClassifierEstimator(**{**OVERFIT_PARAMS, "epochs": 2, **params})
    estimator.fit(prepared.train.sequences, n_items, valid=prepared.valid)
    assert all(np.isfinite(h["loss"]) and np.isfinite(h["val_loss"]) for h in estimator.history_)


def test_predict_scores_before_fit():
    from seqrec_trainer.errors import NotFittedError

    with pytest.raises(NotFittedError):
        SASRecClassifierEstimator().predict_scores(np.ones((1, 3), dtype=np.int64))


@pytest.mark.filterwarnings("ignore::seqrec_trainer.errors.SlowPrecisionWarning")
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bf16_precision_trains_float32_weights_close_to_float32(cls, overfit_data):
    """bf16 autocast changes the encoder's arithmetic only: same data, close losses."""
    prepared, n_items = overfit_data
    params = {**OVERFIT_PARAMS, "loss_fn_name": cls().loss_fn_name, "epochs": 2}
    fp32 = cls(**params).fit(prepared.train.sequences, n_items, valid=prepared.valid)
    bf16 = cls(**params, precision="bf16").fit(prepared.train.sequences, n_items,
                                               valid=prepared.valid)
    assert all(p.dtype == torch.float32 for p in bf16.network_.parameters())
    fp32_losses = [h["loss"] for h in fp32.history_]
    bf16_losses = [h["loss"] for h in bf16.history_]
    np.testing.assert_allclose(bf16_losses, fp32_losses, rtol=0.05)
    assert bf16_losses != fp32_losses  # the bf16 path really ran in lower precision
    scores = bf16.predict_scores(prepared.valid.inputs[:4])
    assert scores.dtype == np.float32 and np.isfinite(scores).all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_packing_does_not_change_what_is_learned(cls, overfit_data):
    """Without dropout, packed and left-padded training see the same batches: the same model
    up to float summation order, which 2 epochs at learning rate 0.05 amplify a little (a
    third epoch amplified it past 2e-3 on an AVX2-only CPU: the kernels' order differs by
    instruction set)."""
    prepared, n_items = overfit_data
    params = {**OVERFIT_PARAMS, "loss_fn_name": cls().loss_fn_name, "epochs": 2}
    packed = cls(**params).fit(prepared.train.sequences, n_items, valid=prepared.valid)
    padded = cls(**params, pack_sequences=False).fit(prepared.train.sequences, n_items,
                                                     valid=prepared.valid)
    assert packed.pack_sequences is True  # the default
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose([h[key] for h in packed.history_],
                                   [h[key] for h in padded.history_], rtol=2e-3)
    np.testing.assert_allclose(packed.predict_scores(prepared.valid.inputs[:8]),
                               padded.predict_scores(prepared.valid.inputs[:8]),
                               rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("with_validation", [True, False])
def test_epoch_callbacks_see_the_network_in_eval_mode(overfit_data, with_validation):
    """Fixed: without validation, callbacks got the network with dropout still active."""
    prepared, n_items = overfit_data
    modes = []
    estimator = SASRecClassifierEstimator(**{**OVERFIT_PARAMS, "epochs": 2, "dropout_rate": 0.5})
    estimator.fit(prepared.train.sequences, n_items,
                  valid=prepared.valid if with_validation else None,
                  callbacks=[lambda epoch, network, record: modes.append(network.training)])
    assert modes == [False, False]


def test_callbacks_are_an_argument_and_the_attribute_is_deprecated(overfit_data):
    prepared, n_items = overfit_data
    seen = []
    estimator = SASRecClassifierEstimator(**{**OVERFIT_PARAMS, "epochs": 2})
    estimator.fit(prepared.train.sequences, n_items,
                  callbacks=[lambda epoch, network, record: seen.append(epoch)])
    assert seen == [1, 2]
    legacy = SASRecClassifierEstimator(**{**OVERFIT_PARAMS, "epochs": 1})
    legacy.epoch_callbacks = [lambda epoch, network, record: seen.append(("legacy", epoch))]
    with pytest.warns(DeprecationWarning, match="callbacks="):
        legacy.fit(prepared.train.sequences, n_items)
    assert seen[-1] == ("legacy", 1)
