"""The committed golden artifact, made by the real exporter (``make golden``).

Layout (``python -m seqrec_export.golden tests/runtime/golden``)::

    tests/runtime/golden/                the artifact (manifest.json, model*.onnx)
    tests/runtime/golden_expected.json   the trainer's (torch) outputs for a few users:
        {"interactions": {"USER_ID": [...], "ITEM_ID": [...], "TIMESTAMP": [...]},
         "top_k": 5, "user_ids": [...], "scores": [[...], ...],
         "recommend": [[...]], "recommend_exclude_seen": [[...]],
         "recommend_sampled": {"sampling_temperature": 1.0, "random_state": 3,
                               "items": [[...]]}}

These tests need no onnx, so they also run in the isolated venv. torch and onnxruntime
scores differ by ~1e-6: scores are compared with a tolerance, and rankings through the
scores of the items at each rank (near-ties may swap; real ones essentially never do).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from seqrec_runtime import ColdUserWarning, ranking

ARTIFACT = Path(__file__).parent / "golden"
EXPECTED = Path(__file__).parent / "golden_expected.json"
ATOL = 1e-4  # expected scores are rounded to 6 decimals; torch vs onnxruntime ~1e-6

pytestmark = pytest.mark.skipif(
    not (ARTIFACT / "manifest.json").is_file(),
    reason=f"no golden artifact yet at {ARTIFACT}: generate it with `make golden`",
)


@pytest.fixture(scope="module")
def golden():
    return seqrec_runtime.load(ARTIFACT, providers=["CPUExecutionProvider"], batch_size=3)


@pytest.fixture(scope="module")
def expected():
    if not EXPECTED.is_file():
        pytest.skip(f"no {EXPECTED.name} next to the golden artifact")
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def data(golden):
    """Random interactions over the golden vocabulary (more users than expected.json)."""
    return runtime_fakes.make_interactions(
        np.asarray(golden.item_ids_), n_users=40, seed=2, max_events=2 * golden.max_len
    )


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdUserWarning)
        return fn(*args, **kwargs)


def assert_rankings_close(golden, scores, recs_a, recs_b, atol):
    """Same shape and, at every rank, items whose ``scores`` agree within ``atol``."""
    recs_a, recs_b = np.asarray(recs_a), np.asarray(recs_b)
    assert recs_a.shape == recs_b.shape
    rows = np.arange(len(scores))[:, None]
    a = scores[rows, np.searchsorted(golden.item_ids_, recs_a)]
    b = scores[rows, np.searchsorted(golden.item_ids_, recs_b)]
    np.testing.assert_allclose(a, b, rtol=0, atol=atol)


def test_golden_manifest(golden):
    manifest = golden.manifest
    assert manifest["format"] == "seqrec-onnx-artifact" and manifest["format_version"] == 1
    assert golden.n_items == len(golden.item_ids_) == manifest["n_items"]
    assert manifest["graphs"]["topk"]["k"] <= golden.n_items


def test_golden_scores_do_not_depend_on_chunking(golden, data):
    scores = _quiet(golden.score_items, data)
    assert scores.dtype == np.float32 and scores.shape[1] == golden.n_items
    assert np.isfinite(scores).all()
    one_chunk = seqrec_runtime.load(ARTIFACT, batch_size=4096)
    np.testing.assert_allclose(_quiet(one_chunk.score_items, data), scores, atol=1e-5)


def test_golden_trimmed_equals_padded(golden):
    ids = golden.item_ids_
    short = {"USER_ID": [1, 1], "ITEM_ID": ids[[0, 1]], "TIMESTAMP": [0, 1]}
    n_long = golden.max_len + 3
    mixed = {  # user 2's long history pads user 1's row to max_len in the same batch
        "USER_ID": [1, 1] + [2] * n_long,
        "ITEM_ID": np.concatenate([ids[[0, 1]], ids[np.arange(n_long) % len(ids)]]),
        "TIMESTAMP": [0, 1] + list(range(n_long)),
    }
    np.testing.assert_allclose(golden.score_items(short)[0], golden.score_items(mixed)[0],
                               atol=1e-5)


def test_golden_topk_graph_equals_numpy(golden, data):
    scores = _quiet(golden.score_items, data)
    k = golden.manifest["graphs"]["topk"]["k"]
    for exclude_seen in (False, True):
        via_graph = _quiet(golden.recommend, data, top_k=k, exclude_seen=exclude_seen)
        via_numpy = _quiet(golden.recommend, data, top_k=k + 1, exclude_seen=exclude_seen)
        assert_rankings_close(golden, scores, via_graph, via_numpy[:, :k], 1e-5)


def test_golden_online_equals_batch(golden, data):
    for user in np.unique(data["USER_ID"])[:10]:
        history = runtime_fakes.history_of(data, user)
        n = len(history)
        table = {"USER_ID": [0] * n, "ITEM_ID": history, "TIMESTAMP": np.arange(n)}
        for kwargs in ({"top_k": 5, "exclude_seen": True}, {"top_k": 15}):
            batch = _quiet(golden.recommend, table, **kwargs)
            online = _quiet(golden.recommend_online, history, **kwargs)
            scores = _quiet(golden.score_items, table)
            assert_rankings_close(golden, scores, online[None, :], batch, 1e-5)


def test_golden_matches_trainer_scores(golden, expected):
    user_ids, scores = _quiet(golden.score_items, expected["interactions"], return_user_ids=True)
    assert user_ids.tolist() == expected["user_ids"]
    np.testing.assert_allclose(scores, np.asarray(expected["scores"]), rtol=0, atol=ATOL)


@pytest.mark.parametrize("key, exclude_seen", [("recommend", False),
                                                ("recommend_exclude_seen", True)])
def test_golden_matches_trainer_recommendations(golden, expected, key, exclude_seen):
    reference = np.asarray(expected["scores"], dtype=np.float64)
    recs = _quiet(golden.recommend, expected["interactions"], top_k=expected["top_k"],
                  exclude_seen=exclude_seen)
    assert_rankings_close(golden, reference, recs, expected[key], 2 * ATOL)


def test_golden_matches_trainer_sampling(golden, expected):
    spec = expected["recommend_sampled"]
    temperature, seed = spec["sampling_temperature"], spec["random_state"]
    recs = _quiet(golden.recommend, expected["interactions"], top_k=expected["top_k"],
                  sampling_temperature=temperature, exclude_seen=False, random_state=seed)
    # Same noise as the runtime and trainer draw (row-major, one stream): compare the
    # perturbed logits of the items at each rank.
    reference = np.asarray(expected["scores"], dtype=np.float64)
    noise = ranking.make_rng(seed).gumbel(size=reference.shape)
    assert_rankings_close(golden, reference / temperature + noise, recs, spec["items"],
                          2 * ATOL / temperature)
