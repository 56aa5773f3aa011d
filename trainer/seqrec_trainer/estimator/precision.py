"""Training precision: ``"fp32"``, ``"bf16"`` or ``"auto"`` resolved per device.

bfloat16 autocast only pays where the hardware computes in bfloat16: CUDA GPUs that
support it, and CPUs with AVX512-BF16 or AMX instructions. Elsewhere oneDNN/ATen emulate
it, and a training step gets several times *slower* than float32 (``bench/preset_step.py``
measures it on the machine at hand). ``"auto"`` therefore picks bf16 only where it is
native, and an explicit ``"bf16"`` on other hardware trains as asked but warns.
"""

from __future__ import annotations

import torch
from seqrec_runtime.warn import warn

from ..errors import SlowPrecisionWarning

PRECISIONS = ("auto", "fp32", "bf16")
_AUTOCAST = {"fp32": None, "bf16": torch.bfloat16}


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively.

    Parameters
    ----------
    device
        The training device.

    Returns
    -------
    bool
        CUDA: ``torch.cuda.is_bf16_supported()``. CPU: AVX512-BF16 or AMX tiles, as
        torch's CPU capability probe reports them. Any other device: ``False``.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision training will run at on ``device``: ``"fp32"`` or ``"bf16"``.

    Parameters
    ----------
    precision
        ``"auto"``, ``"fp32"`` or ``"bf16"`` (already validated).
    device
        The training device.

    Returns
    -------
    str
        ``"auto"`` becomes ``"bf16"`` where :func:`native_bf16` holds, else ``"fp32"``;
        the others are returned unchanged. An explicit ``"bf16"`` without native support
        emits :class:`SlowPrecisionWarning`.
    """
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "bf16" and not native_bf16(device):
        warn(
            f"precision='bf16' on {device.type} without native bfloat16 (AVX512-BF16/AMX on "
            "CPU, bf16 support on GPU): bfloat16 is emulated and training is typically "
            "several times slower than float32; use precision='auto' or 'fp32'",
            SlowPrecisionWarning,
        )
    return precision


def autocast_dtype(resolved: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision (``None`` = plain float32)."""
    return _AUTOCAST[resolved]
