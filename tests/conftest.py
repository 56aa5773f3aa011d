"""Fixtures shared by every test folder (keep this file small)."""

from __future__ import annotations

import numpy as np
import pytest
from seqrec_trainer.datasets import make_sequential_interactions


@pytest.fixture(scope="session")
def synthetic_table() -> dict[str, np.ndarray]:
    """A small synthetic interactions table (150 users, 30 items). Do not mutate it."""
    return make_sequential_interactions(
        n_users=150, n_items=30, min_length=3, max_length=25, random_state=0
    )


@pytest.fixture
def synthetic_interactions(synthetic_table) -> dict[str, np.ndarray]:
    """A private copy of :func:`synthetic_table` that a test may modify."""
    return {name: values.copy() for name, values in synthetic_table.items()}
