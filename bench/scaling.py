"""Scaling of the runtime: users, catalogue size, history length; score-matrix memory.

1. Batch ``rt.recommend(rows, top_k=10)`` time and peak memory vs number of users
   (histories resampled from ML-1M users; timed up to 30k users, extrapolated linearly
   beyond, and marked so).
2. Per-user cost of the score + top-k step vs number of items (1k → 1M): a MatMul + TopK
   ONNX graph in onnxruntime (what ``model_topk.onnx`` ends with), and numpy
   ``seqrec_runtime.ranking.top_k_indices`` on score chunks (used for sampling, top_k >
   the graph's k, and the trainer).
3. Runtime cost vs history length 50 → 200 (max_len-200 artifact; rows are trimmed to the
   longest history of their chunk and positions count from the end, so this equals an
   artifact exported with max_len = that length).
4. Where a full float32 score matrix (``score_items``) stops fitting in memory, and why
   ``recommend`` never builds one.

PNG plots go to ``docs/img/``. Run: ``python bench/scaling.py [--quick] [--write]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS,
    ROOT,
    PeakMemory,
    build_model,
    bytes_text,
    command_line,
    emit,
    finish,
    fmt_num,
    fmt_stat,
    header,
    md_table,
    ml1m_table,
    percentile,
    run_json,
    stats,
    suite_parser,
)

IMG = ROOT / "docs" / "img"
TOP_K = 10
HIDDEN = 50


def mem_total() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal")


def resampled_users(table: dict, n_users: int, seed: int = 0, length: int | None = None):
    """``n_users`` users whose histories are copies of random ML-1M users' (new ids);
    with ``length``: only users with >= length rows, cut to their last ``length``."""
    import numpy as np

    order = np.lexsort((table["TIMESTAMP"], table["USER_ID"]))
    users = table["USER_ID"][order]
    items = table["ITEM_ID"][order]
    _, starts, counts = np.unique(users, return_index=True, return_counts=True)
    if length is not None:
        ok = counts >= length
        starts, counts = starts[ok] + counts[ok] - length, np.full(ok.sum(), length)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(starts), n_users)
    lens = counts[pick]
    offsets = np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    rows = offsets + np.arange(lens.sum())
    out = {"USER_ID": np.repeat(np.arange(n_users, dtype=np.int64), lens),
           "ITEM_ID": items[rows],
           "TIMESTAMP": np.arange(lens.sum(), dtype=np.int64)}
    perm = rng.permutation(len(rows))
    return {k: v[perm] for k, v in out.items()}


# --------------------------------------------------------------------------- 1. users
def users_scaling(rt, table, sizes, repeats, measure_memory: bool = True) -> list[dict]:
    out = []
    rt.recommend(resampled_users(table, 200, seed=1), top_k=TOP_K, exclude_seen=False)  # warm
    me = [sys.executable, str(Path(__file__).resolve())]
    for n, reps in zip(sizes, repeats, strict=True):
        rows = resampled_users(table, n)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            rt.recommend(rows, top_k=TOP_K, exclude_seen=False)
            times.append(time.perf_counter() - t0)
        if measure_memory or n == sizes[-1]:
            mem = {m: run_json(me + ["--mem-child", m, str(n)])["peak_extra_bytes"]
                   for m in MEM_METHODS}
        else:
            mem = dict.fromkeys(MEM_METHODS, float("nan"))
        out.append({"n_users": n, "rows": int(len(rows["USER_ID"])), "time": stats(times),
                    "peak_extra_bytes": mem["recommend"],
                    "padded_peak_extra_bytes": mem["recommend_padded"],
                    "score_items_peak_extra_bytes": mem["score_items"]})
        print(f"users {n:>8,}: {stats(times)['median']:.2f} s, peak +"
              f"{bytes_text(mem['recommend'])} (whole padded matrix first: "
              f"+{bytes_text(mem['recommend_padded'])}; score_items "
              f"+{bytes_text(mem['score_items'])})", flush=True)
    return out


#: Short histories (sessions): the padded window matrix is large next to the rows.
SHORT_USERS, SHORT_LENGTH = 100_000, 20


def short_history_memory() -> dict:
    me = [sys.executable, str(Path(__file__).resolve())]
    mem = {m: run_json(me + ["--mem-child", m, str(SHORT_USERS), str(SHORT_LENGTH)])[
        "peak_extra_bytes"] for m in ("recommend", "recommend_padded")}
    print(f"short histories ({SHORT_USERS:,} users x {SHORT_LENGTH}): recommend peak "
          f"+{bytes_text(mem['recommend'])}, whole padded matrix first "
          f"+{bytes_text(mem['recommend_padded'])}", flush=True)
    return {"n_users": SHORT_USERS, "length": SHORT_LENGTH, **mem}


#: ``recommend_padded`` is ``recommend`` made to build every user's padded window matrix
#: first (n_users x max_len int64), as the runtime did before it built windows per chunk.
MEM_METHODS = ("recommend", "recommend_padded", "score_items")


def _build_whole_padded_matrix() -> None:
    from seqrec_runtime import histories

    build = histories.build_sequences

    def build_padded(*args, **kwargs):
        seqs = build(*args, **kwargs)
        seqs.items  # noqa: B018 - materialise and keep the whole matrix, as before
        return seqs

    histories.build_sequences = build_padded


def mem_child(method: str, n_users: int, length: int | None = None) -> None:
    """Peak extra RSS of one call in a fresh process (input built before the measurement);
    ``length``: every user's history is a random user's last ``length`` rows."""
    import seqrec_runtime

    if method == "recommend_padded":
        _build_whole_padded_matrix()

    meta = build_model(rebuild=False)
    rt = seqrec_runtime.load(meta["artifact_dir"], providers=["CPUExecutionProvider"])
    table, _ = ml1m_table()
    rows = resampled_users(table, n_users, length=length)
    del table
    # warm-up with a full 256-user chunk: onnxruntime's working memory is allocated here
    warm = resampled_users(ml1m_table()[0], 300, seed=1)
    rt.recommend(warm, top_k=TOP_K, exclude_seen=False)
    rt.score_items(warm)
    del warm
    with PeakMemory() as mem:
        if method in ("recommend", "recommend_padded"):
            rt.recommend(rows, top_k=TOP_K, exclude_seen=False)
        else:
            rt.score_items(rows)
    emit({"peak_extra_bytes": mem.extra, "exact": mem.exact})


# --------------------------------------------------------------------------- 2. items
def topk_graph(n_items: int, path: Path) -> Path:
    """A MatMul (hidden -> n_items) + TopK(k=10) ONNX graph with random weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).standard_normal((HIDDEN, n_items)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["h", "w"], ["scores"]),
         helper.make_node("TopK", ["scores", "k"], ["values", "indices"], axis=1)],
        "score_topk",
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", HIDDEN])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, ["batch", TOP_K]),
         helper.make_tensor_value_info("indices", TensorProto.INT64, ["batch", TOP_K])],
        [numpy_helper.from_array(weights, "w"),
         numpy_helper.from_array(np.array([TOP_K], dtype=np.int64), "k")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def items_scaling(sizes, repeats: int, tmp: Path) -> list[dict]:
    import numpy as np
    import onnxruntime as ort
    from seqrec_runtime.ranking import top_k_indices

    rng = np.random.default_rng(0)
    out = []
    for n_items in sizes:
        rows = max(8, min(256, (64 * 1024**2) // (4 * n_items)))  # <= 64 MiB of scores
        hidden = rng.standard_normal((rows, HIDDEN)).astype(np.float32)
        weights = rng.standard_normal((HIDDEN, n_items)).astype(np.float32)
        scores = hidden @ weights
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        graph = topk_graph(n_items, tmp / f"topk_{n_items}.onnx")
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        graph.unlink()
        session.run(None, {"h": hidden})  # warm-up of both
        top_k_indices(scores, TOP_K)
        res = {"ort": [], "numpy_topk": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            session.run(None, {"h": hidden})
            t1 = time.perf_counter()
            top_k_indices(scores, TOP_K)
            t2 = time.perf_counter()
            res["ort"].append((t1 - t0) / rows)
            res["numpy_topk"].append((t2 - t1) / rows)
        out.append({"n_items": n_items, "chunk_rows": rows,
                    **{k: stats(v) for k, v in res.items()}})
    return out


# --------------------------------------------------------------------------- 3. history length
def length_scaling(rt, table, lengths, n_batch: int, repeats: int, calls: int) -> list[dict]:
    import numpy as np

    out = []
    for length in lengths:
        batch = resampled_users(table, n_batch, seed=2, length=length)
        singles = resampled_users(table, 50, seed=3, length=length)
        order = np.lexsort((singles["TIMESTAMP"], singles["USER_ID"]))
        hist = singles["ITEM_ID"][order].reshape(50, length)
        for i in range(10):
            rt.recommend_online(hist[i], top_k=TOP_K, exclude_seen=False)
        p50s, times = [], []
        for _ in range(repeats):
            lat = []
            for i in range(calls):
                t0 = time.perf_counter()
                rt.recommend_online(hist[i % 50], top_k=TOP_K, exclude_seen=False)
                lat.append(time.perf_counter() - t0)
            p50s.append(percentile(lat, 0.5))
            t0 = time.perf_counter()
            rt.recommend(batch, top_k=TOP_K, exclude_seen=False)
            times.append(time.perf_counter() - t0)
        out.append({"length": length, "p50": stats(p50s), "batch_time": stats(times),
                    "batch_users": n_batch})
        print(f"length {length}: p50 {stats(p50s)['median'] * 1e3:.3f} ms, batch "
              f"{n_batch / stats(times)['median']:,.0f} users/s", flush=True)
    return out


# --------------------------------------------------------------------------- plots

def _save(fig, name: str) -> Path:
    """Lay out, write ``docs/img/<name>`` and close ``fig``; return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = IMG / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

def plots(res: dict, ram: int) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e .[bench]): no plots", flush=True)
        return []
    import numpy as np

    IMG.mkdir(parents=True, exist_ok=True)
    files = []
    users, extra = res["users"], res["users_extrapolated"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.loglog([u["n_users"] for u in users], [u["time"]["median"] for u in users], "o-",
               label="measured (median)")
    ax1.loglog([users[-1]["n_users"]] + [e["n_users"] for e in extra],
               [users[-1]["time"]["median"]] + [e["seconds"] for e in extra], "o--", mfc="none",
               label="extrapolated (linear)")
    ax1.set(xlabel="users", ylabel="seconds", title="rt.recommend(rows, top_k=10)")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend()
    n = np.logspace(3, 6, 20)
    n_items = res["n_items"]
    ax2.loglog(n, n * n_items * 4 / 2**30, label=f"full float32 score matrix ({n_items:,} items)")
    ax2.loglog(n, n * res["max_len"] * 8 / 2**30, label="padded histories (int64, max_len 200)")
    ax2.loglog([u["n_users"] for u in users], [u["peak_extra_bytes"] / 2**30 for u in users],
               "o", label="recommend: measured peak extra RSS")
    ax2.loglog([u["n_users"] for u in users],
               [u["score_items_peak_extra_bytes"] / 2**30 for u in users], "s",
               label="score_items: measured peak extra RSS")
    ax2.axhline(ram / 2**30, color="k", ls=":", label=f"this machine's RAM ({ram / 2**30:.0f} GiB)")
    ax2.set(xlabel="users", ylabel="GiB", title="memory")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    files.append(_save(fig, "scaling_users.png"))

    items = res["items"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = [r["n_items"] for r in items]
    for key, label in (("ort", "onnxruntime MatMul + TopK (1 thread)"),
                       ("numpy_topk", "numpy top_k_indices (scores given)")):
        ax1.loglog(x, [r[key]["median"] * 1e6 for r in items], "o-", label=label)
    ax1.set(xlabel="items", ylabel="µs per user", title="score + top-10 step")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    ni = np.logspace(3, 6.3, 50)
    ax2.loglog(ni, ram / (4 * ni), "k-", label="n_users × n_items × 4 B = RAM")
    ax2.fill_between(ni, ram / (4 * ni), 1e9, color="tab:red", alpha=0.15,
                     label="full score matrix does not fit")
    ax2.plot([res["n_items"]], [6040], "o", label="ML-1M (6,040 × 3,416)")
    ax2.set(xlabel="items", ylabel="users", ylim=(1e3, 1e9),
            title="where score_items(all users) stops fitting")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    files.append(_save(fig, "scaling_items.png"))

    lengths = res["lengths"]
    fig, ax1 = plt.subplots(figsize=(6, 4))
    x = [r["length"] for r in lengths]
    ax1.plot(x, [r["p50"]["median"] * 1e3 for r in lengths], "o-", color="tab:blue")
    ax1.set(xlabel="history length (= max_len)", ylabel="recommend_online p50 [ms]",
            ylim=(0, None))
    ax2 = ax1.twinx()
    ax2.plot(x, [r["batch_users"] / r["batch_time"]["median"] for r in lengths], "s--",
             color="tab:orange")
    ax2.set(ylabel="batch users/s", ylim=(0, None))
    ax1.set_title("runtime vs history length (blue: latency, orange: throughput)")
    ax1.grid(True, alpha=0.3)
    files.append(_save(fig, "scaling_maxlen.png"))
    return [os.path.relpath(p, ROOT) for p in files]


# --------------------------------------------------------------------------- report
def render(res: dict, command: str, quick: bool, images: list[str], ram: int) -> str:
    lines = header("Scaling: users, items, history length, memory", command, quick,
                   f"Runtime loaded with its defaults; {res['meta']['weights']}.")
    lines += ["", "### Users: `rt.recommend(rows, top_k=10)` (ML-1M-sized model)", "",
              f"Data: {res['source']}. Each user's history is a copy of a random user's of "
              f"that table (~{res['rows_per_user']:.0f} rows each, unsorted). Peak extra = "
              "peak RSS during one call − RSS before it, in a fresh process, after a warm-up "
              "call on 300 users (so onnxruntime's working memory for a 256-user chunk is "
              "already allocated; input rows excluded).", ""]
    rows = []
    for u in res["users"]:
        t = u["time"]
        rows.append([f"{u['n_users']:,}", f"{u['rows']:,}", fmt_stat(t),
                     f"{u['n_users'] / t['median']:,.0f}", bytes_text(u["peak_extra_bytes"]),
                     bytes_text(u["padded_peak_extra_bytes"]),
                     bytes_text(u["score_items_peak_extra_bytes"]),
                     bytes_text(u["n_users"] * res["n_items"] * 4), "measured"])
    for e in res["users_extrapolated"]:
        approx_rows = e["n_users"] * res["rows_per_user"]
        rows.append([f"{e['n_users']:,}", f"~{approx_rows:,.0f}", f"~{fmt_num(e['seconds'])}",
                     f"~{e['n_users'] / e['seconds']:,.0f}", f"~{bytes_text(e['floor_bytes'])}"
                     " (floor)", "—", "—", bytes_text(e["n_users"] * res["n_items"] * 4),
                     "**extrapolated** (linear from the largest timed size)"])
    lines += md_table(["users", "rows", "time [s]", "users/s", "`recommend` peak extra memory",
                       "same, whole padded matrix built first (≈ runtime before 2026-12-04)",
                       "`score_items` peak extra memory", "full score matrix size", "how"],
                      rows)
    cells = ram / 4
    lines += [
        "",
        f"A full float32 score matrix (`score_items`) needs n_users × n_items × 4 bytes: on "
        f"this machine ({bytes_text(ram)} RAM) it stops fitting at n_users × n_items ≈ "
        f"{cells:.2g} (e.g. {cells / 3416:,.0f} users at 3,416 items, "
        f"{cells / 1e6:,.0f} users at 1M items). `recommend` never builds it: "
        "`batch.recommend_all` / the top-k graph score one chunk of `batch_size` users "
        f"(default 256: {bytes_text(256 * res['n_items'] * 4)} of scores at "
        f"{res['n_items']:,} items, {bytes_text(256 * 1e6 * 4)} at 1M items), keep only each "
        "row's top-k, and drop the chunk. Each chunk's left-padded windows are built from "
        "the CSR copy of all known items (8 bytes per row) when the chunk is scored; until "
        "2026-12-04 the runtime first built them for every user at once (n_users × max_len "
        f"int64 = {res['max_len'] * 8:,} bytes per user: 1.5 GiB for 1M users). The \"whole "
        "padded matrix built first\" column is the same call with that matrix built and held "
        "from the end of sequence building (a lower bound of the former peak, which built it "
        "while the sort's temporaries were still alive). With ~165 rows per user the peak "
        "is set by those per-row temporaries and the two columns barely differ; the matrix "
        "dominates when histories are short next to max_len"
        + (f": {res['short_histories']['n_users']:,} users with "
           f"{res['short_histories']['length']} rows each peak at "
           f"+{bytes_text(res['short_histories']['recommend'])} against "
           f"+{bytes_text(res['short_histories']['recommend_padded'])} with the whole matrix "
           "(same machine, fresh processes, one run each)" if res.get("short_histories")
           else "") + ". What grows with the number of users is the input, that CSR copy, "
        "three int64 values per user and the top-k output — the floor shown for "
        "extrapolated sizes.",
        "",
        "### Items: the score + top-10 step, per user", "",
        "Random float32 hidden states (50 wide) and item matrix, in a fresh process; chunks "
        "of up to 256 users "
        "(fewer above 65k items, to keep ≤ 64 MiB of scores per chunk); "
        f"median (min–max) of {res['items_repeats']} runs, µs per user.", "",
    ]
    rows = []
    for r in res["items"]:
        rows.append([f"{r['n_items']:,}", r["chunk_rows"], fmt_stat(r["ort"], 1e6),
                     fmt_stat(r["numpy_topk"], 1e6), bytes_text(r["n_items"] * 4)])
    lines += md_table(["items", "chunk rows", "ORT MatMul + TopK [µs]",
                       "numpy `top_k_indices` on given scores [µs]", "scores per user"], rows)
    lines += ["", "### History length (max_len 50 → 200)", "",
              f"`recommend_online` p50 over {res['length_calls']} calls (50 users) and batch "
              f"`recommend` of {res['lengths'][0]['batch_users']:,} users with exactly that many "
              f"items; median (min–max) of {res['length_repeats']} runs.", ""]
    rows = []
    for r in res["lengths"]:
        users_s = [r["batch_users"] / t for t in r["batch_time"]["values"]]
        rows.append([r["length"], fmt_stat(r["p50"], 1e3), fmt_stat(stats(users_s))])
    lines += md_table(["history length", "recommend_online p50 [ms]", "batch users/s"], rows)
    if images:
        lines += [""] + [f"![{Path(p).stem}]({p})" for p in images]
    return "\n".join(lines)


def main() -> int:
    parser = suite_parser(__doc__, "small sizes, 1-2 repeats")
    parser.add_argument("--mem-child", nargs="+", metavar="METHOD USERS [LENGTH]",
                        help="internal")
    parser.add_argument("--items-child", nargs=2, metavar=("SIZES", "REPEATS"), help="internal")
    args = parser.parse_args()
    if args.mem_child:
        mem_child(args.mem_child[0], int(args.mem_child[1]),
                  int(args.mem_child[2]) if len(args.mem_child) > 2 else None)
        return 0
    if args.items_child:
        sizes = [int(x) for x in args.items_child[0].split(",")]
        tmp = RESULTS / "cache"
        tmp.mkdir(parents=True, exist_ok=True)
        emit({"items": items_scaling(sizes, int(args.items_child[1]), tmp)})
        return 0
    quick = args.quick
    write = args.write or not (quick or args.no_write)
    import numpy as np
    import seqrec_runtime

    meta = build_model(rebuild=False)
    rt = seqrec_runtime.load(meta["artifact_dir"], providers=["CPUExecutionProvider"])
    table, source = ml1m_table()
    ram = mem_total()
    if quick:
        user_sizes, user_reps = [300, 1000], [1, 1]
        item_sizes, item_reps = [1_000, 10_000, 100_000], 2
        lengths, n_len_batch, len_reps, len_calls = [50, 200], 300, 1, 50
    else:
        user_sizes, user_reps = [1_000, 3_000, 10_000, 30_000], [5, 5, 5, 2]
        item_sizes, item_reps = [1_000, 3_416, 10_000, 100_000, 1_000_000], 5
        lengths, n_len_batch, len_reps, len_calls = [50, 100, 150, 200], 2_000, 5, 300
    users = users_scaling(rt, table, user_sizes, user_reps, measure_memory=not quick)
    short = None if quick else short_history_memory()
    per_user = users[-1]["time"]["median"] / users[-1]["n_users"]
    rows_per_user = len(table["USER_ID"]) / len(np.unique(table["USER_ID"]))
    extra = [{"n_users": n, "seconds": per_user * n,
              "floor_bytes": n * (rows_per_user * 8 + 3 * 8 + TOP_K * 8)}
             for n in (100_000, 300_000, 1_000_000) if n > user_sizes[-1]]
    # in a fresh process: no onnxruntime thread pool of the runtime above spinning beside it
    items = run_json([sys.executable, str(Path(__file__).resolve()), "--items-child",
                      ",".join(map(str, item_sizes)), str(item_reps)])["items"]
    for r in items:
        print(f"items {r['n_items']:>9,}: ORT {r['ort']['median'] * 1e6:.1f} µs/user, "
              f"numpy top-k {r['numpy_topk']['median'] * 1e6:.1f} µs/user", flush=True)
    lens = length_scaling(rt, table, lengths, n_len_batch, len_reps, len_calls)
    res = {"users": users, "users_extrapolated": extra, "items": items, "items_repeats": item_reps,
           "lengths": lens, "length_repeats": len_reps, "length_calls": len_calls,
           "n_items": rt.n_items, "max_len": rt.max_len, "meta": meta, "ram_bytes": ram,
           "source": source, "rows_per_user": rows_per_user, "short_histories": short,
           "numpy": np.__version__}
    images = plots(res, ram) if write else []
    if not write:
        print("[plots not written to docs/img: they go with the BENCHMARKS.md section]")
    command = command_line("scaling.py", sys.argv[1:])
    body = render(res, command, quick, images, ram)
    finish("scaling", quick, write, body, res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
