"""The SASRec network: embeddings, causal blocks, tied output scores."""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import causal_padding_mask, last_query_mask, segment_causal_mask
from .blocks import TransformerBlock
from .dropout import FastDropout
from .transition_prior import transition_scores


class SASRecNetwork(nn.Module):
    """Self-attentive sequential recommender (Kang & McAuley, 2018), pre-LN variant.

    Inputs are left-padded item indices (0 = padding, items are ``1..n_items``). Positions
    are counted from the END of the row, so a row trimmed to its real items scores exactly
    like the same row padded to ``max_len``.

    Parameters
    ----------
    n_items
        Number of items (the embedding table has ``n_items + 1`` rows, row 0 = padding).
    max_len
        Longest input accepted (size of the positional table).
    hidden_units, num_blocks, num_heads, dropout_rate
        Architecture hyperparameters.
    item_prior
        Reserve buffers for an item prior (zeros until filled, see :mod:`.item_prior`)
        whose rows for the user's history items are added to the scores of
        :meth:`forward`. Training losses never use it.
    item_prior_rank
        ``None``: the prior is a full ``(n_items, n_items)`` buffer ``item_prior_matrix``
        (EASE). An int ``r``: it is ``item_prior_factors @ diag(item_prior_scales) @
        item_prior_factors.T`` with its diagonal set to zero, from buffers of shape
        ``(n_items, r)`` and ``(r,)``.
    item_prior_neighbors
        An int ``k``: the ``"transitions"`` prior instead (see :mod:`.transition_prior`),
        ``item_prior_neighbor_items`` / ``item_prior_neighbor_weights`` of shape
        ``(n_items, k)``, scored from the order of ``item_seq`` (``history_items`` is
        not used). Overrides ``item_prior_rank``.
    """

    # prior buffers (registered in __init__; None when the network has no such prior)
    item_prior_matrix: torch.Tensor | None
    item_prior_factors: torch.Tensor | None
    item_prior_scales: torch.Tensor | None
    item_prior_neighbor_items: torch.Tensor | None
    item_prior_neighbor_weights: torch.Tensor | None

    def __init__(
        self,
        n_items: int,
        max_len: int,
        hidden_units: int = 50,
        num_blocks: int = 2,
        num_heads: int = 1,
        dropout_rate: float = 0.2,
        item_prior: bool = False,
        item_prior_rank: int | None = None,
        item_prior_neighbors: int | None = None,
    ) -> None:
        super().__init__()
        self.n_items = n_items
        self.max_len = max_len
        self.hidden_units = hidden_units
        self.item_embedding = nn.Embedding(n_items + 1, hidden_units, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, hidden_units)
        self.embedding_dropout = FastDropout(dropout_rate)
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden_units, num_heads, dropout_rate) for _ in range(num_blocks)
        )
        self.final_norm = nn.LayerNorm(hidden_units, eps=1e-8)
        transitions = item_prior and item_prior_neighbors is not None
        full = item_prior and not transitions and item_prior_rank is None
        low_rank = item_prior and not transitions and item_prior_rank is not None
        # None buffers are left out of state_dict(), so models without a prior keep theirs
        self.register_buffer("item_prior_matrix", torch.zeros(n_items, n_items) if full else None)
        rank = item_prior_rank or 0
        self.register_buffer("item_prior_factors",
                             torch.zeros(n_items, rank) if low_rank else None)
        self.register_buffer("item_prior_scales", torch.zeros(rank) if low_rank else None)
        width = item_prior_neighbors or 0
        self.register_buffer("item_prior_neighbor_items", torch.zeros(
            n_items, width, dtype=torch.long) if transitions else None)
        self.register_buffer("item_prior_neighbor_weights",
                             torch.zeros(n_items, width) if transitions else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal init for embeddings (pad row zero), Xavier for linear layers."""
        nn.init.normal_(self.item_embedding.weight, std=self.hidden_units**-0.5)
        nn.init.normal_(self.position_embedding.weight, std=self.hidden_units**-0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def _embed(self, item_seq: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        if positions is None:
            length = item_seq.shape[1]
            positions = ((length - 1) - torch.arange(length, device=item_seq.device)).unsqueeze(0)
        x = self.item_embedding(item_seq) * math.sqrt(self.hidden_units)
        x = x + self.position_embedding(positions)
        return self.embedding_dropout(x)

    def encode(
        self,
        item_seq: torch.Tensor,
        positions: torch.Tensor | None = None,
        segments: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden state at every position: ``(B, L, d)`` (used for training).

        Packed rows (``estimator.packing``) pass per-slot ``positions`` and ``segments``;
        each segment is then encoded exactly as its window alone, left-padded.
        """
        x = self._embed(item_seq, positions)
        mask = causal_padding_mask(item_seq) if segments is None else segment_causal_mask(segments)
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x)

    def encode_last(self, item_seq: torch.Tensor) -> torch.Tensor:
        """Hidden state of the last position only: ``(B, d)``.

        The final block computes only the last query (the others are never needed).
        """
        x = self._embed(item_seq)
        blocks = list(self.blocks)
        if len(blocks) > 1:
            mask = causal_padding_mask(item_seq)
            for block in blocks[:-1]:
                x = block(x, mask)
        x = blocks[-1](x, last_query_mask(item_seq), last_only=True)
        return self.final_norm(x[:, -1, :])

    def item_weights(self) -> torch.Tensor:
        """Output embeddings of the real items, ``(n_items, d)`` (tied to the input table)."""
        return self.item_embedding.weight[1:]

    @property
    def has_item_prior(self) -> bool:
        """Whether :meth:`forward` adds an item-prior term (built with ``item_prior=True``)."""
        return (self.item_prior_matrix is not None or self.item_prior_factors is not None
                or self.item_prior_neighbor_items is not None)

    def history_prior(self, history_items: torch.Tensor) -> torch.Tensor:
        """Item-prior term ``(B, n_items)``: the sum of the prior rows of the given items.

        ``history_items`` is any ``(B, H)`` index matrix (0 = padding, counts for
        nothing); each distinct item of a row counts once (a 0/1 indicator).
        """
        matrix = self.item_prior_matrix
        factors, scales = self.item_prior_factors, self.item_prior_scales
        reference = matrix if matrix is not None else factors
        if not self.has_item_prior or reference is None:
            raise RuntimeError("this network was built without item_prior=True")
        indicator = torch.zeros(history_items.shape[0], self.n_items + 1, dtype=reference.dtype,
                                device=history_items.device)
        indicator = indicator.scatter(1, history_items, 1.0)[:, 1:]
        if matrix is not None:
            return indicator @ matrix
        if factors is None or scales is None:
            raise RuntimeError("the low-rank item prior needs both factors and scales")
        # V diag(s) V^T with its diagonal removed, as EASE's: an item never scores itself
        self_scores = (factors * factors) @ scales
        return ((indicator @ factors) * scales) @ factors.T - indicator * self_scores

    def forward(
        self, item_seq: torch.Tensor, history_items: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores of every item for the next step: ``(B, n_items)`` float32.

        With an item prior, ``history_items`` (the items of the user's whole history, any
        ``(B, H)`` index matrix, 0 = padding) feed the prior term; ``None`` uses
        ``item_seq``. Without a prior it is ignored, and so is it by the ``"transitions"``
        prior, which reads the order of ``item_seq``.
        """
        scores = self.encode_last(item_seq) @ self.item_weights().T
        neighbor_items = self.item_prior_neighbor_items
        neighbor_weights = self.item_prior_neighbor_weights
        if neighbor_items is not None and neighbor_weights is not None:
            prior = transition_scores(item_seq, neighbor_items, neighbor_weights, self.n_items)
            scores = scores + prior
        elif self.has_item_prior:
            history = item_seq if history_items is None else history_items
            scores = scores + self.history_prior(history)
        return scores
