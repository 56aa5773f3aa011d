"""Dropout that is cheap on CPU: random bits in bulk, a float mask, one multiply.

``nn.Dropout`` on CPU draws one Bernoulli sample per element and multiplies by a boolean
mask; both are slow paths. :class:`FastDropout` draws 64 random bits per 4 elements, compares
16-bit slices against a threshold and multiplies by a float mask, with the same expectation
(the drop rate lies on a 1/65536 grid and the scale uses the exact kept share). Measured
side by side in ``bench/train_throughput.py`` (BENCHMARKS.md, "Training speed").
On non-CPU devices it is ``F.dropout``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16


def keep_mask(shape: torch.Size, rate: float, device: torch.device, dtype: torch.dtype):
    """Float mask: ``1 / keep`` with probability ``keep`` (rate on a 1/65536 grid), else 0."""
    drop_levels = round(rate * _LEVELS)
    keep = (_LEVELS - drop_levels) / _LEVELS
    numel = shape.numel()
    words = (numel + 3) // 4
    bits = torch.randint(-(2**63), 2**63 - 1, (words,), dtype=torch.int64, device=device)
    slices = bits.view(torch.int16)[:numel].view(shape)
    # int16 slices are uniform on [-32768, 32767]: P(slice >= t) = (32768 - t) / 65536
    threshold = drop_levels - (_LEVELS // 2)
    return (slices >= threshold).to(dtype).mul_(1.0 / keep)


class FastDropout(nn.Module):
    """Drop-in replacement of ``nn.Dropout(rate)`` (inverted dropout, identity in eval).

    Parameters
    ----------
    rate
        Probability of zeroing an element, in ``[0, 1)``.
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.rate, training=True)
        with torch.no_grad():
            mask = keep_mask(x.shape, self.rate, x.device, x.dtype)
        return x * mask

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
