"""The experimental user-ID embedding (session 12 screen): data, packing, network, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer import SASRecClassifierEstimator
from seqrec_trainer.data.training import build_vocabulary, prepare
from seqrec_trainer.data.windows import all_windows, window_users
from seqrec_trainer.estimator.losses import ce_loss
from seqrec_trainer.estimator.packing import pack_windows
from seqrec_trainer.estimator.training import training_step_loss
from seqrec_trainer.model import SASRecNetwork


def _interactions(n_users: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 30, n_users)
    users = np.repeat(np.arange(100, 100 + n_users), lengths)
    return {
        "USER_ID": users,
        "ITEM_ID": rng.integers(1, 40, len(users)),
        "TIMESTAMP": np.concatenate([np.arange(n) for n in lengths]).astype(np.int64),
    }


def test_window_users_names_the_user_of_every_window():
    rng = np.random.default_rng(1)
    counts = np.array([1, 2, 7, 15, 0, 4])
    users = np.repeat(np.arange(len(counts)), counts)
    items = rng.integers(1, 50, len(users))
    windows, _ = all_windows(users, items, width=5)
    owners = window_users(users, width=5)
    assert len(owners) == len(windows)
    for window, owner in zip(windows, owners, strict=True):
        history = items[users == owner]
        real = window[window != 0]
        # each window is a contiguous run of its owner's history
        starts = [s for s in range(len(history) - len(real) + 1)
                  if np.array_equal(history[s:s + len(real)], real)]
        assert starts, (owner, real, history)


@pytest.mark.parametrize("history_windows", ["last", "all"])
def test_prepare_gives_each_training_row_and_validation_target_its_user(history_windows):
    data = _interactions()
    users = np.unique(data["USER_ID"])
    last = np.r_[np.flatnonzero(np.diff(data["USER_ID"])), len(data["USER_ID"]) - 1]
    keep = np.ones(len(data["USER_ID"]), dtype=bool)
    keep[last] = False
    train = {k: v[keep] for k, v in data.items()}
    valid = {k: v[last] for k, v in data.items()}
    vocabulary = build_vocabulary(train, None)
    prepared = prepare(train, valid, vocabulary, max_len=6, history_windows=history_windows)
    assert prepared.train.users.shape == (len(prepared.train.sequences),)
    assert prepared.train.users.min() >= 1 and prepared.train.users.max() <= len(users)
    for seq, user in zip(prepared.train.sequences, prepared.train.users, strict=True):
        own = vocabulary.encode(train["ITEM_ID"][train["USER_ID"] == users[user - 1]])
        real = seq[seq != 0]
        assert any(np.array_equal(own[s:s + len(real)], real)
                   for s in range(len(own) - len(real) + 1))
    # validation users are coded like training users
    expected = np.searchsorted(users, valid["USER_ID"]) + 1
    assert sorted(prepared.valid.users.tolist()) == sorted(expected.tolist())


def test_packing_places_each_windows_user_on_all_its_slots():
    windows = torch.tensor([[0, 0, 0, 4, 5, 6], [0, 0, 0, 0, 0, 7], [1, 2, 3, 4, 5, 6],
                            [0, 0, 0, 0, 8, 9]])
    users = torch.tensor([11, 12, 13, 14])
    packed = pack_windows(windows, None, users)
    real = packed.segments >= 0
    kept = torch.tensor([0, 2, 3])  # the one-item window has no pair and is dropped
    assert torch.equal(packed.users[real], users[kept][packed.segments[real]])
    assert bool((packed.users[~real] == 0).all())


def test_packed_and_padded_losses_agree_with_users():
    torch.manual_seed(0)
    net = SASRecNetwork(n_items=20, max_len=6, hidden_units=8, num_blocks=2,
                        dropout_rate=0.0, n_users=5).eval()
    windows = torch.tensor([[0, 0, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 9, 2],
                            [1, 2, 3, 4, 5, 6, 8], [0, 0, 0, 0, 8, 9, 1]])
    users = torch.tensor([1, 2, 5, 3])
    kwargs = {"label_smoothing": 0.0, "weighted": False}
    padded = training_step_loss(net, windows, None, ce_loss, kwargs, users=users)
    packed = training_step_loss(net, windows, None, ce_loss, kwargs, pack_sequences=True,
                                users=users)
    assert torch.allclose(padded, packed, atol=1e-5)
    other = training_step_loss(net, windows, None, ce_loss, kwargs, users=users.flip(0))
    assert not torch.allclose(padded, other)


def test_no_user_is_the_unknown_row_and_users_change_the_scores():
    torch.manual_seed(0)
    net = SASRecNetwork(n_items=20, max_len=6, hidden_units=8, n_users=3).eval()
    seq = torch.tensor([[0, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6]])
    unknown = net.encode_last(seq)
    assert torch.equal(unknown, net.encode_last(seq, torch.zeros(2, dtype=torch.long)))
    assert not torch.allclose(unknown, net.encode_last(seq, torch.tensor([1, 2])))
    plain = SASRecNetwork(n_items=20, max_len=6, hidden_units=8)
    assert plain.user_embedding is None


@pytest.mark.parametrize("user_dropout, trained_rows", [(0.0, "users"), (1.0, "unknown")])
def test_user_dropout_decides_which_rows_learn(user_dropout, trained_rows):
    rng = np.random.default_rng(0)
    sequences = rng.integers(1, 30, (40, 7))
    users = np.repeat(np.arange(1, 5), 10)
    est = SASRecClassifierEstimator(hidden_units=8, num_blocks=1, max_len=6, epochs=2,
                                    loss_fn_name="ce", random_state=0, user_embedding=True,
                                    user_dropout=user_dropout)
    torch.manual_seed(0)
    initial = est.build_network(29, n_users=4).user_embedding.weight.detach().clone()
    est.fit(sequences, 29, users=users, n_users=4)
    moved = (est.network_.user_embedding.weight.detach() - initial).abs().sum(1) > 0
    assert est.n_users_ == 4
    if trained_rows == "users":
        assert not bool(moved[0]) and bool(moved[1:].all())
    else:
        assert bool(moved[0]) and not bool(moved[1:].any())


def test_fit_twice_gives_the_same_model():
    rng = np.random.default_rng(0)
    sequences = rng.integers(1, 30, (40, 7))
    users = np.repeat(np.arange(1, 5), 10)

    def fitted():
        est = SASRecClassifierEstimator(hidden_units=8, num_blocks=1, max_len=6, epochs=2,
                                        loss_fn_name="ce", random_state=3,
                                        user_embedding=True, user_dropout=0.3)
        return est.fit(sequences, 29, users=users, n_users=4).network_.state_dict()

    first, second = fitted(), fitted()
    assert all(torch.equal(first[k], second[k]) for k in first)
