"""One rank's part of a data-parallel training step, and all-reduced validation.

Loss normalisation: each loss is a mean over the targets of the batch it is given
(OUTCOME-weighted for ``"ce"`` / ``"sampled_softmax"`` with OUTCOME). A rank holding
``w_r`` of the global batch's total target weight ``W`` (all-reduced each step, one
8-byte all-reduce) scales its local mean by ``world_size * w_r / W``; DDP averages the
gradients over the ranks, so the update is the gradient of the mean over the *global*
batch: the same as one process training on the same ``batch_size`` windows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import InvalidParameterError
from ..estimator.losses import ce_loss, sampled_softmax_loss
from .context import COMPRESSION_ENV, compression
from .sharding import ShardLayout

logger = logging.getLogger("seqrec")

#: Losses whose per-target terms are weighted by OUTCOME (the others count targets).
_OUTCOME_WEIGHTED = (ce_loss, sampled_softmax_loss)


class _BatchLoss(nn.Module):
    """The network plus its training loss: the module DDP wraps (its forward is one step)."""

    def __init__(self, network: nn.Module, step_loss: Callable[..., torch.Tensor],
                 config: Any) -> None:
        super().__init__()
        self.network = network
        self._step_loss = step_loss
        self._config = config

    def forward(self, windows: torch.Tensor, outcomes: torch.Tensor | None,
                scale: float) -> torch.Tensor:
        c = self._config
        loss = self._step_loss(self.network, windows, outcomes, c.loss_fn, c.loss_kwargs,
                               c.autocast_dtype, c.pack_sequences)
        return loss * scale


def gradient_bytes(network: nn.Module, compressed: bool = False) -> int:
    """Bytes of gradients DDP all-reduces per step (bfloat16 when ``compressed``)."""
    per_value = 2 if compressed else 4
    return sum(p.numel() for p in network.parameters() if p.requires_grad) * per_value


def target_weight(windows: torch.Tensor, outcomes: torch.Tensor | None,
                  outcome_weighted: bool) -> tuple[int, float]:
    """``(targets, weight)`` of a batch of left-padded windows: weight = target count, or
    the sum of the targets' OUTCOME for OUTCOME-weighted losses."""
    pairs = (windows[:, :-1] != 0) & (windows[:, 1:] != 0)
    count = int(pairs.sum())
    if outcome_weighted and outcomes is not None:
        return count, float(outcomes[:, 1:][pairs].double().sum())
    return count, float(count)


