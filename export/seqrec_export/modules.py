"""Export-time wrappers around the trained network (tensors in, tensors out)."""

from __future__ import annotations

import torch
from torch import nn


def masked_top_k(scores: torch.Tensor, exclude_items: torch.Tensor, k: int):
    """``(top_scores, top_indices)`` of ``scores`` with the ``exclude_items`` model indices
    set to ``-inf`` (0 entries mask nothing); indices are 0-based score columns."""
    pad = torch.full_like(scores[:, :1], float("-inf"))
    full = torch.cat([pad, scores], dim=1).scatter(1, exclude_items, float("-inf"))
    return torch.topk(full[:, 1:], k, dim=1)


class ScoresGraph(nn.Module):
    """``item_seq (B, L) -> scores (B, n_items)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        return self.network(item_seq)


class TopKGraph(nn.Module):
    """``(item_seq, exclude_items) -> (top_scores, top_indices)`` with TopK in the graph.

    ``exclude_items`` holds model indices to mask (0 entries mask nothing); ``top_indices``
    are 0-based score columns.
    """

    def __init__(self, network: nn.Module, k: int) -> None:
        super().__init__()
        self.network = network
        self.k = k

    def forward(self, item_seq: torch.Tensor, exclude_items: torch.Tensor):
        return masked_top_k(self.network(item_seq), exclude_items, self.k)


class ScoresAndTopKGraph(nn.Module):
    """``(item_seq, exclude_items, history_items) -> (scores, top_scores, top_indices)``:
    both graphs of an artifact with an item prior in one model, so the prior's matrix is
    stored and loaded once."""

    def __init__(self, network: nn.Module, k: int) -> None:
        super().__init__()
        self.network = network
        self.k = k

    def forward(self, item_seq: torch.Tensor, exclude_items: torch.Tensor,
                history_items: torch.Tensor):
        scores = self.network(item_seq, history_items)
        top_scores, top_indices = masked_top_k(scores, exclude_items, self.k)
        return scores, top_scores, top_indices
