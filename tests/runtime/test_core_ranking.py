"""``seqrec_runtime.ranking`` / ``batch`` / ``vocabulary``: top-k, sampling, chunking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from seqrec_runtime.batch import recommend_all, resolve_top_k, score_all
from seqrec_runtime.errors import IdTypeError, InvalidParameterError, InvalidParameterTypeError
from seqrec_runtime.ranking import (
    check_temperature,
    check_top_k,
    gumbel_top_k,
    make_rng,
    rank,
    top_k_indices,
)
from seqrec_runtime.sequences import build_sequences
from seqrec_runtime.vocabulary import ItemVocabulary


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 12)),
           elements=st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 1.0, 2.0])),
    st.data(),
)
def test_top_k_is_stable_argsort(scores, data):
    k = data.draw(st.integers(1, scores.shape[1]))
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_k_indices(scores, k), expected)


def test_gumbel_top_k_is_reproducible_distinct_and_avoids_excluded():
    scores = np.random.default_rng(0).normal(size=(50, 20)).astype(np.float32)
    exclude = np.zeros_like(scores, dtype=bool)
    exclude[:, :5] = True
    a = rank(scores, 10, 1.0, np.random.default_rng(7), exclude)
    b = rank(scores, 10, 1.0, np.random.default_rng(7), exclude)
    c = rank(scores, 10, 1.0, np.random.default_rng(8), exclude)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert all(len(set(row)) == 10 for row in a.tolist())
    assert (a >= 5).all()


def test_gumbel_sampling_follows_the_softmax():
    scores = np.log(np.array([[0.7, 0.2, 0.1]]))
    rng = np.random.default_rng(0)
    firsts = np.array([gumbel_top_k(scores, 1, 1.0, rng)[0, 0] for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(firsts, minlength=3) / 4000, [0.7, 0.2, 0.1],
                               atol=0.03)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
@pytest.mark.parametrize("temperature", [0.0, 0.5])
def test_recommend_all_does_not_depend_on_chunking(batch_size, temperature):
    rng = np.random.default_rng(0)
    n_items = 12
    users = rng.integers(0, 20, size=120)
    seqs = build_sequences(users, rng.integers(1, n_items + 1, size=120), rng.integers(0, 50, 120),
                           max_len=4)
    table = rng.normal(size=(n_items + 1, n_items)).astype(np.float32)

    def score_fn(items):  # depends on the last item only, so chunk trimming is harmless
        return table[items[:, -1]]

    fallback = np.linspace(1, 0, n_items, dtype=np.float32)
    expected = recommend_all(seqs, score_fn, fallback, 5, temperature, np.random.default_rng(3),
                             True, 1000)
    got = recommend_all(seqs, score_fn, fallback, 5, temperature, np.random.default_rng(3), True,
                        batch_size)
    np.testing.assert_array_equal(got, expected)
    scores = score_all(seqs, score_fn, fallback, batch_size)
    np.testing.assert_array_equal(scores, table[seqs.items[:, -1]])


def test_resolve_top_k_counts_distinct_seen_candidates():
    seqs = build_sequences(np.array([0, 0, 0, 1]), np.array([1, 1, 2, 3]), np.arange(4), 2)
    with pytest.warns(UserWarning, match="exclude_seen"):
        assert resolve_top_k(4, seqs, 4, True) == 2
    assert resolve_top_k(2, seqs, 4, True) == 2
    with pytest.raises(InvalidParameterError):
        resolve_top_k(1, seqs, 2, True)  # user 0 has seen both items


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, InvalidParameterError), (-3, InvalidParameterError), (2.0, InvalidParameterTypeError),
     (True, InvalidParameterTypeError), ("3", InvalidParameterTypeError)],
)
def test_check_top_k_errors(value, error):
    with pytest.raises(error):
        check_top_k(value, 10)


def test_check_top_k_clips_with_a_warning():
    with pytest.warns(UserWarning, match="top_k"):
        assert check_top_k(50, 10) == 10
    assert check_top_k(np.int64(3), 10) == 3


@pytest.mark.parametrize(
    ("value", "error"),
    [(-0.1, InvalidParameterError), (float("nan"), InvalidParameterError),
     (float("inf"), InvalidParameterError), (np.float32("nan"), InvalidParameterError),
     ("1", InvalidParameterTypeError), (None, InvalidParameterTypeError),
     (False, InvalidParameterTypeError)],
)
def test_check_temperature_errors(value, error):
    with pytest.raises(error):
        check_temperature(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [("7", InvalidParameterTypeError), (7.0, InvalidParameterTypeError),
     (True, InvalidParameterTypeError), (np.random.RandomState(0), InvalidParameterTypeError),
     (-1, InvalidParameterError)],
)
def test_make_rng_errors(value, error):
    with pytest.raises(error):
        make_rng(value)


def test_make_rng_accepts_seed_and_generator():
    assert make_rng(5).random() == np.random.default_rng(5).random()
    assert make_rng(np.int64(5)).random() == np.random.default_rng(5).random()
    generator = np.random.default_rng(9)
    expected = np.random.default_rng(9).random()
    assert make_rng(generator).random() == expected


@pytest.mark.parametrize("ids", [[30, 10, 20], ["b", "c", "a"]])
def test_vocabulary_round_trip_and_unknown_ids(ids):
    vocabulary = ItemVocabulary(np.array(ids))
    assert vocabulary.ids.tolist() == sorted(ids)
    index = vocabulary.encode(np.array(sorted(ids)))
    assert index.tolist() == [1, 2, 3]
    assert vocabulary.decode(index - 1).tolist() == sorted(ids)
    unknown = np.array([99 if isinstance(ids[0], int) else "zz"])
    assert vocabulary.encode(unknown).tolist() == [0]


def test_vocabulary_refuses_other_id_type_and_duplicates():
    with pytest.raises(IdTypeError):
        ItemVocabulary(np.array([1, 2])).encode(np.array(["1"]))
    with pytest.raises(IdTypeError):
        ItemVocabulary(np.array([1, 1]))
