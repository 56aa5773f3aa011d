"""Sequence building: raw interaction rows -> left-padded per-user sequences (max_len 200).

Compared, each run in a fresh process (time + peak memory above the input's baseline):

* ``runtime``    — ``seqrec_runtime.histories.read_histories(dict of numpy arrays, vocab, 200)``
* ``runtime_df`` — the same call on a pandas DataFrame (string ids only: with int ids the
  DataFrame columns are handed over without a copy, so it equals ``runtime``)
* ``runtime_arrow`` — the same call on a pyarrow Table (string ids only)
* ``trainer``    — ``seqrec_trainer.data.training.vocabulary_and_index`` + ``prepare`` (what
  ``fit`` runs; the training window, ``max_len + 1`` wide)
* ``trainer_df`` — ``InteractionsDataset(DataFrame)`` (validation included) and the same
  two calls on its columns, as ``fit`` does with a DataFrame (string ids only)
* ``pandas``     — scikit-rec 0.4.2's steps (``bench/peers/pandas_sequences.py``):
  ``sort_values`` + ``groupby(...).agg(list)`` + per-user truncation, then its Python
  padding loop with ``str`` ids and ``pd.Index.get_indexer``

Run: ``python bench/sequence_building.py [--quick] [--write]``.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PEERS,
    PeakMemory,
    bytes_text,
    command_line,
    emit,
    finish,
    fmt_num,
    fmt_stat,
    header,
    make_interactions,
    md_table,
    peer_cmd,
    run_json,
    stats,
    suite_parser,
)

MAX_LEN = 200
LABELS = {
    "runtime": "seqrec runtime `read_histories` (dict of numpy arrays)",
    "runtime_df": "seqrec runtime `read_histories` (pandas DataFrame)",
    "runtime_arrow": "seqrec runtime `read_histories` (pyarrow Table)",
    "trainer": "seqrec trainer `vocabulary_and_index` + `prepare` (as in `fit`)",
    "trainer_df": "seqrec trainer `InteractionsDataset(DataFrame)` + the same (as in `fit`)",
    "pandas": "pandas baseline (scikit-rec's `_build_sequences` + padding)",
}
TARGET_ROWS = 10_000_000
RUNTIME_METHODS = ("runtime", "runtime_df", "runtime_arrow")
TRAINER_METHODS = ("trainer", "trainer_df")
TARGET_SECONDS, TARGET_SPEEDUP, TARGET_PEAK = 3.0, 5.0, 2e9  # 2 GB = 2e9 bytes
# What the profiled functions are (cProfile names -> steps of build_sequences & co).
STEP_NAMES = {
    "sort_order": "sort_order's own key packing",
    "<method 'argsort' of 'numpy.ndarray' objects>": "argsort inside np.unique",
    "<method 'sort' of 'numpy.ndarray' objects>": "ndarray.sort (sort_order's packed key)",
    "build_sequences": "build_sequences' own fancy indexing (gather, window, scatter)",
    "<method 'searchsorted' of 'numpy.ndarray' objects>": "searchsorted (vocabulary lookup)",
    "encode": "ItemVocabulary.encode's own indexing",
    "<method 'cumsum' of 'numpy.ndarray' objects>": "cumsum (np.unique inverse)",
    "_unique1d": "np.unique's own indexing",
    "prepare": "prepare's own indexing",
    "_normalize_object_ids": "Python loop over object ids (ids.normalize_ids)",
    "<built-in method numpy._core._multiarray_umath._unique_hash>":
        "hash-based np.unique (vocabulary / user ids)",
    "<built-in method numpy.arange>": "np.arange",
    "find": "hash-table lookups (KeyTable.find)",
    "group_keys": "grouping rows by key in a hash table",
    "string_hashes": "hashing string ids",
    "mismatched": "checking each string row against its id's string (hashing.mismatched)",
    "window": "filling the padded matrix (Sequences.window)",
    "<method 'repeat' of 'numpy.ndarray' objects>": "np.repeat (row offsets)",
}


# --------------------------------------------------------------------------- child side
def _methods(ids: str) -> list[str]:
    return ["runtime", "runtime_df", "runtime_arrow", "trainer", "trainer_df", "pandas"] \
        if ids == "str" else \
        ["runtime", "trainer", "pandas"]


def _prepare_input(method: str, rows: int, ids: str):
    import numpy as np

    if method in TRAINER_METHODS:  # import outside the timed call (torch is heavy)
        import seqrec_trainer.data.training  # noqa: F401
    else:
        import seqrec_runtime.histories  # noqa: F401
    data = make_interactions(rows, ids)
    if method in RUNTIME_METHODS:
        from seqrec_runtime.vocabulary import ItemVocabulary

        vocab = ItemVocabulary(np.unique(data["ITEM_ID"]))
        if method == "runtime_df":
            import pandas as pd

            data = pd.DataFrame(data)
        if method == "runtime_arrow":
            import pyarrow as pa

            data = pa.table(data)
        return data, vocab
    if method == "trainer_df":
        import pandas as pd

        data = pd.DataFrame(data)
    return data, None


def _call(method: str, data, vocab):
    if method in RUNTIME_METHODS:
        from seqrec_runtime.histories import read_histories

        seqs = read_histories(data, vocab, MAX_LEN)
        return seqs.items
    from seqrec_trainer.data.training import prepare, vocabulary_and_index

    if method == "trainer_df":
        from seqrec_trainer import InteractionsDataset

        dataset = InteractionsDataset(data)
        # what fit reads (revisions before 32333fc had no grouped form: their fetch_data,
        # so that this script can time them too)
        grouped = getattr(dataset, "fetch_grouped", None) \
            or getattr(dataset, "_fetch_grouped", None)  # older revisions
        data = grouped() if grouped is not None else dataset.fetch_data()
    vocabulary, item_index = vocabulary_and_index(data, None)
    return prepare(data, None, vocabulary, MAX_LEN, "last", item_index).train.sequences


def child(method: str, rows: int, ids: str) -> None:
    data, vocab = _prepare_input(method, rows, ids)
    with PeakMemory() as mem:
        started = time.perf_counter()
        matrix = _call(method, data, vocab)
        seconds = time.perf_counter() - started
    emit({"seconds": seconds, "peak_extra_bytes": mem.extra, "peak_exact": mem.exact,
          "users": int(matrix.shape[0])})


def profile_child(method: str, rows: int, ids: str) -> None:
    data, vocab = _prepare_input(method, rows, ids)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    _call(method, data, vocab)
    profiler.disable()
    total = time.perf_counter() - started
    st = pstats.Stats(profiler)
    top = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:8]
    emit({"total_s": total, "top": [
        {"function": name, "where": f"{Path(f).name}:{line}", "self_s": tt, "cum_s": ct,
         "step": STEP_NAMES.get(name) or ("one-off signature inspection (first call)"
                                          if Path(f).name == "inspect.py" else "")}
        for (f, line, name), (_cc, _nc, tt, ct, _callers) in top
    ]})


# --------------------------------------------------------------------------- parity
def parity_check() -> None:
    """All paths give the same sequences on a small table (before timing anything)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from seqrec_runtime.histories import read_histories
    from seqrec_runtime.vocabulary import ItemVocabulary
    from seqrec_trainer import InteractionsDataset
    from seqrec_trainer.data.training import build_vocabulary, prepare

    sys.path.insert(0, str(PEERS))
    import pandas_sequences as pdseq

    for ids in ("int", "str"):
        data = make_interactions(30_000, ids, seed=3)
        vocab = ItemVocabulary(np.unique(data["ITEM_ID"]))
        seqs = read_histories(data, vocab, MAX_LEN)
        df_seqs = read_histories(pd.DataFrame(data), vocab, MAX_LEN)
        assert np.array_equal(seqs.items, df_seqs.items)
        arrow_seqs = read_histories(pa.table(data), vocab, MAX_LEN)
        assert np.array_equal(seqs.items, arrow_seqs.items)
        index = pdseq.item_index(np.unique(data["ITEM_ID"]))
        sequences, matrix, _ = pdseq.run(pd.DataFrame(data), index, MAX_LEN)
        # both right-aligned; decode each to original ids (as str) and compare
        ours = np.where(seqs.items > 0, np.asarray(vocab.ids, dtype=str)[seqs.items - 1], "")
        names = np.asarray(index, dtype=str)
        theirs = np.where(matrix > 0, names[matrix - 1], "")
        assert np.array_equal(np.asarray(sequences["USER_ID"]).astype(str),
                              np.asarray(seqs.user_ids).astype(str))
        assert np.array_equal(ours, theirs), f"runtime != pandas baseline ({ids} ids)"
        prepared = prepare(data, None, build_vocabulary(data, None), MAX_LEN)
        has_two = seqs.lengths >= 2
        assert np.array_equal(prepared.train.sequences[:, 1:], seqs.items[has_two])
        grouped = InteractionsDataset(pd.DataFrame(data)).fetch_grouped()
        from_df = prepare(grouped, None, build_vocabulary(grouped, None), MAX_LEN)
        assert np.array_equal(from_df.train.sequences, prepared.train.sequences)
    print("parity: runtime == runtime(DataFrame) == runtime(pyarrow) == pandas baseline == "
          "trainer window "
          "== trainer window from a DataFrame (int and str ids)", flush=True)