class DistributedSteps:
    """Runs a rank's training steps under DDP and all-reduces what the loop reports.

    Parameters
    ----------
    network
        The network being trained (its parameters are the optimizer's).
    layout
        The job's :class:`~.sharding.ShardLayout`.
    config
        The loop's ``LoopConfig``.
    device
        This rank's device.
    step_loss
        ``training_step_loss`` of the loop (the same loss as one process).
    """

    def __init__(self, network: nn.Module, layout: ShardLayout, config: Any,
                 device: torch.device, step_loss: Callable[..., torch.Tensor]) -> None:
        self.layout = layout
        self.context = layout.context
        self.device = device
        self.outcome_weighted = config.loss_fn in _OUTCOME_WEIGHTED
        rank = self.context.rank
        if rank:
            # dropout draws differ between ranks, as between rows of one process
            torch.manual_seed(torch.initial_seed() + rank)
            generator = config.loss_kwargs.get("generator")
            if generator is not None and config.loss_fn is not sampled_softmax_loss:
                # per-target negatives ("bce") must differ between ranks; "sampled_softmax"
                # keeps the same stream on every rank: one set of negatives per global batch
                generator.manual_seed(generator.initial_seed() + rank)
        if not self.context.is_main:
            config = replace(config, verbose=0)
        self.config = config
        self.module = DistributedDataParallel(
            _BatchLoss(network, step_loss, config),
            device_ids=[device.index] if device.type == "cuda" else None,
            forward_sync_buffers=False,  # only the item prior's buffers: unused in training
            gradient_as_bucket_view=True,  # gradients live in DDP's buckets: no extra copy
        )
        self.compression = compression()
        if self.compression == "bf16" and self.context.backend != "nccl":
            raise InvalidParameterError(
                f"{COMPRESSION_ENV}=bf16 (DDP's bfloat16 gradient compression) needs the NCCL "
                f"backend (GPU ranks); this job runs on {self.context.backend!r}. Unset it "
                "(CPU ranks on one machine all-reduce in memory, where compression saves "
                "nothing)"
            )
        if self.compression == "bf16":
            from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import (
                bf16_compress_hook,
            )

            self.module.register_comm_hook(None, bf16_compress_hook)
        self.allreduce_bytes = gradient_bytes(network, self.compression == "bf16")
        # one window of item 1 twice: one target; its loss is scaled by 0
        self._stand_in = torch.tensor([[0, 1, 1]], dtype=torch.long, device=device)
        if self.context.is_main:
            logger.info(
                "DDP: %d ranks (%s), %d windows per epoch %s, %d steps per epoch, "
                "%.2f MB of gradients all-reduced per step (%s)",
                self.context.world_size, self.context.backend, layout.n_windows,
                "on every rank" if layout.replicated else "spread over the ranks",
                layout.steps_per_epoch(config.batch_size), self.allreduce_bytes / 1e6,
                "bfloat16" if self.compression == "bf16" else "float32",
            )

    @property
    def is_main(self) -> bool:
        """Whether this rank reports progress."""
        return self.context.is_main

    def epoch_batches(self, epoch: int) -> Any:
        """This rank's window indices for each step of ``epoch`` (on the device)."""
        for local in self.layout.epoch_batches(epoch, self.config.batch_size):
            yield local.to(self.device)

    def step_loss(self, windows: torch.Tensor, outcomes: torch.Tensor | None) -> torch.Tensor:
        """This rank's scaled loss of one step; its backward all-reduces the gradients."""
        count, weight = target_weight(windows, outcomes, self.outcome_weighted)
        total = torch.tensor([weight], dtype=torch.float64, device=self.device)  # NCCL: GPU
        dist.all_reduce(total)
        scale = self.context.world_size * weight / float(total) if float(total) > 0 else 0.0
        if count == 0:  # nothing to learn here: a zero-weight stand-in keeps DDP in step
            windows, scale = self._stand_in, 0.0
            outcomes = None if outcomes is None else torch.ones(
                windows.shape, dtype=outcomes.dtype, device=self.device)
        return self.module(windows, outcomes, scale)

    def epoch_loss(self, total: float, steps: int) -> float:
        """Mean over the epoch's steps of the global batches' losses (all ranks agree)."""
        summed = torch.tensor([total], dtype=torch.float64, device=self.device)
        dist.all_reduce(summed)
        return float(summed) / self.context.world_size / max(steps, 1)

    def validate(self, validate: Callable[..., dict[str, float]], network: nn.Module,
                 valid: Any, *args: Any) -> dict[str, float]:
        """``validate`` on this rank's part of ``valid``, then all-reduced: every rank gets
        the metrics of the whole validation set (the same early-stopping decision)."""
        if self.layout.replicated:
            rank, world = self.context.rank, self.context.world_size
            valid = replace(
                valid, inputs=valid.inputs[rank::world], targets=valid.targets[rank::world],
                outcomes=None if valid.outcomes is None else valid.outcomes[rank::world],
            )
        metrics = validate(network, valid, *args)
        names = sorted(metrics)
        n = float(len(valid.targets))
        sums = torch.tensor([metrics[name] * n for name in names] + [n], dtype=torch.float64,
                            device=self.device)
        dist.all_reduce(sums)
        count = max(float(sums[-1]), 1.0)
        return {name: float(sums[i]) / count for i, name in enumerate(names)}
