"""``seqrec train --nproc-per-node N``: start the same command under ``torchrun``.

The command line is passed through unchanged (without ``--nproc-per-node``) to
``python -m torch.distributed.run --standalone --nproc-per-node N -m seqrec_cli``;
each rank then sees torchrun's environment and joins the process group. For several nodes
run ``torchrun`` yourself (``docs/distributed.md``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

from ..errors import InvalidParameterError
from .context import COMPRESSION_ENV, COMPRESSIONS, DEFAULT_TIMEOUT_S, TIMEOUT_ENV


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
        "-m", "seqrec_cli", "train", *train_argv,
    ]


_LAUNCH_FLAGS = ("--nproc-per-node", "--ddp-timeout", "--ddp-compression")


def strip_launch_flags(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc-per-node``, ``--ddp-timeout``, ``--ddp-compression`` (and
    their values): the ranks get them as environment variables."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _LAUNCH_FLAGS:
            skip = True
            continue
        if arg.split("=", 1)[0] in _LAUNCH_FLAGS:
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


def add_launch_flags(parser: argparse.ArgumentParser) -> None:
    """``--nproc-per-node``, ``--ddp-timeout`` and ``--ddp-compression`` of ``seqrec train``."""
    group = parser.add_argument_group("data-parallel training (docs/distributed.md)")
    group.add_argument("--nproc-per-node", type=int, default=None, metavar="N",
                       help="train on N local processes (DDP under torchrun: gloo on CPU, "
                       "one GPU each with --device cuda); batch_size stays the global batch "
                       "(default: one process, no torchrun)")
    group.add_argument("--ddp-timeout", type=float, default=None, metavar="SECONDS",
                       help=f"seconds a rank waits for the others at a collective before the "
                       f"job fails (default {DEFAULT_TIMEOUT_S:g}; {TIMEOUT_ENV})")
    group.add_argument("--ddp-compression", choices=COMPRESSIONS, default=None,
                       help="'bf16': all-reduce gradients in bfloat16 (DDP's compression "
                       f"hook; default none; {COMPRESSION_ENV})")


def launch_from_cli(command_line: Sequence[str], args: argparse.Namespace) -> int:
    """Run the ``seqrec train`` command line ``command_line`` on ``--nproc-per-node`` ranks."""
    argv = strip_launch_flags(command_line)
    if argv and argv[0] == "train":
        argv = argv[1:]
    return launch(argv, args.nproc_per_node, args.ddp_timeout, args.ddp_compression)


def join_torchrun_job() -> None:
    """Under ``torchrun`` (its environment set), join the process group; else nothing."""
    from .context import init_process_group, launched_by_torchrun

    if launched_by_torchrun():
        init_process_group()