def tie_share(rows: int) -> float:
    import numpy as np

    data = make_interactions(rows, "int")
    key = data["USER_ID"] * 10_000 + (data["TIMESTAMP"] - 1_600_000_000) // 86_400
    _, counts = np.unique(key, return_counts=True)
    return float(counts[counts > 1].sum() / len(key))


# --------------------------------------------------------------------------- parent side
def _target_text(method: str, rows: int, s: dict, speed: dict | None, peak: float) -> str:
    if rows != TARGET_ROWS or method not in (*RUNTIME_METHODS, *TRAINER_METHODS):
        return "—"
    parts = []
    t = s["median"]
    parts.append(f"≤ 3 s: {'✓' if t <= TARGET_SECONDS else f'✗ {t / TARGET_SECONDS:.1f}× over'}")
    if speed is not None:
        r = speed["median"]
        parts.append(f"≥ 5× pandas: {'✓' if r >= TARGET_SPEEDUP else f'✗ only {r:.1f}×'}")
    parts.append(f"≤ 2 GB: {'✓' if peak <= TARGET_PEAK else f'✗ {peak / TARGET_PEAK:.1f}× over'}")
    return "; ".join(parts)


def render(results: dict, profiles: list, sizes, repeats, command, quick, ties) -> str:
    lines = header(
        "Sequence building: interaction rows → padded sequences (max_len 200)", command, quick,
        f"Median of {repeats} fresh processes per cell (min–max).",
    )
    lines += [
        "",
        "Data (`bench/common.py: make_interactions`): rows in random order, rows/100 "
        "users (skewed: ~6 % of users have > 200 rows), max(1000, rows/200) items, "
        f"day-resolution unix timestamps ({ties:.0%} of rows share (user, timestamp) with "
        "another row). String ids look like `user-0001234`. Time excludes building the input "
        "(numpy arrays / DataFrame) and, for the runtime, the item vocabulary (it comes with "
        "the artifact). Peak memory = peak RSS during the call − RSS before it "
        "(`/proc/self/status` VmHWM, reset before the call). "
        "\"× pandas\" = pandas time / this time, per repeat (side by side), median (min–max). "
        "All paths produce identical sequences (checked before timing).",
        "",
    ]
    head = ["rows", "ids", "method", "time [s]", "× pandas (speed-up)", "peak extra memory",
            "target / met?"]
    rows_out = []
    for key, res in results.items():
        rows, ids = key
        for method, runs in res.items():
            s = stats([r["seconds"] for r in runs])
            paired = res["pandas"][: len(runs)] if "pandas" in res else []
            peak = sorted(r["peak_extra_bytes"] for r in runs)[len(runs) // 2]
            speed = None
            if method != "pandas" and "pandas" in res:
                pairs = zip(paired, runs, strict=True)
                speed = stats([p["seconds"] / r["seconds"] for p, r in pairs])
            extra = ""
            if method == "pandas":
                g = stats([r["group_s"] for r in runs])["median"]
                p = stats([r["pad_s"] for r in runs])["median"]
                extra = f" (group {fmt_num(g)} + pad {fmt_num(p)})"
            rows_out.append([
                f"{rows:,}", ids, LABELS[method], fmt_stat(s) + extra,
                fmt_stat(speed, digits=2, unit="×") if speed else "1× (baseline)",
                bytes_text(peak), _target_text(method, rows, s, speed, peak),
            ])
    lines += md_table(head, rows_out)
    if profiles:
        lines += ["", "Where the time goes (cProfile, one run each; self time of the top "
                  "functions; a numpy call made directly shows up as the Python function that "
                  "makes it; the profiler inflates Python-level loops):", ""]
        for prof in profiles:
            top = ", ".join(
                f"{t['step'] or t['function']} {t['self_s']:.2f} s"
                for t in prof["top"][:5] if t["self_s"] >= 0.02
            )
            lines.append(f"- {prof['method']} ({prof['rows']:,} rows, {prof['ids']} ids, "
                         f"{prof['total_s']:.2f} s under the profiler): {top}")
    return "\n".join(lines)


def main() -> int:
    parser = suite_parser(__doc__, "300k rows, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--sizes", default=None, help="comma-separated row counts")
    parser.add_argument("--pandas-venv", choices=("seqrec", "skrec"), default="seqrec",
                        help="run the pandas baseline with this venv's pandas (the scikit-rec "
                             "venv has the pandas version scikit-rec installs)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "ROWS", "IDS"), help="internal")
    parser.add_argument("--profile-child", nargs=3, metavar=("METHOD", "ROWS", "IDS"),
                        help="internal")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    if args.profile_child:
        profile_child(args.profile_child[0], int(args.profile_child[1]), args.profile_child[2])
        return 0

    quick = args.quick
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else \
        ([300_000] if quick else [1_000_000, 10_000_000])
    repeats = args.repeats or (1 if quick else 5)
    write = args.write or not (quick or args.no_write)
    parity_check()
    results: dict = {}
    me = [sys.executable, str(Path(__file__).resolve())]
    pandas_version = None
    for rows in sizes:
        for ids in ("int", "str"):
            res = results.setdefault((rows, ids), {m: [] for m in _methods(ids)})
            for rep in range(repeats):
                for method in _methods(ids):
                    if method == "pandas":
                        cmd = ([*peer_cmd("pandas_sequences.py")] if args.pandas_venv == "skrec"
                               else [sys.executable, str(PEERS / "pandas_sequences.py")])
                        out = run_json(cmd + ["--child", "--rows", str(rows), "--ids", ids,
                                              "--max-len", str(MAX_LEN)])
                        pandas_version = out["pandas"]
                    else:
                        out = run_json(me + ["--child", method, str(rows), ids])
                    res[method].append(out)
                    print(f"{rows:>11,} {ids} rep {rep + 1}/{repeats} {method:<10} "
                          f"{out['seconds']:.3f} s, peak +{bytes_text(out['peak_extra_bytes'])}",
                          flush=True)
    profiles = []
    if not args.no_profile:
        for method in ("runtime", "trainer"):
            for ids in ("int", "str"):
                prof = run_json(me + ["--profile-child", method, str(max(sizes)), ids])
                profiles.append({"method": method, "ids": ids, "rows": max(sizes), **prof})
        for method in ("runtime_df", "runtime_arrow", "trainer_df"):
            prof = run_json(me + ["--profile-child", method, str(max(sizes)), "str"])
            profiles.append({"method": method, "ids": "str", "rows": max(sizes), **prof})
    argv = sys.argv[1:]
    command = command_line("sequence_building.py", [a for a in argv if a != "--write"])
    body = render(results, profiles, sizes, repeats, command, quick, tie_share(min(sizes)))
    body += f"\n\npandas {pandas_version} ({args.pandas_venv} venv)."
    data = {
        "sizes": sizes, "repeats": repeats, "max_len": MAX_LEN, "pandas": pandas_version,
        "results": [{"rows": k[0], "ids": k[1], "method": m, "runs": runs}
                    for k, res in results.items() for m, runs in res.items()],
        "profiles": profiles,
    }
    finish("sequence_building", quick, write, body, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
