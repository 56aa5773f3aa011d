"""The pandas baseline of ``bench/sequence_building.py``: scikit-rec 0.4.2's sequence building.

A faithful copy of what scikit-rec does from raw interaction rows to the padded model
input (read from its source):

1. ``SequentialRecommender._build_sequences``: ``sort_values([USER_ID, TIMESTAMP])``,
   ``groupby(USER_ID, sort=False).agg(ITEM_SEQUENCE=(ITEM_ID, list))``, then
   ``.apply(lambda x: x[-(max_len + 1):])`` per user.
2. ``SASRecEstimator._build_inference_tensor``: a Python loop over users that collects
   ``str(item)`` for each kept item, one ``pd.Index.get_indexer`` lookup in the (string)
   item vocabulary, and a scatter into a right-aligned ``(n_users, max_len)`` int64 matrix.

Run in any venv with numpy + pandas. ``--check`` (in the scikit-rec venv) verifies on a
small table that this copy returns exactly what scikit-rec's own methods return;
``--child`` times one run for the benchmark (fresh process, prints JSON).
"""

from __future__ import annotations

import argparse
import sys as _sys
import time
from pathlib import Path as _Path

import numpy as np
import pandas as pd

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # bench/common.py
from common import PeakMemory, emit, make_interactions  # noqa: E402

USER_ID, ITEM_ID, TIMESTAMP = "USER_ID", "ITEM_ID", "TIMESTAMP"
ITEM_SEQUENCE = "ITEM_SEQUENCE"


def build_sequences(interactions: pd.DataFrame, max_len: int) -> pd.DataFrame:
    """Step 1, as ``SequentialRecommender._build_sequences`` (no OUTCOME at inference)."""
    sorted_df = interactions.sort_values([USER_ID, TIMESTAMP])
    sequences = sorted_df.groupby(USER_ID, sort=False).agg(
        **{ITEM_SEQUENCE: (ITEM_ID, list)}
    ).reset_index()
    truncate_len = max_len + 1
    sequences[ITEM_SEQUENCE] = sequences[ITEM_SEQUENCE].apply(lambda x: x[-truncate_len:])
    return sequences


def item_index(item_ids) -> pd.Index:
    """scikit-rec's vocabulary: sorted distinct ``str`` ids (built once, at training)."""
    return pd.Index(sorted({str(item) for item in item_ids}))


def padded_matrix(sequences: pd.DataFrame, index: pd.Index, max_len: int) -> np.ndarray:
    """Step 2, as ``SASRecEstimator._build_inference_tensor`` (numpy instead of a tensor)."""
    n_users = len(sequences)
    seq_array = np.zeros((n_users, max_len), dtype=np.int64)
    flat_user_idx, flat_positions, flat_items = [], [], []
    for i, seq in enumerate(sequences[ITEM_SEQUENCE].tolist()):
        seq = seq[-max_len:]
        seq_len = len(seq)
        if seq_len == 0:
            continue
        start = max_len - seq_len
        flat_user_idx.append(np.full(seq_len, i, dtype=np.int64))
        flat_positions.append(np.arange(start, max_len, dtype=np.int64))
        flat_items.extend(str(x) for x in seq)
    if flat_user_idx:
        user_idx = np.concatenate(flat_user_idx)
        positions = np.concatenate(flat_positions)
        seq_array[user_idx, positions] = index.get_indexer(flat_items) + 1
    return seq_array


def run(df: pd.DataFrame, index: pd.Index, max_len: int) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Both steps, with their times."""
    t0 = time.perf_counter()
    sequences = build_sequences(df, max_len)
    t1 = time.perf_counter()
    matrix = padded_matrix(sequences, index, max_len)
    t2 = time.perf_counter()
    return sequences, matrix, {"group_s": t1 - t0, "pad_s": t2 - t1}


def check() -> None:
    """This copy == scikit-rec's own methods (run in the scikit-rec venv)."""
    from skrec.estimator.sequential.sasrec_estimator import SASRecClassifierEstimator
    from skrec.recommender.sequential.sequential_recommender import SequentialRecommender
    from skrec.scorer.sequential import SequentialScorer

    for ids in ("int", "str"):
        data = make_interactions(20_000, ids, seed=1)
        df = pd.DataFrame(data)
        max_len = 50
        estimator = SASRecClassifierEstimator(max_len=max_len)
        recommender = SequentialRecommender(SequentialScorer(estimator), max_len=max_len)
        theirs_seq = recommender._build_sequences(df)
        estimator.item_id_index = item_index(np.unique(data[ITEM_ID]))
        theirs = estimator._build_inference_tensor(theirs_seq).numpy()
        ours_seq, ours, _ = run(df, estimator.item_id_index, max_len)
        assert theirs_seq[USER_ID].tolist() == ours_seq[USER_ID].tolist(), ids
        assert np.array_equal(theirs, ours), ids
    emit({"check": "ok", "pandas": pd.__version__})


def child(rows: int, ids: str, max_len: int) -> None:
    data = make_interactions(rows, ids)
    df = pd.DataFrame(data)
    index = item_index(np.unique(data[ITEM_ID]))
    del data
    with PeakMemory() as mem:
        started = time.perf_counter()
        sequences, matrix, steps = run(df, index, max_len)
        seconds = time.perf_counter() - started
    emit({"seconds": seconds, "peak_extra_bytes": mem.extra, "peak_exact": mem.exact,
          "users": int(matrix.shape[0]), "pandas": pd.__version__, **steps,
          "checksum": int(matrix.sum() % 1_000_000_007)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ids", choices=("int", "str"), default="int")
    parser.add_argument("--max-len", type=int, default=200)
    args = parser.parse_args()
    if args.check:
        check()
    elif args.child:
        child(args.rows, args.ids, args.max_len)
    else:
        parser.error("pass --check or --child")


if __name__ == "__main__":
    main()
