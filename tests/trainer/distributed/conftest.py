"""Running ``ddp_worker.py`` under ``torchrun`` (gloo, CPU) with a hard timeout."""

from __future__ import annotations

import pytest
import torch.distributed as dist
from ddp_support import RankResults, finished


@pytest.fixture(scope="session")
def trained_2ranks(tmp_path_factory) -> RankResults:
    """Every training scenario of ``ddp_worker.py`` on 2 ranks (one torchrun job)."""
    return finished(tmp_path_factory.mktemp("ddp_training"), "training", 2)


@pytest.fixture(scope="session")
def few_steps_1rank(tmp_path_factory) -> RankResults:
    """The few-steps scenario in this process, in a gloo process group of one rank (the
    same global batches as 2 ranks); the group is gone when the fixture returns."""
    from ddp_worker import few_steps

    out = tmp_path_factory.mktemp("ddp_one_rank")
    dist.init_process_group("gloo", init_method=f"file://{out / 'store'}", rank=0,
                            world_size=1)
    try:
        few_steps(out, 0)
    finally:
        dist.destroy_process_group()
    return RankResults(out, 1)
