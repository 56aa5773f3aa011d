"""score_items: row/column order, dtype, unknown items, cold users, trimming, chunking."""

from __future__ import annotations

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from seqrec_runtime import ColdUserWarning, EmptyInputError, SchemaError


def _reference_scores(rt, interactions, user) -> np.ndarray:
    """Scores of one user through the scores graph, the whole max_len window padded."""
    history = runtime_fakes.history_of(interactions, user)
    index = rt._vocab.encode(history)
    known = index[index != 0][-rt.max_len :]
    seq = np.zeros((1, rt.max_len), dtype=np.int64)
    seq[0, rt.max_len - len(known) :] = known
    return rt._graphs.scores(seq)[0]


def test_rows_ascending_user_ids_and_dtype(rt, interactions):
    with pytest.warns(ColdUserWarning):
        user_ids, scores = rt.score_items(interactions, return_user_ids=True)
    assert scores.dtype == np.float32
    assert scores.shape == (len(np.unique(interactions["USER_ID"])), rt.n_items)
    np.testing.assert_array_equal(user_ids, np.unique(interactions["USER_ID"]))
    for row in (1, 7, len(user_ids) - 1):
        expected = _reference_scores(rt, interactions, user_ids[row])
        np.testing.assert_array_equal(scores[row], expected)


def test_return_user_ids_false_returns_only_scores(rt, warm_interactions):
    scores = rt.score_items(warm_interactions)
    assert isinstance(scores, np.ndarray) and scores.ndim == 2


def test_columns_follow_item_ids(rt):
    # one item in the history: its own score is the squared norm of its embedding
    emb = runtime_fakes.make_embeddings(rt.n_items, seed=0)
    emb[8] = emb[4]
    for column in (0, 5, rt.n_items - 1):
        data = {"USER_ID": [1], "ITEM_ID": [rt.item_ids_[column]], "TIMESTAMP": [0]}
        scores = rt.score_items(data)
        np.testing.assert_array_equal(scores[0], emb[1:] @ emb[column + 1])


def test_unknown_items_are_skipped(rt):
    known = {"USER_ID": [5, 5, 5], "ITEM_ID": [3, 10, 17], "TIMESTAMP": [0, 1, 2]}
    noisy = {
        "USER_ID": [5, 5, 5, 5, 5],
        "ITEM_ID": [-99, 3, 10, 123456, 17],
        "TIMESTAMP": [0, 0, 1, 2, 2],
    }
    np.testing.assert_array_equal(rt.score_items(known), rt.score_items(noisy))


def test_cold_user_gets_fallback_and_warning(rt):
    data = {"USER_ID": [2, 1, 1], "ITEM_ID": [3, -1, -2], "TIMESTAMP": [0, 0, 1]}
    with pytest.warns(ColdUserWarning, match="USER_ID 1"):
        scores = rt.score_items(data)
    fallback = np.array(rt.manifest["fallback"]["scores"], dtype=np.float32)
    np.testing.assert_array_equal(scores[0], fallback)
    assert not np.array_equal(scores[1], fallback)


def test_only_last_max_len_items_matter(rt):
    ids = rt.item_ids_
    tail = list(ids[:8])
    short = {"USER_ID": [1] * 8, "ITEM_ID": tail, "TIMESTAMP": list(range(10, 18))}
    long = {
        "USER_ID": [1] * 13,
        "ITEM_ID": list(ids[20:25]) + tail,
        "TIMESTAMP": list(range(5)) + list(range(10, 18)),
    }
    np.testing.assert_array_equal(rt.score_items(short), rt.score_items(long))


def test_rows_do_not_depend_on_batch_composition(fake_artifact, warm_interactions):
    full = seqrec_runtime.load(fake_artifact, batch_size=256).score_items(warm_interactions)
    for batch_size in (1, 7):
        rt = seqrec_runtime.load(fake_artifact, batch_size=batch_size)
        np.testing.assert_array_equal(rt.score_items(warm_interactions), full)


def test_timestamp_ties_keep_input_order(rt):
    a = {"USER_ID": [1] * 9, "ITEM_ID": list(rt.item_ids_[:9]), "TIMESTAMP": [0] * 9}
    b = {"USER_ID": [1] * 9, "ITEM_ID": list(rt.item_ids_[1:9]) + [rt.item_ids_[0]],
         "TIMESTAMP": [0] * 9}
    # window of 8: a keeps items 1..8, b keeps items 2..8 + 0 -> different multisets
    assert not np.array_equal(rt.score_items(a), rt.score_items(b))


def test_empty_input(rt):
    with pytest.raises(EmptyInputError):
        rt.score_items({"USER_ID": [], "ITEM_ID": [], "TIMESTAMP": []})


def test_missing_column(rt):
    with pytest.raises(SchemaError, match="TIMESTAMP"):
        rt.score_items({"USER_ID": [1], "ITEM_ID": [3]})


def test_wrong_id_type(rt):
    with pytest.raises(seqrec_runtime.IdTypeError):
        rt.score_items({"USER_ID": [1], "ITEM_ID": ["3"], "TIMESTAMP": [0]})


def test_return_user_ids_must_be_bool(rt, warm_interactions):
    with pytest.raises(seqrec_runtime.InvalidParameterTypeError):
        rt.score_items(warm_interactions, return_user_ids="yes")
