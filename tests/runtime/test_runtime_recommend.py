"""recommend: deterministic ranking, exclusion, sampling, clipping, parameter errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import seqrec_runtime
from runtime_fakes import TOPK_K
from seqrec_runtime import (
    ColdUserWarning,
    InvalidParameterError,
    InvalidParameterTypeError,
    ranking,
)
from seqrec_runtime.sequences import Sequences


def _argsort_ids(rt, scores, top_k, exclude=None):
    if exclude is not None:
        scores = np.where(exclude, -np.inf, scores)
    return rt.item_ids_[np.argsort(-scores, axis=1, kind="stable")[:, :top_k]]


def _seen(rt, interactions, user_ids):
    """Boolean (n_users, n_items) mask of every known item in each WHOLE history."""
    mask = np.zeros((len(user_ids), rt.n_items), dtype=bool)
    column = {item: j for j, item in enumerate(rt.item_ids_.tolist())}
    row = {user: i for i, user in enumerate(user_ids.tolist())}
    for user, item in zip(interactions["USER_ID"].tolist(), interactions["ITEM_ID"].tolist(),
                          strict=True):
        if item in column:
            mask[row[user], column[item]] = True
    return mask


@pytest.mark.parametrize("top_k", [1, 5, TOPK_K, TOPK_K + 1, 40])
def test_deterministic_equals_argsort_of_scores(rt, warm_interactions, top_k):
    scores = rt.score_items(warm_interactions)
    recs = rt.recommend(warm_interactions, top_k=top_k, exclude_seen=False)
    assert recs.shape == (len(scores), top_k) and recs.dtype == rt.item_ids_.dtype
    np.testing.assert_array_equal(recs, _argsort_ids(rt, scores, top_k))


def test_batch_paths_never_build_every_users_padded_window(rt, warm_interactions, monkeypatch):
    # scoring works chunk by chunk from the CSR histories; the (n_users, max_len) matrix
    # (1.6 KB per user at max_len 200) is never allocated for all users at once
    expected = rt.recommend(warm_interactions, top_k=TOPK_K + 3, exclude_seen=True)
    scores = rt.score_items(warm_interactions)

    def refuse(self):
        raise AssertionError("the whole padded matrix was built")

    monkeypatch.setattr(Sequences, "items", property(refuse))
    np.testing.assert_array_equal(
        rt.recommend(warm_interactions, top_k=TOPK_K + 3, exclude_seen=True), expected)
    np.testing.assert_array_equal(rt.score_items(warm_interactions), scores)
    rt.recommend(warm_interactions, top_k=TOPK_K, sampling_temperature=0.5, random_state=0)


def test_ties_break_by_lower_column(rt):
    # columns 3 and 7 share an embedding: with any history they tie, 3 must come first
    data = {"USER_ID": [1], "ITEM_ID": [rt.item_ids_[3]], "TIMESTAMP": [0]}
    for top_k in (TOPK_K, rt.n_items):  # top-k graph and numpy paths
        recs = list(rt.recommend(data, top_k=top_k, exclude_seen=False)[0])
        assert recs.index(rt.item_ids_[3]) + 1 == recs.index(rt.item_ids_[7])


def test_topk_graph_path_equals_numpy_path(rt, interactions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdUserWarning)
        for exclude_seen in (False, True):
            via_graph = rt.recommend(interactions, top_k=TOPK_K, exclude_seen=exclude_seen)
            via_numpy = rt.recommend(interactions, top_k=TOPK_K + 5, exclude_seen=exclude_seen)
            np.testing.assert_array_equal(via_graph, via_numpy[:, :TOPK_K])


def test_exclude_seen_covers_whole_history(rt, warm_interactions):
    user_ids, scores = rt.score_items(warm_interactions, return_user_ids=True)
    seen = _seen(rt, warm_interactions, user_ids)
    assert (seen.sum(axis=1) > rt.max_len).any()  # some histories exceed the window
    for top_k in (TOPK_K, 15):  # graph path and numpy path
        recs = rt.recommend(warm_interactions, top_k=top_k, exclude_seen=True)
        np.testing.assert_array_equal(recs, _argsort_ids(rt, scores, top_k, seen))


def test_exclude_seen_clips_top_k_to_candidates(rt):
    ids = rt.item_ids_
    data = {  # user 1 saw 36 distinct items (some twice): 4 candidates left
        "USER_ID": [1] * 40 + [2],
        "ITEM_ID": list(ids[:36]) + list(ids[:4]) + [ids[0]],
        "TIMESTAMP": list(range(41)),
    }
    with pytest.warns(UserWarning, match="4 candidate"):
        recs = rt.recommend(data, top_k=10, exclude_seen=True)
    assert recs.shape == (2, 4)
    assert set(recs[0]) == set(ids[36:])


def test_exclude_seen_with_nothing_left(rt):
    data = {"USER_ID": [1] * 40, "ITEM_ID": list(rt.item_ids_), "TIMESTAMP": list(range(40))}
    with pytest.raises(InvalidParameterError, match="no candidate"):
        rt.recommend(data, top_k=3, exclude_seen=True)


def test_top_k_larger_than_n_items_is_clipped(rt, warm_interactions):
    with pytest.warns(UserWarning, match="top_k=100"):
        recs = rt.recommend(warm_interactions, top_k=100, exclude_seen=False)
    assert recs.shape[1] == rt.n_items


def test_cold_user_gets_fallback_ranking(rt):
    data = {"USER_ID": [1, 2], "ITEM_ID": [-7, rt.item_ids_[0]], "TIMESTAMP": [0, 0]}
    fallback = np.array(rt.manifest["fallback"]["scores"], dtype=np.float32)
    expected = rt.item_ids_[np.argsort(-fallback, kind="stable")]
    for top_k in (5, 20):
        for exclude_seen in (False, True):
            with pytest.warns(ColdUserWarning):
                recs = rt.recommend(data, top_k=top_k, exclude_seen=exclude_seen)
            np.testing.assert_array_equal(recs[0], expected[:top_k])


def test_return_user_ids(rt, warm_interactions):
    user_ids, recs = rt.recommend(warm_interactions, top_k=3, return_user_ids=True)
    np.testing.assert_array_equal(user_ids, np.unique(warm_interactions["USER_ID"]))
    assert recs.shape == (len(user_ids), 3)


@pytest.mark.parametrize("top_k", [3, TOPK_K, 25])
def test_sampling_matches_rank_over_all_rows(rt, interactions, top_k):
    with pytest.warns(ColdUserWarning):
        scores = rt.score_items(interactions)
    expected = rt.item_ids_[
        ranking.rank(scores, top_k, 0.7, ranking.make_rng(11))
    ]
    with pytest.warns(ColdUserWarning):
        recs = rt.recommend(interactions, top_k=top_k, sampling_temperature=0.7, random_state=11,
                            exclude_seen=False)
    np.testing.assert_array_equal(recs, expected)


def test_sampling_reproducible_and_chunk_independent(fake_artifact, interactions):
    kwargs = dict(top_k=6, sampling_temperature=1.5, exclude_seen=True)
    results = []
    for batch_size in (1, 7, 256):
        rt = seqrec_runtime.load(fake_artifact, batch_size=batch_size)
        with pytest.warns(ColdUserWarning):
            results.append(rt.recommend(interactions, random_state=5, **kwargs))
            results.append(rt.recommend(interactions, random_state=np.random.default_rng(5),
                                        **kwargs))
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    with pytest.warns(ColdUserWarning):
        different = rt.recommend(interactions, random_state=6, **kwargs)
    assert not np.array_equal(different, results[0])


def test_sampling_without_replacement_and_excluding_seen(rt, warm_interactions):
    user_ids, recs = rt.recommend(warm_interactions, top_k=20, sampling_temperature=3.0,
                                  exclude_seen=True, random_state=0, return_user_ids=True)
    seen = _seen(rt, warm_interactions, user_ids)
    column = {item: j for j, item in enumerate(rt.item_ids_.tolist())}
    for row, items in enumerate(recs.tolist()):
        assert len(set(items)) == len(items)
        assert not any(seen[row, column[item]] for item in items)


def test_low_temperature_sampling_equals_deterministic(rt):
    data = {"USER_ID": [1, 1], "ITEM_ID": list(rt.item_ids_[10:12]), "TIMESTAMP": [0, 1]}
    scores = rt.score_items(data)[0]
    gaps = -np.diff(np.sort(scores)[::-1][:6])
    if (gaps[:5] == 0).any():
        pytest.skip("ties among the top 5 make the sampled order arbitrary")
    np.testing.assert_array_equal(
        rt.recommend(data, top_k=5, sampling_temperature=1e-6, random_state=0),
        rt.recommend(data, top_k=5),
    )


@pytest.mark.parametrize("temperature", [1e-310, 5e-324])
def test_subnormal_temperature_ranks_by_score_not_by_column(rt, temperature):
    # scores / temperature overflowed to +-inf: every positive item tied and came out in
    # column order
    data = {"USER_ID": [1, 1], "ITEM_ID": list(rt.item_ids_[10:12]), "TIMESTAMP": [0, 1]}
    deterministic = rt.recommend(data, top_k=rt.n_items, exclude_seen=False)
    scores = rt.score_items(data)[0]
    column = {item: j for j, item in enumerate(rt.item_ids_.tolist())}
    for seed in range(3):
        sampled = rt.recommend(data, top_k=rt.n_items, sampling_temperature=temperature,
                               random_state=seed, exclude_seen=False)
        ranked = scores[[column[i] for i in sampled[0].tolist()]]
        assert (np.diff(ranked) <= 0).all()  # non-increasing scores, as at temperature 0
        assert set(sampled[0].tolist()) == set(deterministic[0].tolist())


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"top_k": 0}, InvalidParameterError),
        ({"top_k": -2}, InvalidParameterError),
        ({"top_k": 2.5}, InvalidParameterTypeError),
        ({"top_k": True}, InvalidParameterTypeError),
        ({"sampling_temperature": -0.1}, InvalidParameterError),
        ({"sampling_temperature": float("nan")}, InvalidParameterError),
        ({"sampling_temperature": float("inf")}, InvalidParameterError),
        ({"sampling_temperature": "hot"}, InvalidParameterTypeError),
        ({"sampling_temperature": 10**400}, InvalidParameterError),  # was OverflowError
        ({"random_state": "7"}, InvalidParameterTypeError),
        ({"random_state": 1.5}, InvalidParameterTypeError),
        ({"random_state": -1}, InvalidParameterError),
        ({"random_state": -1, "sampling_temperature": 1.0}, InvalidParameterError),
        ({"exclude_seen": "no"}, InvalidParameterTypeError),
    ],
)
def test_parameter_errors(rt, warm_interactions, kwargs, error):
    with pytest.raises(error):
        rt.recommend(warm_interactions, **kwargs)


def test_string_ids_recommend_original_ids(fake_string_artifact, fake_artifact):
    rt_str = seqrec_runtime.load(fake_string_artifact)
    rt_int = seqrec_runtime.load(fake_artifact)
    data_int = {"USER_ID": [1, 1, 2], "ITEM_ID": list(rt_int.item_ids_[[4, 9, 30]]),
                "TIMESTAMP": [0, 1, 0]}
    data_str = dict(data_int, ITEM_ID=list(rt_str.item_ids_[[4, 9, 30]]))
    recs_str = rt_str.recommend(data_str, top_k=12, exclude_seen=True)
    recs_int = rt_int.recommend(data_int, top_k=12, exclude_seen=True)
    assert recs_str.dtype.kind == "U"
    column_int = {item: j for j, item in enumerate(rt_int.item_ids_.tolist())}
    as_columns = np.vectorize(column_int.get)(recs_int)
    np.testing.assert_array_equal(recs_str, rt_str.item_ids_[as_columns])


def test_many_string_ids_take_the_hash_path_with_the_same_results(fake_string_artifact,
                                                                  monkeypatch):
    """Above HASH_MIN_ROWS rows, string users and items are grouped by hash; the results
    must equal the string-sorting path's."""
    from seqrec_runtime import hashing, sequences, vocabulary

    rt = seqrec_runtime.load(fake_string_artifact)
    rng = np.random.default_rng(3)
    n = 3 * hashing.HASH_MIN_ROWS
    items = np.r_[rt.item_ids_, ["unknown-item"]]
    data = {"USER_ID": np.array([f"user-{u:04d}" for u in rng.integers(0, 900, n)]),
            "ITEM_ID": items[rng.integers(0, len(items), n)],
            "TIMESTAMP": rng.integers(0, 50, n)}
    calls = []

    def spy(name, function):
        def wrapped(ids):
            calls.append(name)
            return function(ids)
        return wrapped

    monkeypatch.setattr(sequences, "factorize_strings",
                        spy("users", sequences.factorize_strings))
    monkeypatch.setattr(vocabulary, "string_hashes", spy("items", vocabulary.string_hashes))
    hashed = (rt.score_items(data, return_user_ids=True),
              rt.recommend(data, top_k=7, exclude_seen=True))
    assert sorted(set(calls)) == ["items", "users"]
    for module in (sequences, vocabulary):
        monkeypatch.setattr(module, "HASH_MIN_ROWS", 10 * n)  # strings sorted, not hashed
    (users, scores), recs = hashed
    plain_users, plain_scores = rt.score_items(data, return_user_ids=True)
    np.testing.assert_array_equal(users, plain_users)
    np.testing.assert_array_equal(scores, plain_scores)
    np.testing.assert_array_equal(recs, rt.recommend(data, top_k=7, exclude_seen=True))


def test_recommend_excludes_seen_items_by_default(rt, warm_interactions):
    default = rt.recommend(warm_interactions, top_k=5)
    np.testing.assert_array_equal(
        default, rt.recommend(warm_interactions, top_k=5, exclude_seen=True))
    users = np.asarray(warm_interactions["USER_ID"])
    items = np.asarray(warm_interactions["ITEM_ID"])
    user_ids, recs = rt.recommend(warm_interactions, top_k=5, return_user_ids=True)
    for user, row in zip(user_ids, recs, strict=True):
        assert not set(row.tolist()) & set(items[users == user].tolist())
