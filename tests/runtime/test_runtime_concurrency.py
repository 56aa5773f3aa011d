"""One loaded runtime serves concurrent calls with the same results as sequential ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import runtime_fakes


def _calls(rt, interactions):
    users = np.unique(interactions["USER_ID"])
    calls = []
    for i, user in enumerate(users):
        history = runtime_fakes.history_of(interactions, user)
        calls.append(lambda h=history: rt.recommend_online(h, top_k=7))
        calls.append(lambda h=history: rt.recommend_online(h, top_k=15, exclude_seen=True))
        calls.append(lambda h=history, s=i: rt.recommend_online(
            h, top_k=5, sampling_temperature=1.0, random_state=s))
    for seed in range(8):
        calls.append(lambda s=seed: rt.recommend(interactions, top_k=6, exclude_seen=True,
                                                 sampling_temperature=0.5, random_state=s))
        calls.append(lambda: rt.recommend(interactions, top_k=8, exclude_seen=True))
        calls.append(lambda: rt.score_items(interactions))
    return calls


def test_eight_threads_match_sequential(rt, warm_interactions):
    calls = _calls(rt, warm_interactions) * 2  # a few hundred calls
    expected = [call() for call in calls]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(call) for call in calls]
        got = [future.result() for future in futures]
    assert len(got) >= 200
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
