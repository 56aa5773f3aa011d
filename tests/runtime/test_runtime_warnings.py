"""Every warning the runtime gives names the caller's line, not a line inside seqrec."""

from __future__ import annotations

import warnings

import pytest
from seqrec_runtime import ColdUserWarning
from seqrec_runtime.warn import user_stacklevel


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    assert caught, "no warning was given"
    return caught


def _unknown(rt):
    return int(rt.item_ids_.max()) + 1000


def _cold(rt):
    return {"USER_ID": [1, 2], "ITEM_ID": [rt.item_ids_[0], _unknown(rt)], "TIMESTAMP": [0, 0]}


@pytest.mark.parametrize("call", [
    lambda rt: rt.recommend(_cold(rt), top_k=3),
    lambda rt: rt.score_items(_cold(rt)),
    lambda rt: rt.recommend_online([_unknown(rt)], top_k=3),
    lambda rt: rt.recommend_online([rt.item_ids_[0]], top_k=rt.n_items + 5),
    lambda rt: rt.recommend_online(list(rt.item_ids_[:-2]), top_k=5, exclude_seen=True),
], ids=["recommend-cold", "score_items-cold", "online-cold", "top_k-clipped",
        "exclude_seen-clipped"])
def test_warnings_point_at_the_calling_line(rt, call):
    for record in _caught(lambda: call(rt)):
        assert record.filename == __file__, (record.filename, record.message)


def test_cold_user_warning_category(rt):
    assert any(r.category is ColdUserWarning for r in _caught(lambda: rt.recommend(_cold(rt))))


def test_user_stacklevel_outside_seqrec_is_the_direct_caller():
    def emit():
        warnings.warn("x", UserWarning, stacklevel=user_stacklevel())

    record = _caught(emit)[0]
    assert record.filename == __file__ and record.lineno == emit.__code__.co_firstlineno + 1
