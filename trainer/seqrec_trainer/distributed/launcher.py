"""``seqrec train --nproc-per-node N``: start the same command under ``torchrun``.

The command line is passed through unchanged (without ``--nproc-per-node``) to
``python -m torch.distributed.run --standalone --nproc-per-node N -m seqrec_trainer.cli``;
each rank then sees torchrun's environment and joins the process group. For several nodes
run ``torchrun`` yourself (``docs/distributed.md``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from ..errors import InvalidParameterError
from .context import COMPRESSION_ENV, TIMEOUT_ENV


def torchrun_command(train_argv: Sequence[str], nproc_per_node: int) -> list[str]:
    """The ``torchrun`` command line that runs ``seqrec train <train_argv>`` on N ranks."""
    if isinstance(nproc_per_node, bool) or not isinstance(nproc_per_node, int) \
            or nproc_per_node < 1:
        raise InvalidParameterError(
            f"--nproc-per-node must be a positive int, got {nproc_per_node!r}"
        )
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", str(nproc_per_node),
        "-m", "seqrec_trainer.cli", "train", *train_argv,
    ]


def strip_launch_flags(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc-per-node N`` / ``--nproc-per-node=N``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc-per-node":
            skip = True
            continue
        if arg.startswith("--nproc-per-node="):
            continue
        kept.append(arg)
    return kept


def launch(train_argv: Sequence[str], nproc_per_node: int, timeout_s: float | None = None,
           compression: str | None = None) -> int:
    """Run ``seqrec train`` on ``nproc_per_node`` local ranks; return torchrun's exit code.

    ``timeout_s`` and ``compression`` reach the ranks as ``SEQREC_DDP_TIMEOUT_S`` and
    ``SEQREC_DDP_COMPRESSION``.
    """
    env = dict(os.environ)
    if timeout_s is not None:
        env[TIMEOUT_ENV] = str(timeout_s)
    if compression is not None:
        env[COMPRESSION_ENV] = compression
    command = torchrun_command(list(train_argv), nproc_per_node)
    return subprocess.run(command, env=env, check=False).returncode
