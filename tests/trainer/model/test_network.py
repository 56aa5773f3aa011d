"""SASRecNetwork: padding invariance, no NaN, causality, batch independence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_trainer.estimator.training import trim_to_longest
from seqrec_trainer.model import SASRecNetwork

N_ITEMS, MAX_LEN = 40, 12


@pytest.fixture(scope="module", params=[(1, 1), (2, 2)], ids=["1block-1head", "2blocks-2heads"])
def network(request) -> SASRecNetwork:
    num_blocks, num_heads = request.param
    torch.manual_seed(0)
    net = SASRecNetwork(N_ITEMS, MAX_LEN, hidden_units=16, num_blocks=num_blocks,
                        num_heads=num_heads, dropout_rate=0.3)
    with torch.no_grad():  # non-trivial padding row would expose any leak of padding
        net.item_embedding.weight[0].normal_()
    return net.eval()


def _left_pad(items: list[int], width: int) -> torch.Tensor:
    return torch.tensor([[0] * (width - len(items)) + items], dtype=torch.long)


@torch.no_grad()
@pytest.mark.parametrize("length", [1, 2, 5, MAX_LEN - 1, MAX_LEN])
def test_trimmed_row_scores_like_left_padded_row(network, length):
    gen = torch.Generator().manual_seed(length)
    items = torch.randint(1, N_ITEMS + 1, (length,), generator=gen)
    trimmed = network(items.view(1, -1))
    for width in range(length, MAX_LEN + 1):
        padded = network(_left_pad(items.tolist(), width))
        torch.testing.assert_close(padded, trimmed, atol=1e-5, rtol=1e-5)
    assert trimmed.shape == (1, N_ITEMS)
    assert trimmed.dtype == torch.float32


@torch.no_grad()
def test_last_position_fast_path_equals_full_encoding(network):
    rows = torch.randint(0, N_ITEMS + 1, (16, MAX_LEN), generator=torch.Generator().manual_seed(1))
    rows[:, -1] = torch.randint(1, N_ITEMS + 1, (16,))
    torch.testing.assert_close(network.encode_last(rows), network.encode(rows)[:, -1], atol=1e-5,
                               rtol=1e-5)


@torch.no_grad()
def test_fully_padded_rows_and_random_padding_patterns_are_finite(network):
    gen = torch.Generator().manual_seed(2)
    rows = torch.randint(1, N_ITEMS + 1, (64, MAX_LEN), generator=gen)
    rows[torch.rand(rows.shape, generator=gen) < 0.5] = 0  # zeros anywhere, even at the end
    rows[:4] = 0  # fully padded
    rows[4, :-1] = 0  # a single item
    for out in (network(rows), network.encode(rows), network(rows[:, -1:])):
        assert torch.isfinite(out).all()


def test_gradients_are_finite_with_padding():
    torch.manual_seed(3)
    net = SASRecNetwork(N_ITEMS, MAX_LEN, hidden_units=16, num_blocks=2, dropout_rate=0.2).train()
    rows = torch.randint(0, N_ITEMS + 1, (8, MAX_LEN))
    rows[:2] = 0
    net.encode(rows).sum().backward()
    net(rows).sum().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


@torch.no_grad()
def test_a_row_scores_the_same_alone_and_in_a_batch(network):
    gen = torch.Generator().manual_seed(4)
    batch = torch.randint(1, N_ITEMS + 1, (10, MAX_LEN), generator=gen)
    for r, length in enumerate([1, 3, 5, 12, 7, 2, 12, 9, 4, 6]):
        batch[r, : MAX_LEN - length] = 0
    together = network(batch)
    for r in range(len(batch)):
        alone = network(trim_to_longest(batch[r : r + 1]))
        torch.testing.assert_close(alone[0], together[r], atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_encoding_is_causal(network):
    row = torch.randint(1, N_ITEMS + 1, (1, MAX_LEN), generator=torch.Generator().manual_seed(5))
    changed = row.clone()
    changed[0, 8:] = (changed[0, 8:] % N_ITEMS) + 1
    before, after = network.encode(row), network.encode(changed)
    torch.testing.assert_close(before[:, :8], after[:, :8], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(before[:, 8:], after[:, 8:])


@torch.no_grad()
def test_scores_depend_on_order(network):
    row = torch.arange(1, 7).view(1, -1)
    assert not torch.allclose(network(row), network(row.flip(1)))


def test_tied_output_embeddings_and_zero_padding_init():
    net = SASRecNetwork(N_ITEMS, MAX_LEN, hidden_units=8, num_blocks=1)
    assert net.item_weights().shape == (N_ITEMS, 8)
    assert net.item_weights().data_ptr() == net.item_embedding.weight[1:].data_ptr()
    assert torch.count_nonzero(net.item_embedding.weight[0]) == 0


def test_hidden_units_must_be_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        SASRecNetwork(N_ITEMS, MAX_LEN, hidden_units=10, num_blocks=1, num_heads=3)


def test_trim_to_longest():
    batch = torch.tensor([[0, 0, 0, 4], [0, 0, 2, 3]])
    assert trim_to_longest(batch).tolist() == [[0, 4], [2, 3]]
    assert np.array_equal(trim_to_longest(torch.tensor([[1, 0, 2]])).numpy(), [[1, 0, 2]])
