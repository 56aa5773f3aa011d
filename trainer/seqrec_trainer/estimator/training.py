"""The training loop: batching without host<->device copies, validation, early stopping."""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InvalidParameterError
from ..model import SASRecNetwork
from ..training_log import TrainingProgress, describe_plan
from .losses import LossFn
from .packing import pack_windows

logger = logging.getLogger("seqrec")


@dataclass
class TrainingData:
    """Training sequences: ``(n, max_len + 1)`` left-padded indices and aligned OUTCOME."""

    sequences: np.ndarray
    outcomes: np.ndarray | None


@dataclass
class ValidationData:
    """One held-out target per user: its input window, target index and OUTCOME."""

    inputs: np.ndarray
    targets: np.ndarray
    outcomes: np.ndarray | None


@dataclass
class LoopConfig:
    """Settings of one ``fit`` run (resolved from estimator parameters)."""

    epochs: int
    batch_size: int
    loss_fn: LossFn
    loss_kwargs: dict[str, Any]
    patience: int | None
    restore_best_weights: bool
    monitor: str
    max_grad_norm: float | None
    compute_ranking_metrics: bool
    verbose: int
    epoch_callbacks: tuple = ()
    autocast_dtype: torch.dtype | None = None
    pack_sequences: bool = False
    #: ``distributed.ShardLayout`` inside a process group (DDP training), else ``None``.
    layout: Any = None


def trim_to_longest(batch: torch.Tensor) -> torch.Tensor:
    """Drop leading columns that are padding in every row (at least one column kept)."""
    real_cols = (batch != 0).any(dim=0)
    first = int(torch.argmax(real_cols.to(torch.int8)).item()) if bool(real_cols.any()) else 0
    return batch[:, min(first, batch.shape[1] - 1):]


def _optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``; an update too large for float32 is a typed error, not torch's."""
    try:
        optimizer.step()
    except RuntimeError as exc:
        if "overflow" not in str(exc):
            raise
        raise InvalidParameterError(
            f"training diverged: an optimizer update does not fit in float32 ({exc}); lower "
            "learning_rate"
        ) from exc


def training_step_loss(
    network: SASRecNetwork,
    seqs: torch.Tensor,
    outcomes: torch.Tensor | None,
    loss_fn: LossFn,
    loss_kwargs: dict[str, Any],
    autocast_dtype: torch.dtype | None = None,
    pack_sequences: bool = False,
) -> torch.Tensor:
    """Loss of one batch: every position with a real input and a real next item is a target.

    With ``autocast_dtype`` the encoder runs under autocast in that dtype; the loss head
    (scores against every item) always runs in float32. With ``pack_sequences`` the
    windows are packed (:mod:`.packing`): same targets, same loss, fewer padded positions.
    """
    positions: torch.Tensor | None
    segments: torch.Tensor | None
    if pack_sequences:
        packed = pack_windows(seqs, outcomes)
        inputs, targets, outcomes = packed.inputs, packed.targets, packed.outcomes
        positions, segments = packed.positions, packed.segments
    else:
        width = seqs.shape[1]
        seqs = trim_to_longest(seqs)
        inputs, targets = seqs[:, :-1], seqs[:, 1:]
        if outcomes is not None:
            outcomes = outcomes[:, width - seqs.shape[1] + 1:]
        positions = segments = None
    with torch.autocast(inputs.device.type, dtype=autocast_dtype or torch.bfloat16,
                        enabled=autocast_dtype is not None):
        hidden = network.encode(inputs, positions, segments)
    valid = (inputs != 0) & (targets != 0)
    h = hidden[valid].float()
    t = targets[valid]
    y = outcomes[valid] if outcomes is not None else torch.ones_like(t, dtype=h.dtype)
    return loss_fn(h, t, y, network.item_weights(), **loss_kwargs)


@torch.no_grad()
def validate(
    network: SASRecNetwork,
    valid: ValidationData,
    loss_fn: LossFn,
    loss_kwargs: dict[str, Any],
    device: torch.device,
    batch_size: int,
    ranking_metrics: bool,
) -> dict[str, float]:
    """Validation loss (and full-ranking NDCG@10 / HR@10 with seen items removed)."""
    network.eval()
    items = network.item_weights()
    # Fixed negatives for sampled losses: val_loss comparable from epoch to epoch.
    fixed = torch.Generator(device=device)
    fixed.manual_seed(20240531)
    loss_kwargs = {**loss_kwargs, "generator": fixed}
    total_loss, total_ndcg, total_hr, n = 0.0, 0.0, 0.0, 0
    for start in range(0, len(valid.targets), batch_size):
        stop = start + batch_size
        inputs = trim_to_longest(torch.as_tensor(valid.inputs[start:stop], device=device))
        targets = torch.as_tensor(valid.targets[start:stop], device=device)
        if valid.outcomes is not None:
            y = torch.as_tensor(valid.outcomes[start:stop], device=device)
        else:
            y = torch.ones(len(targets), device=device)
        h = network.encode_last(inputs)
        loss = loss_fn(h, targets, y, items, **loss_kwargs)
        total_loss += float(loss) * len(targets)
        if ranking_metrics:
            scores = h @ items.T
            target_scores = scores.gather(1, (targets - 1).unsqueeze(1))
            seen = torch.zeros(
                (scores.shape[0], scores.shape[1] + 1), dtype=torch.bool, device=device
            )
            seen.scatter_(1, inputs, True)
            seen.scatter_(1, targets.unsqueeze(1), False)
            scores = scores.masked_fill(seen[:, 1:], float("-inf"))
            rank = (scores > target_scores).sum(1).float()
            total_ndcg += float(torch.where(rank < 10, 1.0 / torch.log2(rank + 2), 0.0).sum())
            total_hr += float((rank < 10).float().sum())
        n += len(targets)
    metrics = {"val_loss": total_loss / max(n, 1)}
    if ranking_metrics:
        metrics["val_ndcg@10"] = total_ndcg / max(n, 1)
        metrics["val_hr@10"] = total_hr / max(n, 1)
    return metrics


