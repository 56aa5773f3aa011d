"""Small helpers shared by the bench scripts and the peer scripts (stdlib + numpy only).

Imported both from the seqrec venv (via ``bench/_util.py``) and from the scikit-rec venv
(scripts in this folder), so it must not import seqrec, pandas or torch.
"""

from __future__ import annotations

import gc
import json
import sys
import time

import numpy as np


def emit(obj: dict) -> None:
    """Print the child's result as the last stdout line (read by ``_util.run_json``)."""
    sys.stdout.write("\n" + json.dumps(obj, default=float) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- memory (Linux)
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return _ru_maxrss() if kib is None else kib * 1024


def peak_bytes() -> int:
    kib = _status_kib("VmHWM")
    return _ru_maxrss() if kib is None else kib * 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) via /proc/self/clear_refs; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """``with PeakMemory() as m: work()`` -> ``m.extra``: peak RSS in the block minus RSS before.

    ``m.exact`` is False where the peak counter could not be reset (then the peak may
    include earlier allocations of the process: an upper bound).
    """

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self.exact = reset_peak()
        self.before = rss_bytes()
        return self

    def __exit__(self, *exc) -> None:
        self.peak = peak_bytes()
        self.extra = max(0, self.peak - self.before)


# --------------------------------------------------------------------------- data
def make_interactions(n_rows: int, ids: str = "int", seed: int = 0) -> dict[str, np.ndarray]:
    """Random interaction rows for the sequence-building benchmark.

    ``n_rows // 100`` users (skewed: ~6 % have more than 200 rows, the largest has tens of
    thousands), ``max(1000, n_rows // 200)`` items (popularity-skewed), sparse ids,
    TIMESTAMP in unix seconds at day resolution over ~3 years (many equal timestamps
    within a user). ``ids="str"`` gives ``"user-0000123"`` / ``"item-000045"`` strings.
    Rows are in random order.
    """
    rng = np.random.default_rng(seed)
    n_users = max(1, n_rows // 100)
    n_items = max(1000, n_rows // 200)
    user_pos = (n_users * rng.random(n_rows) ** 2).astype(np.int64)
    item_pos = (n_items * rng.random(n_rows) ** 3).astype(np.int64)
    user_ids = rng.permutation(n_users).astype(np.int64) * 7 + 1000
    item_ids = rng.permutation(n_items).astype(np.int64) * 3 + 10
    if ids == "str":
        user_ids = np.array([f"user-{k:07d}" for k in user_ids])
        item_ids = np.array([f"item-{k:06d}" for k in item_ids])
    elif ids != "int":
        raise ValueError(ids)
    days = rng.integers(0, 1100, n_rows)
    return {
        "USER_ID": user_ids[user_pos],
        "ITEM_ID": item_ids[item_pos],
        "TIMESTAMP": 1_600_000_000 + days * 86_400,
    }


# --------------------------------------------------------------------------- epoch timing
class ShuffleClock:
    """Timestamps of each call of ``np.random.shuffle`` (scikit-rec shuffles once per epoch).

    Installed as a thin wrapper around numpy's function; it only records the time and
    calls the original.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self._original = np.random.shuffle

    def __enter__(self) -> ShuffleClock:
        original = self._original

        def shuffle(x):
            self.times.append(time.perf_counter())
            return original(x)

        np.random.shuffle = shuffle
        return self

    def __exit__(self, *exc) -> None:
        np.random.shuffle = self._original
