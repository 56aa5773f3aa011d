"""``seqrec_runtime.hashing``: grouping ids in a hash table gives np.unique's answer and
vocabulary lookups give the binary search's, even when hashes or table slots collide."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqrec_runtime import hashing
from seqrec_runtime import vocabulary as vocabulary_module
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
    zeros = lambda a: np.zeros(len(a), dtype=np.uint64)  # noqa: E731
    monkeypatch.setattr(hashing, "string_hashes", zeros)
    monkeypatch.setattr(vocabulary_module, "string_hashes", zeros)
    assert hashing.distinct_strings(ids) is None
    assert vocabulary._key_table() is None  # two vocabulary ids share a hash
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


def test_string_hash_does_not_depend_on_the_array_width():
    ids = _random_ids(6_000, seed=7)
    wider = ids.astype(f"<U{ids.dtype.itemsize // 4 + 5}")
    np.testing.assert_array_equal(hashing.string_hashes(ids), hashing.string_hashes(wider))
    # the vocabulary's array and the queries' array have different widths here
    vocabulary = ItemVocabulary(np.unique(ids)[1::2])
    queries = np.r_[ids, ["an id longer than every vocabulary id: " + "y" * 40] * 10]
    assert queries.dtype.itemsize != vocabulary.ids.dtype.itemsize
    assert len(queries) >= hashing.HASH_MIN_ROWS
    np.testing.assert_array_equal(vocabulary.encode(queries), vocabulary._search(queries))


def test_sparse_integer_ids_are_grouped_and_looked_up_exactly():
    rng = np.random.default_rng(11)
    pool = rng.integers(-(2**63), 2**63 - 1, size=3_000)  # far from a dense range
    ids = pool[rng.integers(0, len(pool), 50_000)]
    expected_uniques, expected_codes = np.unique(ids, return_inverse=True)
    uniques, codes = factorize(ids)
    np.testing.assert_array_equal(uniques, expected_uniques)
    np.testing.assert_array_equal(codes, expected_codes)
    vocabulary = ItemVocabulary(np.unique(pool)[::2])
    queries = np.r_[ids, [0, 1, -1, 2**63 - 1, -(2**63)]]
    encoded = vocabulary.encode(queries)
    np.testing.assert_array_equal(encoded, vocabulary._search(queries))
    assert (encoded == 0).any() and (encoded > 0).any()


@pytest.mark.parametrize("home", ["first", "last"])
def test_key_table_probes_past_occupied_slots_and_wraps_around(monkeypatch, home):
    """Every key is sent to the same slot, so every lookup walks a chain of probes (and,
    from the last slot, wraps around to the first)."""
    def same_slot(self, keys):
        return np.full(len(keys), 0 if home == "first" else len(self._slots) - 1,
                       dtype=np.int64)

    monkeypatch.setattr(hashing.KeyTable, "_home", same_slot)
    keys = np.random.default_rng(2).permutation(np.arange(100, 160, dtype=np.uint64))
    table = hashing.KeyTable()
    table.add(keys[:20])
    table.add(keys[20:50])  # grows the table: every key is placed again
    queries = np.r_[keys, np.arange(0, 100, dtype=np.uint64)]
    expected = np.r_[np.arange(50), np.full(10 + 100, -1)]
    np.testing.assert_array_equal(table.find(queries), expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=300), st.integers(1, 64))
def test_group_keys_across_chunks_equals_np_unique(values, chunk):
    keys = np.array(values, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    original = hashing._GROUP_CHUNK_ROWS, hashing._SORT_ABOVE_NEW_SHARE
    hashing._GROUP_CHUNK_ROWS = chunk  # new keys appear in later chunks too
    hashing._SORT_ABOVE_NEW_SHARE = 2.0  # never: this tests the table
    try:
        distinct, first, codes = hashing.group_keys(keys)
    finally:
        hashing._GROUP_CHUNK_ROWS, hashing._SORT_ABOVE_NEW_SHARE = original
    assert len(np.unique(distinct)) == len(distinct) == len(np.unique(keys))
    np.testing.assert_array_equal(distinct[codes], keys)
    np.testing.assert_array_equal(keys[first], distinct)


def _same_slot_ids(n: int) -> np.ndarray:
    """Sparse int ids crafted so that every one has the same home slot in any table."""
    inverse = pow(int(hashing._MIX), -1, 2**64)
    raw = [((0x5A5A << 48) + i) * inverse % 2**64 for i in range(n)]
    return np.array(raw, dtype=np.uint64).view(np.int64)


def test_crafted_clustering_ids_fall_back_to_sorting_instead_of_quadratic_probing():
    """Ids chosen to share one slot would make linear probing quadratic (a denial of
    service for a runtime that takes user ids from requests); the work limit notices and
    sorting takes over, with the same answers."""
    rng = np.random.default_rng(8)
    pool = _same_slot_ids(20_000)
    ids = pool[rng.integers(0, len(pool), 60_000)]
    with pytest.raises(hashing.ProbeLimitError):
        hashing._group_in_table(ids.view(np.uint64))
    assert hashing.group_keys(ids) is None  # the caller sorts
    expected_uniques, expected_codes = np.unique(ids, return_inverse=True)
    uniques, codes = factorize(ids)
    np.testing.assert_array_equal(uniques, expected_uniques)
    np.testing.assert_array_equal(codes, expected_codes)
    vocabulary = ItemVocabulary(pool[::2])
    assert vocabulary._key_table() is None
    np.testing.assert_array_equal(vocabulary.encode(ids), vocabulary._search(ids))


def test_a_lookup_walking_long_clusters_falls_back_to_binary_search(monkeypatch):
    vocabulary = ItemVocabulary(np.arange(0, 3_000_000, 7))  # sparse: table path
    queries = np.random.default_rng(9).integers(0, 3_000_000, 20_000)
    expected = vocabulary._search(queries)

    def clustered(table, queries):
        raise hashing.ProbeLimitError("queries still probing")

    monkeypatch.setattr(hashing.KeyTable, "find", clustered)
    np.testing.assert_array_equal(vocabulary.encode(queries), expected)


def test_mostly_distinct_ids_are_grouped_by_one_sort_with_the_same_answers(monkeypatch):
    """When most rows of the first chunk are new ids, one sort beats growing the table."""
    monkeypatch.setattr(hashing, "_GROUP_CHUNK_ROWS", 1_024)
    rng = np.random.default_rng(12)
    ints = rng.permutation(3 * hashing.HASH_MIN_ROWS).astype(np.int64) * 7_919 - 2**40
    ints = np.r_[ints, ints[:100]]  # a few repeats
    strings = np.char.add("s-", ints.astype(str))
    assert hashing.group_keys(ints) is None
    assert hashing.group_keys(hashing.string_hashes(strings)) is None
    for ids in (ints, strings):
        uniques, codes = factorize(ids)
        expected_uniques, expected_codes = np.unique(ids, return_inverse=True)
        np.testing.assert_array_equal(uniques, expected_uniques)
        np.testing.assert_array_equal(codes, expected_codes)
