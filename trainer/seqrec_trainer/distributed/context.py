"""Where a process stands in a ``torch.distributed`` job: rank, world size, device, timeout.

Training becomes data parallel when a default process group is initialised (by
:func:`init_process_group` below, by ``seqrec train`` started under ``torchrun``, or by the
caller: Spark's ``TorchDistributor`` and Ray Train's ``TorchTrainer`` run the training
function under ``torchrun``-style environment variables; Ray initialises the group itself).
A group of one process trains through the same DDP path (useful to measure its overhead).
"""

from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import InvalidParameterError

#: Seconds a collective (all-reduce, all-gather, barrier) may wait for the other ranks
#: before it fails, unless ``SEQREC_DDP_TIMEOUT_S`` or ``timeout_s`` says otherwise.
DEFAULT_TIMEOUT_S = 600.0
TIMEOUT_ENV = "SEQREC_DDP_TIMEOUT_S"
#: ``bf16``: DDP's bfloat16 gradient compression hook (halves the all-reduce volume).
COMPRESSION_ENV = "SEQREC_DDP_COMPRESSION"
COMPRESSIONS = ("none", "bf16")


@dataclass(frozen=True)
class DistributedContext:
    """The process group a training run belongs to.

    Attributes
    ----------
    rank, world_size
        This process's rank and the number of processes.
    local_rank
        Rank on this node (``LOCAL_RANK``), which picks the GPU of a CUDA rank.
    backend
        ``"gloo"`` (CPU) or ``"nccl"`` (GPU).
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the rank that writes models and logs progress."""
        return self.rank == 0


def current_context() -> DistributedContext | None:
    """The default process group's context, or ``None`` outside a process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return DistributedContext(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())),
        backend=str(dist.get_backend()),
    )


def is_main_process() -> bool:
    """True outside a process group and on rank 0 (the rank that writes files)."""
    context = current_context()
    return context is None or context.is_main


def launched_by_torchrun() -> bool:
    """Whether the environment names a rank and world size (``torchrun``, TorchDistributor)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def timeout_seconds(timeout_s: float | None = None) -> float:
    """The process-group timeout: ``timeout_s``, else ``SEQREC_DDP_TIMEOUT_S``, else 600 s.

    Raises
    ------
    InvalidParameterError
        A timeout that is not a positive number of seconds.
    """
    raw = os.environ.get(TIMEOUT_ENV) if timeout_s is None else timeout_s
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InvalidParameterError(
            f"the process-group timeout must be a positive number of seconds, got {raw!r} "
            f"(timeout_s / {TIMEOUT_ENV})"
        )
    return value


def compression() -> str:
    """The gradient compression asked for by ``SEQREC_DDP_COMPRESSION`` (default ``none``)."""
    value = os.environ.get(COMPRESSION_ENV, "none").strip().lower() or "none"
    if value not in COMPRESSIONS:
        raise InvalidParameterError(
            f"{COMPRESSION_ENV}={value!r} is not one of {list(COMPRESSIONS)}"
        )
    return value


def init_process_group(
    backend: str | None = None, timeout_s: float | None = None
) -> DistributedContext:
    """Join the job described by ``torchrun``'s environment variables (idempotent).

    Parameters
    ----------
    backend
        ``None``: ``"nccl"`` when CUDA is available, else ``"gloo"``.
    timeout_s
        Seconds a collective waits for the other ranks before it fails (default
        :func:`timeout_seconds`: ``SEQREC_DDP_TIMEOUT_S`` or 600). A rank that dies makes
        the others fail at their next collective (at the latest after this timeout);
        under ``torchrun`` the launcher then stops the whole job.

    Returns
    -------
    DistributedContext
        This process's place in the group.
    """
    if not dist.is_available():
        raise InvalidParameterError("this torch build has no torch.distributed support")
    if not dist.is_initialized():
        if not launched_by_torchrun():
            raise InvalidParameterError(
                "init_process_group needs RANK, WORLD_SIZE and MASTER_ADDR in the environment; "
                "start the script with torchrun (e.g. torchrun --standalone --nproc-per-node 2 "
                "script.py) or call torch.distributed.init_process_group yourself"
            )
        chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if chosen == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(
            chosen, timeout=datetime.timedelta(seconds=timeout_seconds(timeout_s))
        )
        # leave the group before the interpreter exits: a process that exits with the
        # backend's threads still running can abort ("terminate called ...")
        atexit.register(_leave_process_group)
    context = current_context()
    assert context is not None
    return context


def collective_device() -> torch.device:
    """Where tensors for collectives live: this rank's GPU under NCCL, else the CPU."""
    context = current_context()
    if context is not None and context.backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _leave_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device) -> torch.device:
    """``device`` for this rank: a bare ``"cuda"`` becomes ``cuda:LOCAL_RANK`` in a group."""
    context = current_context()
    if context is None or device.type != "cuda" or device.index is not None:
        return device
    return torch.device("cuda", context.local_rank % max(torch.cuda.device_count(), 1))
