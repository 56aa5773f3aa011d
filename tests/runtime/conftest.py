"""Fixtures for the runtime suite.

The fake artifacts are written with ``onnx``. In the isolated venv of
``test_isolation.py`` (no onnx) the parent run passes the directories it built through
``SEQREC_RUNTIME_FAKE_ARTIFACT`` / ``SEQREC_RUNTIME_FAKE_STRING_ARTIFACT``; without onnx
and without those, the tests that need a fake artifact are skipped and the golden
artifact tests in ``tests/runtime/golden/`` still run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for ``import runtime_fakes``

import runtime_fakes  # noqa: E402
from runtime_fakes import (  # noqa: E402
    MAX_LEN,
    N_ITEMS,
    PREBUILT_ENV,
    PREBUILT_STRING_ENV,
    TOPK_K,
)


def _prebuilt(env: str) -> Path | None:
    value = os.environ.get(env)
    return Path(value) if value else None

def _fallback(n_items: int) -> np.ndarray:
    scores = np.round(np.random.default_rng(1).random(n_items), 1)  # rounded: ties exist
    return scores.astype(np.float32)


def _emb() -> np.ndarray:
    emb = runtime_fakes.make_embeddings(N_ITEMS, seed=0)
    emb[8] = emb[4]  # items at columns 3 and 7 always tie
    return emb


@pytest.fixture(scope="session")
def fake_artifact(tmp_path_factory) -> Path:
    """A fake int-id artifact (40 items, the largest id beyond 2**53, max_len 8, k 10)."""
    if _prebuilt(PREBUILT_ENV):
        return _prebuilt(PREBUILT_ENV)
    pytest.importorskip("onnx", reason="onnx is needed to build the fake artifact")
    return runtime_fakes.write_artifact(
        tmp_path_factory.mktemp("fake") / "artifact",
        runtime_fakes.int_item_ids(N_ITEMS),
        _emb(),
        _fallback(N_ITEMS),
        max_len=MAX_LEN,
        k=TOPK_K,
    )


@pytest.fixture(scope="session")
def fake_string_artifact(tmp_path_factory) -> Path:
    """The same fake model with string item ids."""
    if _prebuilt(PREBUILT_STRING_ENV):
        return _prebuilt(PREBUILT_STRING_ENV)
    pytest.importorskip("onnx", reason="onnx is needed to build the fake artifact")
    ids = [f"item-{i:02d}" for i in range(N_ITEMS)]
    return runtime_fakes.write_artifact(
        tmp_path_factory.mktemp("fake_str") / "artifact",
        ids,
        _emb(),
        _fallback(N_ITEMS),
        max_len=MAX_LEN,
        k=TOPK_K,
    )


@pytest.fixture
def artifact_copy(fake_artifact, tmp_path) -> Path:
    """A private copy of the fake artifact that a test may tamper with."""
    return Path(shutil.copytree(fake_artifact, tmp_path / "artifact"))


@pytest.fixture(scope="session")
def rt(fake_artifact):
    """The fake artifact loaded on CPU (shared: the runtime is thread-safe and immutable)."""
    import seqrec_runtime

    return seqrec_runtime.load(fake_artifact, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def interactions(rt) -> dict[str, np.ndarray]:
    """60 users (+ a cold user -1) with repeats, timestamp ties and unknown items."""
    return runtime_fakes.make_interactions(np.asarray(rt.item_ids_), n_users=60, seed=0)


@pytest.fixture(scope="session")
def warm_interactions(interactions) -> dict[str, np.ndarray]:
    """``interactions`` without the cold user (no ColdUserWarning)."""
    keep = interactions["USER_ID"] != -1
    return {name: values[keep] for name, values in interactions.items()}
