"""Which training windows each rank trains on, step by step.

Every rank draws the same permutation of all ``N`` training windows of the job for each
epoch (seeded by the shared seed and the epoch number) and cuts it into global batches of
``batch_size`` windows, so every rank runs ``ceil(N / batch_size)`` steps per epoch and
every window is trained on exactly once per epoch. Each global batch is split between the
ranks:

* replicated data (every rank holds the same windows, e.g. each rank read the whole
  table): rank ``r`` takes positions ``r, r + world, ...`` of the global batch;
* sharded data (each rank holds its own windows, e.g. its own Parquet files): the job's
  windows are numbered rank after rank and each rank takes the windows of the global batch
  that it holds.

A rank whose part of a global batch is empty still takes the step (with a zero-weight
stand-in window), so no rank waits at an all-reduce that another rank skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..errors import InvalidParameterError
from .context import DistributedContext, current_context


@dataclass(frozen=True)
class ShardLayout:
    """How the job's training windows are spread over the ranks.

    Attributes
    ----------
    context
        This rank's place in the process group.
    replicated
        Every rank holds the same windows (checked by fingerprint).
    counts
        Windows held by each rank.
    shuffle_seed
        Seed of the per-epoch permutations (the same on every rank).
    """

    context: DistributedContext
    replicated: bool
    counts: tuple[int, ...]
    shuffle_seed: int

    @property
    def n_windows(self) -> int:
        """Windows in one epoch of the whole job."""
        return self.counts[0] if self.replicated else sum(self.counts)

    @property
    def offset(self) -> int:
        """Job-wide number of this rank's first window (sharded data)."""
        return 0 if self.replicated else sum(self.counts[: self.context.rank])

    def steps_per_epoch(self, batch_size: int) -> int:
        """Optimizer steps of every rank in one epoch."""
        return -(-self.n_windows // batch_size)

    def epoch_batches(self, epoch: int, batch_size: int) -> Iterator[torch.Tensor]:
        """This rank's local window indices for each step of ``epoch`` (possibly empty)."""
        state = np.random.SeedSequence([self.shuffle_seed, epoch]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(state))
        order = torch.randperm(self.n_windows, generator=generator)
        rank, world = self.context.rank, self.context.world_size
        low = self.offset
        high = low + self.counts[rank]
        for start in range(0, self.n_windows, batch_size):
            batch = order[start : start + batch_size]
            if self.replicated:
                yield batch[rank::world]
            else:
                yield batch[(batch >= low) & (batch < high)] - low


def fingerprint(*arrays: np.ndarray | None) -> str:
    """sha256 of the arrays' shapes, dtypes and bytes (``None`` counts as absent)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        flat = array.reshape(-1)
        for start in range(0, flat.size, 1 << 22):  # 4M values at a time: no full copy
            digest.update(flat[start : start + (1 << 22)].tobytes())
    return digest.hexdigest()


def gather(value: Any) -> list[Any]:
    """``value`` of every rank, in rank order (one ``all_gather_object``)."""
    context = current_context()
    if context is None:
        return [value]
    values: list[Any] = [None] * context.world_size
    dist.all_gather_object(values, value)
    return values


def agree_layout(
    sequences: np.ndarray, outcomes: np.ndarray | None, n_items: int, seed: int | None
) -> ShardLayout | None:
    """The job's :class:`ShardLayout`, or ``None`` outside a process group (collective).

    Parameters
    ----------
    sequences, outcomes
        This rank's training windows and their OUTCOME.
    n_items
        Catalogue size, which must be the same on every rank.
    seed
        Shuffle seed; rank 0's (or, when ``None``, a random draw of rank 0's) is used
        everywhere.

    Raises
    ------
    InvalidParameterError
        The ranks disagree on the catalogue size (on every rank, with the same message).
    """
    context = current_context()
    if context is None:
        return None
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    mine = (int(n_items), int(len(sequences)), fingerprint(sequences, outcomes), int(seed))
    every = gather(mine)
    catalogues = sorted({entry[0] for entry in every})
    if len(catalogues) > 1:
        raise InvalidParameterError(
            f"the ranks of this job see different catalogue sizes {catalogues}: every rank "
            "must build the same item vocabulary (give each rank the same items_ds, or the "
            "whole interactions table)"
        )
    replicated = len({entry[2] for entry in every}) == 1
    return ShardLayout(context, replicated, tuple(entry[1] for entry in every), every[0][3])


def layout_for_fit(
    estimator: Any, sequences: np.ndarray, outcomes: np.ndarray | None, n_items: int
) -> ShardLayout | None:
    """:func:`agree_layout` for ``estimator.fit``, refusing what sharded data cannot train.

    Raises
    ------
    InvalidParameterError
        An item prior with sharded data (each rank would fit it on its own users only;
        train with ``item_prior_weight=0`` and add the prior afterwards with
        ``refit_item_prior`` / ``seqrec refit-prior`` on the whole table).
    """
    layout = agree_layout(sequences, outcomes, n_items, estimator.random_state)
    if layout is not None and not layout.replicated and estimator.uses_item_prior:
        raise InvalidParameterError(
            "item_prior_weight > 0 with sharded data (the ranks hold different training "
            "windows): each rank would fit the item prior on its own users only. Train with "
            "item_prior_weight=0, then add the prior with SequentialRecommender."
            "refit_item_prior (seqrec refit-prior) on the whole table"
        )
    return layout