class BestTracker:
    """Keeps the best monitored value, its epoch and a copy of its weights."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.maximize = monitor != "val_loss"
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.epochs_since_best = 0

    def update(self, epoch: int, metrics: dict[str, float], network: SASRecNetwork) -> None:
        value = metrics[self.monitor]
        improved = value > self.best if self.maximize else value < self.best
        if improved:
            self.best, self.best_epoch, self.epochs_since_best = value, epoch, 0
            self.best_state = copy.deepcopy(network.state_dict())
        else:
            self.epochs_since_best += 1


def run_training(
    network: SASRecNetwork,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    data: TrainingData,
    valid: ValidationData | None,
    config: LoopConfig,
    device: torch.device,
    generator: torch.Generator,
) -> tuple[list[dict[str, float]], int | None]:
    """Train ``network`` in place; return per-epoch history and the restored best epoch."""
    seqs = torch.as_tensor(data.sequences, device=device)
    outcomes = (
        torch.as_tensor(data.outcomes, dtype=torch.float32, device=device)
        if data.outcomes is not None
        else None
    )
    n = seqs.shape[0]
    shards = _distributed_steps(network, config, device)  # None in one process
    config = config if shards is None else shards.config  # ranks > 0 report nothing
    tracker = BestTracker(config.monitor) if valid is not None else None
    history: list[dict[str, float]] = []
    progress = TrainingProgress(config.verbose, config.epochs, -(-n // config.batch_size))
    progress.note(describe_plan(n, network.n_items, config.epochs, config.patience,
                                config.monitor, valid is not None))
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        network.train()
        if shards is None:
            order = torch.randperm(n, device=device, generator=generator)
            steps = (order[s : s + config.batch_size] for s in range(0, n, config.batch_size))
        else:
            steps = shards.epoch_batches(epoch)  # this rank's share of each global batch
        total, batches = 0.0, 0
        for idx in steps:
            batch_outcomes = outcomes[idx] if outcomes is not None else None
            if shards is not None:
                loss = shards.step_loss(seqs[idx], batch_outcomes)
            else:
                loss = training_step_loss(
                    network, seqs[idx], batch_outcomes, config.loss_fn, config.loss_kwargs,
                    config.autocast_dtype, config.pack_sequences,
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(network.parameters(), config.max_grad_norm)
            _optimizer_step(optimizer)
            if scheduler is not None:
                scheduler.step()
            total += float(loss.detach())
            batches += 1
            progress.batch_done()
        record = {"epoch": epoch, "loss": total / max(batches, 1) if shards is None
                  else shards.epoch_loss(total, batches)}
        if valid is not None:
            args = (config.loss_fn, config.loss_kwargs, device, config.batch_size * 4,
                    config.compute_ranking_metrics)
            record.update(validate(network, valid, *args) if shards is None
                          else shards.validate(validate, network, valid, *args))
        record["time_s"] = time.perf_counter() - started
        history.append(record)
        progress.epoch_done(record)
        network.eval()  # callbacks see the model as it predicts, with or without validation
        for callback in config.epoch_callbacks:
            callback(epoch, network, record)
            network.eval()
        if tracker is not None:
            tracker.update(epoch, record, network)
            if config.patience is not None and tracker.epochs_since_best >= config.patience:
                logger.info("early stopping at epoch %d (best epoch %d)", epoch, tracker.best_epoch)
                progress.note(f"SASRec: early stopping at epoch {epoch}: no better "
                              f"{config.monitor} for {config.patience} epochs",
                              log_when_quiet=False)  # logged just above
                break
    progress.close()
    restored = None
    if tracker is not None and config.restore_best_weights and tracker.best_state is not None:
        network.load_state_dict(tracker.best_state)
        restored = tracker.best_epoch
    return history, restored



def _distributed_steps(network: SASRecNetwork, config: LoopConfig, device: torch.device):
    """The DDP step runner of a process group (``config.layout`` set), else ``None``."""
    if config.layout is None:
        return None
    from ..distributed.steps import DistributedSteps

    return DistributedSteps(network, config.layout, config, device, training_step_loss)
