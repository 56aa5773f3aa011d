"""A rank that raises during training ends the whole job with its error (no hang)."""

from __future__ import annotations

import time

from ddp_support import WORKER, run_bounded


def test_exception_on_one_rank_ends_the_job_with_that_error(tmp_path):
    """The collective timeout is set far beyond the test's bound (600 s): the job must end
    because the failure propagates, not because a collective timed out."""
    import sys

    started = time.perf_counter()
    result = run_bounded(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", str(WORKER), str(tmp_path), "failure"],
        env={"SEQREC_DDP_TIMEOUT_S": "600"},
    )
    elapsed = time.perf_counter() - started
    assert result.returncode != 0
    assert "deliberate failure on rank 1 at epoch 2" in result.stdout
    assert not list(tmp_path.glob("done.rank*"))
    assert elapsed < 120, f"the job took {elapsed:.0f} s to end after the failure"
