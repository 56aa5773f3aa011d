"""Masked causal self-attention that never produces NaN and exports cleanly to ONNX."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def causal_padding_mask(item_seq: torch.Tensor) -> torch.Tensor:
    """Boolean ``(batch, 1, L, L)`` mask, True where query ``i`` may attend key ``j``.

    A query attends to earlier-or-equal positions holding a real item, and always to
    itself, so fully padded rows (left padding, index 0) still have one allowed key and
    softmax never sees an all-masked row. Built from ``arange`` comparisons only.
    """
    length = item_seq.shape[1]
    idx = torch.arange(length, device=item_seq.device)
    causal = idx.unsqueeze(0) <= idx.unsqueeze(1)  # [L_q, L_k]: key j <= query i
    is_self = idx.unsqueeze(0) == idx.unsqueeze(1)
    real_key = (item_seq != 0).unsqueeze(1)  # [B, 1, L_k]
    return (causal.unsqueeze(0) & (real_key | is_self.unsqueeze(0))).unsqueeze(1)


def segment_causal_mask(segments: torch.Tensor) -> torch.Tensor:
    """Boolean ``(batch, 1, L, L)`` mask for packed rows (see ``estimator.packing``).

    A query attends to earlier-or-equal positions of its own segment (``segments`` holds
    one id per position, -1 for unused slots) and always to itself. Within a segment this
    is :func:`causal_padding_mask` of the same window unpacked.
    """
    length = segments.shape[1]
    idx = torch.arange(length, device=segments.device)
    causal = idx.unsqueeze(0) <= idx.unsqueeze(1)
    is_self = idx.unsqueeze(0) == idx.unsqueeze(1)
    same = segments.unsqueeze(2) == segments.unsqueeze(1)  # [B, L_q, L_k]
    real_key = (segments >= 0).unsqueeze(1)
    return ((causal.unsqueeze(0) & same & real_key) | is_self.unsqueeze(0)).unsqueeze(1)


def last_query_mask(item_seq: torch.Tensor) -> torch.Tensor:
    """Boolean ``(batch, 1, 1, L)`` mask for the last position's query only."""
    length = item_seq.shape[1]
    idx = torch.arange(length, device=item_seq.device)
    is_last = (idx == length - 1).unsqueeze(0)
    return ((item_seq != 0) | is_last).unsqueeze(1).unsqueeze(1)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention with separate query input (so a block can query one position).

    Parameters
    ----------
    hidden_units
        Model width; must be divisible by ``num_heads``.
    num_heads
        Number of attention heads.

    Notes
    -----
    Attention *weights* are not dropped out (dropout is applied to embeddings, the
    attention output and the feed-forward network instead): dropout inside
    ``scaled_dot_product_attention`` forces the unfused kernel on CPU, which makes
    a training step markedly slower at max_len 200.
    """

    def __init__(self, hidden_units: int, num_heads: int) -> None:
        super().__init__()
        if hidden_units % num_heads:
            raise ValueError(
                f"hidden_units={hidden_units} must be divisible by num_heads={num_heads}"
            )
        self.num_heads = num_heads
        self.head_dim = hidden_units // num_heads
        self.query = nn.Linear(hidden_units, hidden_units)
        self.key = nn.Linear(hidden_units, hidden_units)
        self.value = nn.Linear(hidden_units, hidden_units)
        self.output = nn.Linear(hidden_units, hidden_units)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Attend ``queries`` ``(B, Lq, d)`` over ``keys`` ``(B, L, d)`` under boolean ``mask``."""
        q = self._split(self.query(queries))
        k = self._split(self.key(keys))
        v = self._split(self.value(keys))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        batch, _, length, _ = out.shape
        out = out.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.output(out)
