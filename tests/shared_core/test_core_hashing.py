"""``seqrec_runtime.hashing``: grouping string ids by hash gives np.unique's answer, even
when hashes collide."""

from __future__ import annotations

import numpy as np
import pytest
from seqrec_runtime import hashing
from seqrec_runtime.sequences import factorize
from seqrec_runtime.vocabulary import ItemVocabulary


def _random_ids(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("ab-01é雪\U0001F600"))
    pool = ["".join(rng.choice(alphabet, rng.integers(0, 9))) for _ in range(500)]
    pool += ["x" * 40, "a", "a\u00e9", ""]  # long, prefix of another, empty
    return np.array(pool)[rng.integers(0, len(pool), n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_factorize_strings_equals_np_unique(seed):
    ids = _random_ids(20_000, seed)
    expected_uniques, expected_codes = np.unique(ids, return_inverse=True)
    uniques, codes = hashing.factorize_strings(ids)
    np.testing.assert_array_equal(uniques, expected_uniques)
    np.testing.assert_array_equal(codes, expected_codes)
    uniques, codes = factorize(ids)  # the public entry point takes the hash path here
    np.testing.assert_array_equal(uniques[codes], ids)


def test_non_contiguous_input():
    ids = _random_ids(20_000)[::2]
    distinct, codes = hashing.distinct_strings(ids)
    np.testing.assert_array_equal(distinct[codes], ids)


def test_a_hash_collision_falls_back_to_sorting_strings(monkeypatch):
    ids = _random_ids(10_000)
    vocabulary = ItemVocabulary(np.unique(ids)[::2])
    expected = vocabulary._search(ids)
    # every id "collides": the check against each group's first row must notice it
    monkeypatch.setattr(hashing, "string_hashes", lambda a: np.zeros(len(a), dtype=np.uint64))
    assert hashing.distinct_strings(ids) is None
    uniques, codes = factorize(ids)
    np.testing.assert_array_equal(uniques, np.unique(ids))
    np.testing.assert_array_equal(uniques[codes], ids)
    np.testing.assert_array_equal(vocabulary.encode(ids), expected)


def test_vocabulary_encode_by_hash_equals_search():
    ids = _random_ids(30_000, seed=5)
    vocabulary = ItemVocabulary(np.unique(ids)[::2])  # every other id is unknown
    assert len(ids) >= hashing.HASH_MIN_ROWS
    encoded = vocabulary.encode(ids)
    np.testing.assert_array_equal(encoded, vocabulary._search(ids))
    assert (encoded == 0).any() and (encoded > 0).any()  # unknown and known ids both present
