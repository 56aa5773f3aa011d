"""Input noise for training: stochastic shared embeddings (Wu et al., NeurIPS 2019)."""

from __future__ import annotations

import torch


def replace_input_items(
    inputs: torch.Tensor, n_items: int, prob: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Replace each real input item, with probability ``prob``, by an item drawn uniformly.

    Padding (index 0) stays padding and the training targets are untouched: the model
    learns to predict the next item from a history in which some items are noise, a
    regulariser of the item embeddings (SSE-SE). Returns a new tensor.
    """
    if not prob:
        return inputs
    draw = torch.rand(inputs.shape, device=inputs.device, generator=generator)
    replace = (draw < prob) & (inputs != 0)
    random_items = torch.randint(
        1, n_items + 1, inputs.shape, device=inputs.device, generator=generator
    )
    return torch.where(replace, random_items, inputs)
