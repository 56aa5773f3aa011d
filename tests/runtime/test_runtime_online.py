"""recommend_online: one user's ordered history, equal to the batch path."""

from __future__ import annotations

import numpy as np
import pytest
import runtime_fakes
from runtime_fakes import TOPK_K
from seqrec_runtime import (
    ColdUserWarning,
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
    MissingValueError,
)

CASES = [
    dict(top_k=5),
    dict(top_k=TOPK_K, exclude_seen=True),
    dict(top_k=TOPK_K + 3),
    dict(top_k=TOPK_K + 3, exclude_seen=True),
    dict(top_k=4, sampling_temperature=0.8, random_state=3),
    dict(top_k=4, sampling_temperature=0.8, random_state=3, exclude_seen=True),
]


def _as_table(history):
    n = len(history)
    return {"USER_ID": [0] * n, "ITEM_ID": list(history), "TIMESTAMP": list(range(n))}


@pytest.mark.parametrize("kwargs", CASES)
def test_online_equals_batch_for_each_user(rt, warm_interactions, kwargs):
    users = np.unique(warm_interactions["USER_ID"])[:15]
    for user in users:
        history = runtime_fakes.history_of(warm_interactions, user)
        batch = rt.recommend(_as_table(history), **kwargs)[0]
        online = rt.recommend_online(history, **kwargs)
        np.testing.assert_array_equal(online, batch)
        assert online.ndim == 1 and online.dtype == rt.item_ids_.dtype


def test_online_accepts_lists_and_arrays(rt):
    ids = rt.item_ids_
    as_list = rt.recommend_online([int(i) for i in ids[[2, 5, 9]]], top_k=7)
    np.testing.assert_array_equal(rt.recommend_online(ids[[2, 5, 9]], top_k=7), as_list)
    np.testing.assert_array_equal(rt.recommend_online(tuple(ids[[2, 5, 9]]), top_k=7), as_list)
    floats = np.array(ids[[2, 5, 9]], dtype=np.float64)  # exact: these ids are small
    np.testing.assert_array_equal(rt.recommend_online(floats, top_k=7), as_list)


def test_online_skips_unknown_and_keeps_last_max_len(rt):
    ids = list(rt.item_ids_)
    clean = ids[:rt.max_len]
    noisy = ids[20:26] + [-1] + clean[:3] + [-2, -3] + clean[3:]
    np.testing.assert_array_equal(
        rt.recommend_online(noisy, top_k=8, exclude_seen=False),
        rt.recommend_online(clean, top_k=8, exclude_seen=False),
    )


def test_online_exclude_seen_uses_whole_history(rt):
    ids = list(rt.item_ids_)
    history = ids[:20]  # longer than max_len
    recs = rt.recommend_online(history, top_k=15, exclude_seen=True)
    assert not set(recs) & set(history)


@pytest.mark.parametrize("history", [[], [-1, -2], np.array([], dtype=np.int64)])
def test_online_cold_history_gets_fallback(rt, history):
    fallback = np.array(rt.manifest["fallback"]["scores"], dtype=np.float32)
    expected = rt.item_ids_[np.argsort(-fallback, kind="stable")]
    for top_k in (3, 25):
        with pytest.warns(ColdUserWarning):
            recs = rt.recommend_online(history, top_k=top_k, exclude_seen=True)
        np.testing.assert_array_equal(recs, expected[:top_k])


def test_online_cold_sampling_is_reproducible(rt):
    with pytest.warns(ColdUserWarning):
        a = rt.recommend_online([], top_k=5, sampling_temperature=1.0, random_state=1)
    with pytest.warns(ColdUserWarning):
        b = rt.recommend_online([], top_k=5, sampling_temperature=1.0, random_state=1)
    np.testing.assert_array_equal(a, b)


def test_online_clipping_warnings(rt):
    with pytest.warns(UserWarning, match="top_k=50"):
        recs = rt.recommend_online([rt.item_ids_[0]], top_k=50, exclude_seen=False)
        assert recs.shape == (rt.n_items,)
    with pytest.warns(UserWarning, match="37 candidate"):
        recs = rt.recommend_online(list(rt.item_ids_[:3]), top_k=39, exclude_seen=True)
    assert recs.shape == (37,)


@pytest.mark.parametrize(
    "item_ids, kwargs, error",
    [
        ("abc", {}, InvalidParameterTypeError),
        (3, {}, InvalidParameterTypeError),
        ({3, 10}, {}, InvalidParameterTypeError),
        (iter([3, 10]), {}, InvalidParameterTypeError),
        (np.zeros((2, 2), dtype=np.int64), {}, InvalidParameterTypeError),
        (["3"], {}, IdTypeError),
        ([3.5], {}, IdTypeError),
        ([3], {"top_k": 0}, InvalidParameterError),
        ([3], {"sampling_temperature": float("nan")}, InvalidParameterError),
        ([3], {"random_state": "x"}, InvalidParameterTypeError),
    ],
)
def test_online_errors(rt, item_ids, kwargs, error):
    with pytest.raises(error):
        rt.recommend_online(item_ids, **kwargs)


def test_online_string_ids(fake_string_artifact):
    import seqrec_runtime

    rt = seqrec_runtime.load(fake_string_artifact)
    recs = rt.recommend_online(["item-03", "nope", "item-10"], top_k=4)
    assert recs.dtype.kind == "U" and len(recs) == 4
    with pytest.raises(IdTypeError):
        rt.recommend_online([3], top_k=4)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_online_masked_entries_are_missing_values(rt, dtype):
    # the int64 fast path used to read the masked values as real items
    history = np.ma.array(np.asarray(rt.item_ids_[:3], dtype=dtype), mask=[False, True, False])
    with pytest.raises(MissingValueError, match="masked"):
        rt.recommend_online(history, exclude_seen=True)


def test_online_excludes_the_history_by_default(rt):
    history = list(rt.item_ids_[[11, 6, 98 % rt.n_items]])
    default = rt.recommend_online(history, top_k=rt.n_items - 3)
    assert not set(default.tolist()) & set(history)
    np.testing.assert_array_equal(default, rt.recommend_online(history, top_k=rt.n_items - 3,
                                                               exclude_seen=True))
    assert set(rt.recommend_online(history, top_k=rt.n_items, exclude_seen=False).tolist()) >= \
        set(history)
