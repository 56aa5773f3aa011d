"""Training windows that cover whole histories, not only the most recent ``max_len + 1`` items.

With ``history_windows="all"`` a history of ``n`` items becomes ``ceil((n - 1) / max_len)``
rows of width ``max_len + 1``: the most recent window (the same row ``"last"`` builds), then
the items before it, and so on; consecutive windows share one item (the last input of the
earlier window is the first input of the next), so every item after a user's first is a
training target exactly once. Earlier windows are left-padded like every other row.
"""

from __future__ import annotations

import numpy as np

HISTORY_WINDOWS = ("last", "all")


def all_windows(
    sorted_users: np.ndarray,
    sorted_items: np.ndarray,
    width: int,
    sorted_aligned: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Cut every user's history into left-padded windows of ``width`` items.

    Parameters
    ----------
    sorted_users
        User codes ``0..n_users-1`` of rows already sorted by (user, time), one per row.
    sorted_items
        Item indices (all known, > 0) of those rows.
    width
        Window width ``max_len + 1`` (``max_len`` targets per window).
    sorted_aligned
        Per-row values (e.g. OUTCOME) placed like the items.

    Returns
    -------
    windows, aligned
        ``(n_windows, width)`` int64 item indices (0 = padding) with every window holding at
        least two items, and the aligned value matrices.
    """
    step = width - 1
    n_users = int(sorted_users.max()) + 1 if len(sorted_users) else 0
    counts = np.bincount(sorted_users, minlength=n_users)
    ends = np.cumsum(counts)
    n_windows = np.where(counts >= 2, (counts - 1 + step - 1) // step, 0)
    first_window = np.cumsum(n_windows) - n_windows
    rank = ends[sorted_users] - 1 - np.arange(len(sorted_users))  # 0 = most recent

    own = rank // step
    in_own = own < n_windows[sorted_users]
    rows = first_window[sorted_users] + own
    cols = step - rank % step
    # a row at a window boundary is also the first input of the next (more recent) window
    shared = (rank % step == 0) & (rank >= step)

    windows = np.zeros((int(n_windows.sum()), width), dtype=np.int64)
    aligned: dict[str, np.ndarray] = {}
    placements = [(rows[in_own], cols[in_own], in_own), (rows[shared] - 1, 0, shared)]
    for r, c, pick in placements:
        windows[r, c] = sorted_items[pick]
    for name, values in (sorted_aligned or {}).items():
        matrix = np.zeros(windows.shape, dtype=values.dtype)
        for r, c, pick in placements:
            matrix[r, c] = values[pick]
        aligned[name] = matrix
    return windows, aligned
