"""Pre-LayerNorm transformer block of SASRec."""

from __future__ import annotations

import torch
from torch import nn

from .attention import MultiHeadSelfAttention
from .dropout import FastDropout


class PointWiseFeedForward(nn.Module):
    """Position-wise two-layer feed-forward network with GELU."""

    def __init__(self, hidden_units: int, dropout_rate: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden_units, hidden_units),
            nn.GELU(),
            FastDropout(dropout_rate),
            nn.Linear(hidden_units, hidden_units),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """``x + Attn(LN(x))`` then ``x + FFN(LN(x))`` (pre-norm, residual dropout)."""

    def __init__(self, hidden_units: int, num_heads: int, dropout_rate: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(hidden_units, eps=1e-8)
        self.attention = MultiHeadSelfAttention(hidden_units, num_heads)
        self.ffn_norm = nn.LayerNorm(hidden_units, eps=1e-8)
        self.ffn = PointWiseFeedForward(hidden_units, dropout_rate)
        self.dropout = FastDropout(dropout_rate)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Run the block; with ``last_only`` only the last position is computed and returned."""
        normed = self.attention_norm(x)
        if last_only:
            x = x[:, -1:, :]
            queries = normed[:, -1:, :]
        else:
            queries = normed
        x = x + self.dropout(self.attention(queries, normed, mask))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))
