"""Fixtures of the hardening suite: the golden artifact and a tiny trained twin.

* ``golden_rt``: the committed golden artifact (``tests/runtime/golden``, string item ids
  ``item-001`` .. ``item-040``, int user ids, ``max_len`` 12, top-k graph ``k`` 10).
* ``tiny_trainer``: a ``SequentialRecommender`` trained in about a second on the same
  vocabulary and ``max_len``, so that every bad-input table can be fed to the trainer
  and to the runtime unchanged and their behaviour compared.

Both are session-scoped and must not be modified by tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # for ``import hardening_support`` / ``fuzz_runtime`` / ...

from hardening_support import GOLDEN, GOLDEN_EXPECTED, make_tiny_recommender  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """Tiny models run fastest on one intra-op thread (and do not fight the 2-core runner)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def golden_rt():
    """The golden artifact on CPU, one onnxruntime thread, small chunks (batch_size 4)."""
    import seqrec_runtime

    if not (GOLDEN / "manifest.json").is_file():
        pytest.skip("no golden artifact: run `make golden`")
    return seqrec_runtime.load(GOLDEN, providers=["CPUExecutionProvider"],
                               intra_op_num_threads=1, batch_size=4)


@pytest.fixture(scope="session")
def golden_expected() -> dict:
    return json.loads(GOLDEN_EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def training_table() -> dict[str, np.ndarray]:
    """80 users over the golden vocabulary (``item-001`` .. ``item-040``)."""
    from seqrec_trainer.datasets import make_sequential_interactions

    data = make_sequential_interactions(n_users=80, n_items=40, min_length=3, max_length=20,
                                        random_state=5)
    data["ITEM_ID"] = np.array([f"item-{i:03d}" for i in data["ITEM_ID"]])
    return data


@pytest.fixture(scope="session")
def tiny_trainer(training_table, golden_rt):
    """A tiny trained recommender whose vocabulary equals the golden artifact's."""
    from seqrec_trainer import InteractionsDataset, ItemsDataset

    recommender = make_tiny_recommender()
    recommender.train(items_ds=ItemsDataset({"ITEM_ID": golden_rt.item_ids_}),
                      interactions_ds=InteractionsDataset(training_table))
    np.testing.assert_array_equal(recommender.item_ids_, golden_rt.item_ids_)
    return recommender


@pytest.fixture(scope="session")
def vocab(golden_rt) -> list[str]:
    return [str(v) for v in golden_rt.item_ids_]
