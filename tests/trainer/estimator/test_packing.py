"""Sequence packing: same windows, same targets, same loss and gradients as left-padded rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer.estimator.losses import ce_loss, mse_loss
from seqrec_trainer.estimator.packing import first_fit_decreasing, pack_windows
from seqrec_trainer.estimator.training import training_step_loss
from seqrec_trainer.model import SASRecNetwork
from seqrec_trainer.model.attention import segment_causal_mask


def _windows(n_rows: int, width: int, n_items: int, seed: int) -> torch.Tensor:
    """Left-padded windows with 0..width real items (some rows empty or a single item)."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((n_rows, width), dtype=np.int64)
    for r in range(n_rows):
        n = rng.integers(0, width + 1)
        rows[r, width - n:] = rng.integers(1, n_items + 1, n)
    return torch.as_tensor(rows)


def test_first_fit_decreasing_fills_bins_without_overlap():
    lengths = np.array([3, 5, 2, 5, 1, 4])
    bins, offsets = first_fit_decreasing(lengths, capacity=6)
    # longest first: 5 -> bin 0, 5 -> bin 1, 4 -> bin 2, 3 -> bin 3; then the first bin
    # with room: 2 -> bin 2, 1 -> bin 0
    assert bins.tolist() == [3, 0, 2, 1, 0, 2]
    assert offsets.tolist() == [0, 0, 4, 0, 5, 0]
    for b in np.unique(bins):
        in_bin = bins == b
        spans = sorted((o, o + n) for o, n in zip(offsets[in_bin], lengths[in_bin], strict=True))
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))
        assert spans[-1][1] <= 6


def test_first_fit_decreasing_packs_many_windows_tightly():
    lengths = np.random.default_rng(0).integers(1, 201, 5000)
    bins, offsets = first_fit_decreasing(lengths, capacity=200)
    assert (offsets + lengths).max() <= 200
    for b in np.unique(bins):
        in_bin = np.flatnonzero(bins == b)
        in_bin = in_bin[np.argsort(offsets[in_bin])]
        assert (offsets[in_bin][1:] >= (offsets + lengths)[in_bin][:-1]).all()  # no overlap
    lower_bound = lengths.sum() / 200  # no packing uses fewer bins
    assert bins.max() + 1 <= 1.02 * lower_bound + 1


def test_pack_windows_keeps_every_pair_in_order_with_positions_from_its_end():
    windows = torch.tensor([
        [0, 0, 0, 4, 5, 6],   # 2 pairs: (4,5), (5,6)
        [0, 0, 0, 0, 0, 7],   # one item: no pair, dropped
        [1, 2, 3, 4, 5, 6],   # 5 pairs
        [0, 0, 0, 0, 8, 9],   # 1 pair
    ])
    outcomes = torch.arange(24, dtype=torch.float32).view(4, 6)
    packed = pack_windows(windows, outcomes)
    assert packed.inputs.shape == (2, 5)  # 5 + 2 + 1 pairs into rows of 5
    pairs = {}
    for r in range(2):
        for s in range(5):
            seg = int(packed.segments[r, s])
            if seg < 0:
                assert packed.inputs[r, s] == 0 and packed.targets[r, s] == 0
                continue
            pairs.setdefault(seg, []).append(
                (int(packed.inputs[r, s]), int(packed.targets[r, s]),
                 int(packed.positions[r, s]), float(packed.outcomes[r, s])))
    by_first_input = {p[0][0]: p for p in pairs.values()}
    assert by_first_input[4] == [(4, 5, 1, 4.0), (5, 6, 0, 5.0)]
    assert by_first_input[8] == [(8, 9, 0, 23.0)]
    assert [p[:3] for p in by_first_input[1]] == [
        (1, 2, 4), (2, 3, 3), (3, 4, 2), (4, 5, 1), (5, 6, 0)]
    assert [p[3] for p in by_first_input[1]] == [13.0, 14.0, 15.0, 16.0, 17.0]
    assert len(pairs) == 3


def test_pack_windows_rejects_a_gap_inside_a_window():
    with pytest.raises(ValueError, match="left-padded"):
        pack_windows(torch.tensor([[0, 3, 0, 4, 5]]))


def test_segment_mask_is_causal_within_a_segment_and_lets_empty_slots_see_themselves():
    mask = segment_causal_mask(torch.tensor([[0, 0, 1, 1, 1, -1]]))[0, 0]
    want = torch.tensor([
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [0, 0, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 1],
    ], dtype=torch.bool)
    assert torch.equal(mask, want)


def test_packed_rows_encode_each_window_as_if_alone():
    torch.manual_seed(0)
    network = SASRecNetwork(n_items=30, max_len=12, hidden_units=16, num_blocks=2,
                            num_heads=2, dropout_rate=0.0).eval()
    windows = _windows(10, 13, 30, seed=1)
    packed = pack_windows(windows)
    hidden = network.encode(packed.inputs, packed.positions, packed.segments)
    alone = network.encode(windows[:, :-1])
    keep = [r for r in range(10) if ((windows[r, :-1] != 0) & (windows[r, 1:] != 0)).any()]
    for seg, r in enumerate(keep):
        n = int(((windows[r, :-1] != 0) & (windows[r, 1:] != 0)).sum())
        torch.testing.assert_close(hidden[packed.segments == seg], alone[r, -n:],
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("loss_fn", "kwargs"), [(ce_loss, {"label_smoothing": 0.1}),
                                                 (ce_loss, {"weighted": True}),
                                                 (mse_loss, {})])
def test_packed_step_has_the_loss_and_gradients_of_the_left_padded_step(loss_fn, kwargs):
    torch.manual_seed(0)
    network = SASRecNetwork(n_items=40, max_len=20, hidden_units=16, num_blocks=2,
                            num_heads=2, dropout_rate=0.0)
    windows = _windows(48, 21, 40, seed=2)
    outcomes = torch.rand(windows.shape, generator=torch.Generator().manual_seed(3))
    results = []
    for pack in (False, True):
        network.zero_grad()
        loss = training_step_loss(network, windows, outcomes, loss_fn, kwargs, None, pack)
        loss.backward()
        grads = [p.grad.clone() for p in network.parameters()]
        results.append((loss.detach(), grads))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-6, atol=1e-6)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
    assert pack_windows(windows).inputs.shape[0] < len(windows)  # it really packed
