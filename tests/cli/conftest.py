"""The command-line tests train tiny models: one intra-op thread keeps them fast."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """OpenMP threads spinning against other processes on a 2-core runner can make tiny
    models several times slower than one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
