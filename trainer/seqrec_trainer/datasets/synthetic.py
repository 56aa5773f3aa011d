"""A generator of synthetic but sequentially structured interactions.

Items form a Markov chain: after item ``i`` a user most often takes one of a few fixed
successors of ``i`` (like episodes of a series or steps of a journey), sometimes jumps to
a random popular item. A model that reads the order therefore beats popularity by far,
which makes the demo's numbers meaningful.
"""

from __future__ import annotations

import numpy as np


def make_sequential_interactions(
    n_users: int = 2000,
    n_items: int = 300,
    min_length: int = 5,
    max_length: int = 60,
    n_successors: int = 3,
    p_follow: float = 0.8,
    random_state: int = 0,
) -> dict[str, np.ndarray]:
    """Generate USER_ID, ITEM_ID, TIMESTAMP, OUTCOME columns.

    Parameters
    ----------
    n_users, n_items
        Table size (item ids are ``1..n_items``, user ids ``1..n_users``).
    min_length, max_length
        Range of history lengths (uniform).
    n_successors
        How many likely next items each item has.
    p_follow
        Probability that the next item is one of the current item's successors.
    random_state
        Seed; the same seed gives the same table.

    Returns
    -------
    dict of numpy arrays
        One row per interaction, in random row order (so sorting by time matters).
    """
    rng = np.random.default_rng(random_state)
    successors = rng.integers(1, n_items + 1, size=(n_items + 1, n_successors))
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    lengths = rng.integers(min_length, max_length + 1, size=n_users)
    total = int(lengths.sum())
    users = np.repeat(np.arange(1, n_users + 1), lengths)
    items = np.empty(total, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    current = rng.choice(np.arange(1, n_items + 1), size=n_users, p=popularity)
    max_steps = int(lengths.max())
    for step in range(max_steps):  # vectorised over users, loop over positions only
        active = lengths > step
        items[starts[active] + step] = current[active]
        follow = rng.random(n_users) < p_follow
        pick = successors[current, rng.integers(0, n_successors, size=n_users)]
        jump = rng.choice(np.arange(1, n_items + 1), size=n_users, p=popularity)
        current = np.where(follow, pick, jump)
    gaps = rng.integers(60, 86_400, size=total)
    base = 1_600_000_000 + rng.integers(0, 10_000_000, size=n_users)
    timestamps = np.repeat(base, lengths) + np.cumsum(gaps) - np.repeat(
        np.cumsum(gaps)[starts] - gaps[starts], lengths
    )
    shuffle = rng.permutation(total)
    return {
        "USER_ID": users[shuffle],
        "ITEM_ID": items[shuffle],
        "TIMESTAMP": timestamps[shuffle].astype(np.int64),
        "OUTCOME": np.ones(total, dtype=np.float32),
    }
