"""``seqrec_runtime.sequences``: vectorised sequence building against a plain-Python reference."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqrec_runtime.sequences import _common_step, build_sequences, left_pad, sort_order


def reference_sequences(users, items, timestamps, max_len, aligned=None):
    """Rows sorted stably by (user, time), unknown items (0) dropped, last max_len kept."""
    by_user = defaultdict(list)
    for pos, (u, t) in enumerate(zip(users, timestamps, strict=True)):
        by_user[u].append((t, pos))
    out = {}
    for u in sorted(by_user):
        order = [p for _, p in sorted(by_user[u])]  # sorted() is stable on (t, pos)
        known = [p for p in order if items[p] != 0]
        window = known[-max_len:] if max_len else []
        out[u] = {
            "items": [items[p] for p in window],
            "history": [items[p] for p in known],
            "aligned": {k: [v[p] for p in window] for k, v in (aligned or {}).items()},
        }
    return out


def _assert_matches_reference(seqs, ref, max_len):
    assert seqs.user_ids.tolist() == sorted(ref)
    assert seqs.items.shape == (len(ref), max_len)
    assert seqs.items.dtype == np.int64
    for row, user in enumerate(sorted(ref)):
        expected = ref[user]["items"]
        padded = [0] * (max_len - len(expected)) + expected
        assert seqs.items[row].tolist() == padded
        assert seqs.lengths[row] == len(expected)
        lo, hi = seqs.history_ptr[row], seqs.history_ptr[row + 1]
        assert seqs.history_items[lo:hi].tolist() == ref[user]["history"]
        for name, values in ref[user]["aligned"].items():
            pad = [0] * (max_len - len(values))
            assert seqs.aligned[name][row].tolist() == pad + values


@st.composite
def _interaction_tables(draw):
    n = draw(st.integers(1, 40))
    users = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))  # 0 = unknown item
    timestamps = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))  # many ties
    max_len = draw(st.integers(1, 10))
    return users, items, timestamps, max_len


@settings(max_examples=300, deadline=None)
@given(_interaction_tables(), st.sampled_from(["int", "str", "float-time"]))
def test_build_sequences_matches_reference(table, kind):
    users, items, timestamps, max_len = table
    tags = list(range(len(users)))
    ref = reference_sequences(users, items, timestamps, max_len, {"TAG": tags})
    user_arr = np.array(users, dtype=np.int64)
    time_arr = np.array(timestamps, dtype=np.int64)
    if kind == "str":
        user_arr = np.array([f"u{u:02d}" for u in users])
        ref = {f"u{u:02d}": v for u, v in ref.items()}
    elif kind == "float-time":
        time_arr = time_arr.astype(np.float64) / 3.0
    seqs = build_sequences(user_arr, np.array(items, dtype=np.int64), time_arr, max_len,
                           {"TAG": np.array(tags, dtype=np.int64)})
    _assert_matches_reference(seqs, ref, max_len)


@settings(max_examples=200, deadline=None)
@given(_interaction_tables(), st.data())
def test_window_equals_slice_of_padded_matrix(table, data):
    users, items, timestamps, max_len = table
    seqs = build_sequences(np.array(users), np.array(items), np.array(timestamps), max_len)
    n = len(seqs.user_ids)
    start = data.draw(st.integers(0, n - 1))
    stop = data.draw(st.integers(start + 1, n))
    width = data.draw(st.integers(1, max_len))
    window = seqs.window(start, stop, width)  # before .items: built from the CSR alone
    assert window.dtype == np.int64 and window.shape == (stop - start, width)
    np.testing.assert_array_equal(window, seqs.items[start:stop, max_len - width:])
    np.testing.assert_array_equal(seqs.window(start, stop), seqs.items[start:stop])


def test_window_rows_that_end_before_and_after_the_first_whole_slice():
    """Windows are slices of the CSR history ending where each row's history ends; rows
    whose history ends within the first ``width`` items have no whole slice and are filled
    item by item. Both kinds, empty rows and a history shorter than the width, in one table."""
    lengths = {0: 2, 1: 0, 2: 3, 3: 12, 4: 1, 5: 7}  # user 1: unknown items only
    users, items, timestamps = [], [], []
    for user, length in lengths.items():
        for t in range(max(length, 1)):
            users.append(user)
            items.append(0 if length == 0 else 10 * user + t + 1)
            timestamps.append(-t)  # rows given newest first
    users, items, timestamps = (np.array(v) for v in (users, items, timestamps))
    max_len = 6
    seqs = build_sequences(users, items, timestamps, max_len)
    ref = reference_sequences(users.tolist(), items.tolist(), timestamps.tolist(), max_len)
    _assert_matches_reference(seqs, ref, max_len)
    assert seqs.history_ptr[1:3].tolist() == [2, 2]  # rows 0-2 end before item 6
    for start, stop, width in [(0, 6, 6), (1, 4, 6), (2, 6, 4), (3, 5, 1), (4, 6, 6)]:
        expected = np.array([[0] * (width - len(r[-width:])) + r[-width:]
                             for r in (ref[u]["items"] for u in range(start, stop))])
        np.testing.assert_array_equal(seqs.window(start, stop, width), expected)
    short = build_sequences(np.zeros(3, dtype=np.int64), np.array([1, 2, 3]), np.arange(3), 5)
    assert short.window(0, 1).tolist() == [[0, 0, 1, 2, 3]]  # fewer items than the width


@pytest.mark.parametrize("length", [4, 5, 6, 7])
def test_lengths_around_max_len(length):
    max_len = 5
    users = np.zeros(length, dtype=np.int64)
    items = np.arange(1, length + 1)[::-1].copy()  # item k happens at time k
    timestamps = items * 10  # rows given newest first
    seqs = build_sequences(users, items, timestamps, max_len)
    expected = list(range(max(1, length - max_len + 1), length + 1))
    assert seqs.items[0].tolist() == [0] * (max_len - len(expected)) + expected
    assert seqs.lengths.tolist() == [min(length, max_len)]
    assert seqs.history_counts().tolist() == [length]


def test_sort_order_is_stable():
    users = np.array([1, 0, 1, 0, 1])
    timestamps = np.array([5, 5, 5, 1, 2])
    assert sort_order(users, timestamps).tolist() == [3, 1, 4, 0, 2]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40)), min_size=1, max_size=60),
    st.sampled_from([1, 86_400, 1_000, 2**40, 2**50, 2**52]),  # 2**50+: span > 2**55
    st.integers(-(2**62), 2**62),
    st.booleans(),
)
def test_sort_order_equals_lexsort_on_coarse_clocks(rows, step, offset, break_step):
    # timestamps on a coarse grid (dates in seconds, seconds in ms, huge steps): the
    # common step is divided out to fit the one-sort key; the order must not change
    users = np.array([u for u, _ in rows], dtype=np.int64)
    ticks = np.array([t for _, t in rows], dtype=np.int64)
    if step * 40 + abs(offset) >= 2**63:
        offset = 0
    timestamps = ticks * step + offset
    if break_step:
        timestamps[0] += 1  # one value off the grid: the sampled step must be rechecked
    expected = np.lexsort((timestamps, users))
    np.testing.assert_array_equal(sort_order(users, timestamps), expected)


def test_seen_mask_covers_whole_history():
    users = np.array([0] * 6 + [1])
    items = np.array([1, 2, 3, 4, 5, 0, 2])
    seqs = build_sequences(users, items, np.arange(7), max_len=2)
    mask = seqs.seen_mask(0, 2, n_items=6)
    assert mask.shape == (2, 6)
    assert mask[0].tolist() == [True, True, True, True, True, False]
    assert mask[1].tolist() == [False, True, False, False, False, False]


def test_user_with_only_unknown_items_is_an_empty_row():
    seqs = build_sequences(np.array([3, 3, 4]), np.array([0, 0, 2]), np.array([1, 2, 1]), 3)
    assert seqs.user_ids.tolist() == [3, 4]
    assert seqs.lengths.tolist() == [0, 1]
    assert seqs.items.tolist() == [[0, 0, 0], [0, 0, 2]]


@pytest.mark.parametrize(
    ("items", "max_len", "expected"),
    [
        ([3, 0, 4, 5], 2, [[4, 5]]),
        ([3, 0, 4], 5, [[3, 4]]),
        ([0, 0], 3, [[0]]),
        ([], 3, [[0]]),
    ],
)
def test_left_pad(items, max_len, expected):
    assert left_pad(np.array(items, dtype=np.int64), max_len).tolist() == expected


def test_common_step_of_a_coarse_clock():
    days = np.array([0, 3, 1, 7]) * 86_400
    assert _common_step(days) == 86_400
    assert _common_step(np.r_[days, 2 * 86_400 + 1]) == 1  # one value off the grid
    assert _common_step(np.zeros(3, dtype=np.int64)) == 1
