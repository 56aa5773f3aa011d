"""``item_prior_mode="residual"``: the network trains with the item prior in its logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from seqrec_trainer import InteractionsDataset, SASRecClassifierEstimator, SequentialRecommender
from seqrec_trainer.data.windows import all_window_starts, all_windows
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.estimator.losses import ce_loss
from seqrec_trainer.estimator.residual_prior import CausalPrior, WindowContext, fold_matrices
from seqrec_trainer.estimator.training import training_step_loss
from seqrec_trainer.model import SASRecNetwork
from seqrec_trainer.model.item_prior import cooccurrence_gram, ease_matrix

WEIGHT, L2 = 1.5, 4.0
N_ITEMS, WIDTH = 30, 6


@pytest.fixture(scope="module")
def histories():
    """Sorted (user, item) rows with repeated items, and their windows of WIDTH items."""
    rng = np.random.default_rng(0)
    counts = rng.integers(2, 25, 40)
    users = np.repeat(np.arange(len(counts)), counts)
    items = rng.integers(1, N_ITEMS + 1, len(users))
    windows, _ = all_windows(users, items, WIDTH)
    context = WindowContext(*all_window_starts(users, WIDTH))
    return users, items, windows, context


def test_fold_matrices_leave_out_each_folds_users(histories):
    users, items, _, _ = histories
    user_fold, matrices = fold_matrices(users, items, N_ITEMS, L2, WEIGHT, folds=4, seed=3)
    assert matrices.shape == (4, N_ITEMS, N_ITEMS)
    assert np.bincount(user_fold).tolist() == [10, 10, 10, 10]
    for k in range(4):
        others = user_fold[users] != k
        expected = WEIGHT * ease_matrix(cooccurrence_gram(users[others], items[others],
                                                          N_ITEMS), L2)
        np.testing.assert_allclose(matrices[k], expected, rtol=1e-4, atol=1e-6)


def test_causal_prior_sums_the_distinct_items_before_each_target(histories):
    users, items, windows, context = histories
    user_fold, matrices = fold_matrices(users, items, N_ITEMS, L2, WEIGHT)
    prior = CausalPrior(user_fold, matrices, users, items, context, torch.device("cpu"))
    ids = np.arange(len(windows))[::-1].copy()  # any batch order
    logits = prior.logits(ids, torch.as_tensor(windows[ids, :-1])).numpy()
    first_row = np.searchsorted(users, np.arange(users.max() + 1))
    checked = 0
    assert (context.starts > 0).any() and len(np.unique(items)) < len(items)
    for b, w in enumerate(ids):
        user, row = context.users[w], windows[w, :-1]
        history = items[first_row[user]:][: np.sum(users == user)]
        n_real = int((row != 0).sum())
        for col in np.flatnonzero(row):
            position = context.starts[w] + col - (len(row) - n_real)
            assert history[position] == row[col]
            seen = np.unique(history[: position + 1])
            expected = matrices[user_fold[user]][seen - 1].sum(0)
            np.testing.assert_allclose(logits[b, col], expected, rtol=1e-5, atol=1e-5)
            checked += 1
    assert checked == len(items) - len(np.unique(users))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])  # chunked / fused path
def test_ce_loss_adds_constant_offsets_to_the_logits(label_smoothing, dtype):
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(50, 8, generator=gen, dtype=dtype, requires_grad=True)
    items = torch.randn(N_ITEMS, 8, generator=gen, dtype=dtype, requires_grad=True)
    targets = torch.randint(1, N_ITEMS + 1, (50,), generator=gen)
    offsets = torch.randn(50, N_ITEMS, generator=gen, dtype=dtype)
    loss = ce_loss(h, targets, torch.ones(50, dtype=dtype), items,
                   label_smoothing=label_smoothing, offsets=offsets)
    reference = F.cross_entropy(h @ items.T + offsets, targets - 1,
                                label_smoothing=label_smoothing)
    torch.testing.assert_close(loss, reference)
    for got, want in zip(torch.autograd.grad(loss, (h, items)),
                         torch.autograd.grad(reference, (h, items)), strict=True):
        torch.testing.assert_close(got, want)
    plain = ce_loss(h, targets, torch.ones(50, dtype=dtype), items)
    assert not torch.isclose(plain, loss)


def test_packed_and_unpacked_batches_give_the_same_residual_loss(histories):
    users, items, windows, context = histories
    prior = CausalPrior(*fold_matrices(users, items, N_ITEMS, L2, WEIGHT), users, items,
                        context, torch.device("cpu"))
    torch.manual_seed(0)
    network = SASRecNetwork(N_ITEMS, WIDTH - 1, 16, 2, 1, dropout_rate=0.0)
    ids = np.arange(len(windows))
    seqs = torch.as_tensor(windows)
    args = (network, seqs, None, ce_loss, {}, None)
    packed = training_step_loss(*args, True, prior, ids)
    unpacked = training_step_loss(*args, False, prior, ids)
    torch.testing.assert_close(packed, unpacked)
    assert not torch.isclose(packed, training_step_loss(*args, False))


# --------------------------------------------------------------------------- estimator
def _residual(make_recommender, **params):
    return make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2,
                            item_prior_mode="residual", **params)


@pytest.fixture(scope="module")
def trained(synthetic_table, make_recommender):
    order = np.lexsort((synthetic_table["TIMESTAMP"], synthetic_table["USER_ID"]))
    table = {k: v[order] for k, v in synthetic_table.items()}
    last = np.r_[np.flatnonzero(np.diff(table["USER_ID"])), len(order) - 1]
    keep = np.ones(len(order), dtype=bool)
    keep[last] = False
    train = {k: v[keep] for k, v in table.items()}
    valid = {k: v[last] for k, v in table.items()}
    post_hoc = make_recommender(max_len=6, item_prior_weight=WEIGHT, item_prior_l2=L2)
    residual = _residual(make_recommender)
    for rec in (post_hoc, residual):
        rec.train(interactions_ds=InteractionsDataset(train),
                  valid_interactions_ds=InteractionsDataset(valid))
    targets = dict(zip(valid["USER_ID"].tolist(), valid["ITEM_ID"].tolist(), strict=True))
    return train, post_hoc, residual, targets


def test_residual_training_changes_the_network_not_the_final_prior(trained):
    train, post_hoc, residual, _ = trained
    a = post_hoc.scorer.estimator.network_.state_dict()
    b = residual.scorer.estimator.network_.state_dict()
    torch.testing.assert_close(a["item_prior_matrix"], b["item_prior_matrix"], rtol=0, atol=0)
    assert not torch.equal(a["item_embedding.weight"], b["item_embedding.weight"])
    history = residual.scorer.estimator.history_
    assert history[0]["loss"] != post_hoc.scorer.estimator.history_[0]["loss"]
    assert all(np.isfinite(r["val_loss"]) and 0 <= r["val_ndcg@10"] <= 1 for r in history)


def test_residual_validation_ranks_network_plus_prior(trained):
    train, _, residual, targets = trained
    estimator = residual.scorer.estimator
    valid_users = np.unique(train["USER_ID"])
    users, scores = residual.score_items(train, return_user_ids=True)  # network + prior
    np.testing.assert_array_equal(users, valid_users)
    col = {item: j for j, item in enumerate(residual.item_ids_.tolist())}
    ndcg = []
    for row, user in enumerate(users):
        items = [col[i] for i in train["ITEM_ID"][train["USER_ID"] == user]]
        target = col[targets[user]]
        s = scores[row].copy()
        s[[i for i in items[-6:] if i != target]] = -np.inf  # validation masks its input
        rank = int((s > s[target]).sum())
        ndcg.append(1 / np.log2(rank + 2) if rank < 10 else 0.0)
    best = next(r for r in estimator.history_ if r["epoch"] == estimator.best_epoch_)
    assert best["val_ndcg@10"] == pytest.approx(np.mean(ndcg), abs=1e-6)


def test_residual_model_survives_save_load_and_refit(trained, make_recommender, tmp_path):
    train, _, residual, _ = trained
    scores = residual.score_items(train)
    residual.save(tmp_path / "model")
    loaded = SequentialRecommender.load(tmp_path / "model")
    assert loaded.scorer.estimator.item_prior_mode == "residual"
    np.testing.assert_array_equal(loaded.score_items(train), scores)
    again = _residual(make_recommender)
    again.train(interactions_ds=InteractionsDataset(train))
    assert again.scorer.estimator.history_[0]["loss"] == pytest.approx(
        residual.scorer.estimator.history_[0]["loss"], rel=1e-6)


def test_estimator_alone_treats_each_sequence_as_a_whole_history():
    sequences = np.array([[0, 1, 2, 3], [0, 0, 2, 4], [4, 1, 1, 3]])
    est = SASRecClassifierEstimator(hidden_units=8, max_len=3, epochs=1, loss_fn_name="ce",
                                    random_state=0, item_prior_weight=2.0, item_prior_l2=1.0,
                                    item_prior_mode="residual")
    est.fit(sequences, 4)
    x = np.zeros((3, 4))
    for r, row in enumerate([[1, 2, 3], [2, 4], [4, 1, 3]]):
        x[r, np.asarray(row) - 1] = 1.0
    np.testing.assert_allclose(est.network_.item_prior_matrix.numpy(),
                               2.0 * ease_matrix(x.T @ x, 1.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidParameterError, match="windows="):
        est.fit(sequences, 4, prior_histories=(np.array([0, 0]), np.array([1, 2])))


@pytest.mark.parametrize(("params", "missing"), [
    ({"item_prior_weight": 0.0}, "item_prior_weight > 0"),
    ({"item_prior_kind": "low_rank"}, "item_prior_kind='ease'"),
    ({"loss_fn_name": "bce"}, "loss_fn_name='ce'"),
])
def test_residual_mode_names_what_it_needs_before_training(params, missing):
    est = SASRecClassifierEstimator(**{"max_len": 3, "epochs": 1, "loss_fn_name": "ce",
                                       "item_prior_weight": 1.0, "item_prior_mode": "residual",
                                       **params})
    with pytest.raises(InvalidParameterError, match=f"lacks {missing}"):
        est.fit(np.array([[0, 1, 2, 3]]), 4)
    assert not hasattr(est, "network_")


def test_unknown_prior_mode_is_refused():
    est = SASRecClassifierEstimator(max_len=3, epochs=1, item_prior_mode="joint")
    with pytest.raises(InvalidParameterError, match="item_prior_mode must be one of"):
        est.fit(np.array([[0, 1, 2, 3]]), 4)
