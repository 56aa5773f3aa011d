"""Per-rank window plans without a process group: equal steps, every window once per epoch."""

from __future__ import annotations

import numpy as np
import pytest
from seqrec_trainer.distributed.context import DistributedContext
from seqrec_trainer.distributed.sharding import ShardLayout


def layouts(counts: tuple[int, ...], replicated: bool, seed: int = 3) -> list[ShardLayout]:
    world = len(counts)
    return [ShardLayout(DistributedContext(rank, world, rank, "gloo"), replicated, counts, seed)
            for rank in range(world)]


def plans(counts, replicated, epoch, batch_size):
    """Per rank: the job-wide window numbers of each step."""
    result = []
    for layout in layouts(counts, replicated):
        steps = list(layout.epoch_batches(epoch, batch_size))
        result.append([step.numpy() + layout.offset for step in steps])
    return result


@pytest.mark.parametrize(("counts", "replicated", "batch_size"), [
    ((37, 37), True, 16),        # replicated, last global batch of 5
    ((33, 33), True, 16),        # last global batch of 1: rank 1 gets nothing there
    ((33, 33, 33), True, 4),     # three ranks
    ((25, 1), False, 8),         # sharded: one rank holds a single window
    ((10, 0, 7), False, 3),      # sharded: a rank with no window at all
])
def test_every_window_once_per_epoch_and_same_steps_on_every_rank(counts, replicated,
                                                                    batch_size):
    n = counts[0] if replicated else sum(counts)
    for epoch in (1, 2):
        per_rank = plans(counts, replicated, epoch, batch_size)
        steps = {len(steps) for steps in per_rank}
        assert steps == {-(-n // batch_size)}
        seen = np.concatenate([np.concatenate(steps) for steps in per_rank])
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        for step in range(len(per_rank[0])):  # each global batch holds batch_size windows
            size = sum(len(steps[step]) for steps in per_rank)
            assert size == min(batch_size, n - step * batch_size)


def test_replicated_ranks_split_each_global_batch_evenly():
    per_rank = plans((37, 37), True, epoch=1, batch_size=16)
    sizes = [[len(step) for step in steps] for steps in per_rank]
    assert sizes == [[8, 8, 3], [8, 8, 2]]


def test_shuffle_is_seeded_by_epoch_and_identical_on_every_rank():
    first, again = plans((40, 40), True, 1, 8), plans((40, 40), True, 1, 8)
    second = plans((40, 40), True, 2, 8)
    for rank in range(2):
        for a, b in zip(first[rank], again[rank], strict=True):
            np.testing.assert_array_equal(a, b)
    order_1 = np.concatenate([np.concatenate(s) for s in zip(*first, strict=True)])
    order_2 = np.concatenate([np.concatenate(s) for s in zip(*second, strict=True)])
    assert not np.array_equal(order_1, order_2)


def test_layout_counts_the_job_windows():
    replicated, sharded = layouts((5, 5), True), layouts((5, 3, 4), False)
    assert replicated[1].n_windows == 5 and replicated[1].offset == 0
    assert [layout.offset for layout in sharded] == [0, 5, 8]
    assert sharded[0].n_windows == 12 and sharded[2].steps_per_epoch(5) == 3
