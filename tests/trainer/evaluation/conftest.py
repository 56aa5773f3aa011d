"""Fixtures for the evaluation tests: a fake model with known scores."""

from __future__ import annotations

import numpy as np
import pytest


class FakeModel:
    """Duck-typed model: fixed score rows per user, a default row for everyone else.

    Records the users of every ``score_items`` call in ``calls``.
    """

    def __init__(self, item_ids, user_scores=None, default=None):
        self.item_ids_ = np.asarray(item_ids)
        self.user_scores = {
            k: np.asarray(v, dtype=np.float32) for k, v in (user_scores or {}).items()
        }
        n = len(self.item_ids_)
        self.default = (
            np.zeros(n, np.float32) if default is None else np.asarray(default, dtype=np.float32)
        )
        self.calls: list[np.ndarray] = []

    def score_items(self, interactions, return_user_ids=True):
        users = np.unique(np.asarray(interactions["USER_ID"]))
        self.calls.append(users)
        rows = [self.user_scores.get(u.item(), self.default) for u in users]
        scores = np.stack(rows) if rows else np.zeros((0, len(self.item_ids_)), np.float32)
        return users[::-1], scores[::-1]  # reversed on purpose: callers must match by id


@pytest.fixture
def fake_model_cls():
    return FakeModel
