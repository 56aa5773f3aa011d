"""Helpers of the DDP tests: run ``ddp_worker.py`` under ``torchrun`` with a hard timeout.

A module of its own (not ``conftest``) so that test modules import it by a name no other
test directory uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
#: Seconds a whole torchrun job may take before the test kills it (a hang fails, never
#: blocks the suite); collectives inside give up after SEQREC_DDP_TIMEOUT_S.
JOB_TIMEOUT_S = 240


def run_bounded(command: list[str], timeout_s: float = JOB_TIMEOUT_S,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` in its own process group; kill the whole group after ``timeout_s``."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQREC_DDP_TIMEOUT_S": "60",
                "PYTHONWARNINGS": "ignore", **(env or {})}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=full_env, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{command[:6]}... did not finish in {timeout_s} s (hang):\n{output[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, output, None)


def torchrun(out: Path, suite: str, nproc: int = 2) -> subprocess.CompletedProcess:
    """``ddp_worker.py OUT SUITE`` on ``nproc`` local ranks."""
    out.mkdir(parents=True, exist_ok=True)
    return run_bounded([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc-per-node", str(nproc), str(WORKER), str(out), suite])


class RankResults:
    """Files a finished job left in ``out``."""

    def __init__(self, out: Path, world: int) -> None:
        self.out, self.world = out, world

    def record(self, name: str, rank: int) -> dict:
        return json.loads((self.out / f"{name}.rank{rank}.json").read_text())

    def params(self, name: str, rank: int) -> dict[str, torch.Tensor]:
        return torch.load(self.out / f"{name}.rank{rank}.pt")


#: gloo's threads can abort a rank while the interpreter shuts down, after all its work is
#: done (a known teardown race); only then is a non-zero exit accepted.
TEARDOWN_ABORT = "terminate called without an active exception"


def succeeded(result: subprocess.CompletedProcess, work_done: bool) -> bool:
    """Exit 0, or the teardown abort above once every rank's work is done and written."""
    return result.returncode == 0 or (work_done and TEARDOWN_ABORT in result.stdout)


def finished(out: Path, suite: str, nproc: int) -> RankResults:
    result = torchrun(out, suite, nproc)
    done = all((out / f"done.rank{rank}").is_file() for rank in range(nproc))
    assert succeeded(result, done), result.stdout[-4000:]
    assert done
    return RankResults(out, nproc)


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
