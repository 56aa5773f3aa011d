"""Data-parallel training with ``torch.distributed`` (DDP), launched by ``torchrun``.

``SequentialRecommender.train`` and ``estimator.fit`` need no change: inside an initialised
process group each rank trains on its share of every global batch of ``batch_size``
windows, DDP all-reduces the gradients (gloo on CPU, NCCL on GPU), validation metrics are
all-reduced (every rank makes the same early-stopping decision) and only rank 0 writes the
model. See ``docs/distributed.md``.
"""

from .agreement import RankFailedError, agreed_input_checks, share_prepared_data
from .context import (
    COMPRESSION_ENV,
    DEFAULT_TIMEOUT_S,
    TIMEOUT_ENV,
    DistributedContext,
    current_context,
    init_process_group,
    is_main_process,
    launched_by_torchrun,
    rank_device,
)
from .parquet import read_rank_table, write_user_partitions
from .sharding import ShardLayout, agree_layout
from .steps import DistributedSteps, gradient_bytes

__all__ = [
    "COMPRESSION_ENV",
    "DEFAULT_TIMEOUT_S",
    "TIMEOUT_ENV",
    "DistributedContext",
    "DistributedSteps",
    "RankFailedError",
    "ShardLayout",
    "agree_layout",
    "agreed_input_checks",
    "current_context",
    "gradient_bytes",
    "init_process_group",
    "is_main_process",
    "launched_by_torchrun",
    "rank_device",
    "read_rank_table",
    "share_prepared_data",
    "write_user_partitions",
]
