"""8 threads sharing one loaded runtime: 10,000 calls, identical to sequential results.

The calls mix every public method, batch sizes of 1 to 40 users (so chunking and
trimming differ from call to call), deterministic and seeded sampled ranking, exclusion,
cold users and calls that fail with a typed error. Each distinct call is first run
sequentially; then 10,000 calls drawn from them run on 8 threads in shuffled order and
every result must be identical (same bytes, or the same error type and message).
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import seqrec_runtime
from hardening_support import GOLDEN
from seqrec_runtime import SeqrecError

N_CALLS = 10_000
N_THREADS = 8


@pytest.fixture(scope="module")
def shared_rt():
    """One runtime, small chunks (batch_size 3) and one onnxruntime thread per call."""
    return seqrec_runtime.load(GOLDEN, providers=["CPUExecutionProvider"],
                               intra_op_num_threads=1, batch_size=3)


def _histories(vocab, n_users, seed):
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for user in range(n_users):
        n = int(rng.integers(0, 20))
        chosen = [vocab[j] for j in rng.integers(0, len(vocab), size=n)] or ["unknown"]
        users += [user] * len(chosen)
        items += chosen
        times += list(rng.integers(0, 5, size=len(chosen)))  # ties
    order = rng.permutation(len(users))
    return {"USER_ID": np.array(users)[order], "ITEM_ID": np.array(items)[order],
            "TIMESTAMP": np.array(times)[order]}


def _distinct_calls(rt, vocab):
    calls = []
    for seed in range(60):
        n_users = [1, 2, 3, 4, 7, 12][seed % 6]
        table = _histories(vocab, n_users, seed)
        history = list(table["ITEM_ID"][table["USER_ID"] == 0])
        top_k = [1, 5, 10, 11, 40][seed % 5]
        calls += [
            lambda t=table: rt.score_items(t),
            lambda t=table, k=top_k: rt.recommend(t, top_k=k),
            lambda t=table, k=top_k: rt.recommend(t, top_k=k, exclude_seen=True),
            lambda t=table, k=top_k, s=seed: rt.recommend(
                t, top_k=k, sampling_temperature=0.7, random_state=s, exclude_seen=True),
            lambda h=history, k=top_k: rt.recommend_online(h, top_k=k),
            lambda h=history, k=top_k: rt.recommend_online(h, top_k=k, exclude_seen=True),
            lambda h=history, s=seed: rt.recommend_online(
                h, top_k=6, sampling_temperature=1.5, random_state=s),
        ]
    calls += [  # typed failures are deterministic too
        lambda: rt.recommend({"USER_ID": [1], "ITEM_ID": [None], "TIMESTAMP": [0]}),
        lambda: rt.recommend_online([vocab[0]], top_k=0),
    ]
    return calls


def _run(call):
    try:
        return call()
    except SeqrecError as exc:
        return exc


def _same(a, b) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_eight_threads_ten_thousand_calls_match_sequential(shared_rt, vocab):
    calls = _distinct_calls(shared_rt, vocab)
    # online calls (the serving path) are drawn 3x as often as batch calls
    weights = np.array([3.0 if i % 7 >= 4 else 1.0 for i in range(len(calls))])
    order = np.random.default_rng(0).choice(len(calls), size=N_CALLS, p=weights / weights.sum())
    # warnings.catch_warnings is not thread-safe: set the filter once, outside the threads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ColdUserWarning / top_k clipping
        expected = [_run(call) for call in calls]
        with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
            results = list(pool.map(lambda i: (i, _run(calls[i])), order.tolist(),
                                    chunksize=16))
    assert sum(isinstance(e, Exception) for e in expected) == 2
    assert len(results) == N_CALLS
    mismatches = [i for i, got in results if not _same(got, expected[i])]
    assert not mismatches, f"{len(mismatches)} calls differ, e.g. call #{mismatches[0]}"
