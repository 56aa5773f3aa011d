"""Inference speed on an ML-1M-sized model: seqrec runtime vs the trainer's torch path vs
scikit-rec 0.4.2.

Model: max_len 200, 3,416 items, hidden 50, 2 blocks; near-random weights (1 epoch on 300
users, see ``common.build_model``), exported once with ``export_onnx`` into
``bench/results/ml1m_model/``. Speed does not depend on the weights. Every seqrec call
passes ``exclude_seen=False``: the same plain ranking as the peers and the bare graph.

* Single user, history of 200 items: p50/p99 latency of ``rt.recommend_online`` (several
  onnxruntime thread settings), of the trainer's ``recommender.recommend`` on that user's
  rows, of the bare torch floor (``estimator.predict_scores`` + ``top_k_indices``), of a
  bare onnxruntime session on ``model_topk.onnx`` (the runtime's floor) and of
  scikit-rec's closest call (``recommend`` on the user's rows; it has no online API for
  SASRec). torch runs with its default thread count and with 1 thread (faster for one
  user on a busy machine); ratios use the faster torch setting. Calls cycle over 50 users;
  methods are interleaved in rounds; each round gives a p50 and p99; reported: median over
  rounds (min–max).
* Batch: ``recommend(all rows, top_k=10)`` for the 6,040 ML-1M users (~165 rows each).

Run: ``python bench/inference.py [--quick] [--write]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS,
    build_model,
    command_line,
    finish,
    fmt_stat,
    header,
    md_table,
    ml1m_table,
    peer_cmd,
    percentile,
    run_json,
    stats,
    suite_parser,
    write_parquet,
)

TOP_K = 10
POOL = 50
TARGET_P50_MS, TARGET_VS_TORCH, TARGET_USERS_S = 0.5, 2.0, 3000.0


def pick_users(table: dict, max_len: int, pool: int):
    """First ``pool`` users (ascending id) with >= max_len rows, and their last max_len rows."""
    import numpy as np

    order = np.lexsort((table["TIMESTAMP"], table["USER_ID"]))
    users = table["USER_ID"][order]
    uniq, starts, counts = np.unique(users, return_index=True, return_counts=True)
    chosen = np.flatnonzero(counts >= max_len)[:pool]
    out = []
    for c in chosen:
        rows = order[starts[c] + counts[c] - max_len: starts[c] + counts[c]]
        out.append({"USER_ID": table["USER_ID"][rows], "ITEM_ID": table["ITEM_ID"][rows],
                    "TIMESTAMP": table["TIMESTAMP"][rows]})
    return out


def single_user_methods(meta: dict, histories: list[dict], thread_options):
    """name -> (label, callable(i)) for one call on history i."""
    import numpy as np
    import onnxruntime as ort
    import seqrec_runtime
    import torch
    from seqrec_runtime.ranking import top_k_indices
    from seqrec_trainer import SequentialRecommender

    artifact = meta["artifact_dir"]
    recommender = SequentialRecommender.load(meta["model_dir"])
    estimator = recommender.scorer.estimator
    vocab = recommender.scorer.vocabulary_
    ids = [np.ascontiguousarray(h["ITEM_ID"], dtype=np.int64) for h in histories]
    encoded = [vocab.encode(x)[None, :] for x in ids]
    methods = {}
    for threads in thread_options:
        rt = seqrec_runtime.load(artifact, providers=["CPUExecutionProvider"],
                                 intra_op_num_threads=threads)
        name = f"runtime_t{threads or 'default'}"
        label = (f"runtime `recommend_online` (intra_op_num_threads="
                 f"{threads if threads is not None else 'None = default'})")
        methods[name] = (label, lambda i, rt=rt: rt.recommend_online(
            ids[i % POOL], top_k=TOP_K, exclude_seen=False), None)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(Path(artifact) / "model_topk.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, 1), dtype=np.int64)
    item_ids = vocab.ids

    def bare_ort(i):
        (top,) = session.run(["top_indices"], {"item_seq": encoded[i % POOL],
                                               "exclude_items": zeros})
        return item_ids[top[0, :TOP_K]]

    methods["ort_bare"] = ("bare onnxruntime session on `model_topk.onnx` (1 thread; floor)",
                           bare_ort, None)
    def torch_path(i):
        return recommender.recommend(histories[i % POOL], top_k=TOP_K, exclude_seen=False)[0]

    def torch_floor(i):
        scores = estimator.predict_scores(encoded[i % POOL])
        return item_ids[top_k_indices(scores, TOP_K)[0]]

    default = torch.get_num_threads()
    for threads in (default, 1):
        suffix = "" if threads == default else f"_t{threads}"
        note = f"torch threads {threads}" + (" = default" if threads == default else "")
        methods["torch_path" + suffix] = (
            f"trainer torch path `recommender.recommend(user's rows)` ({note})", torch_path,
            threads)
        methods["torch_floor" + suffix] = (
            f"torch floor `estimator.predict_scores` + `top_k_indices` ({note})", torch_floor,
            threads)
    return methods, recommender


def check_same(methods) -> None:
    """Runtime, bare ORT and torch agree on the top-10 (near-random weights: allow swaps of
    near-ties)."""
    import numpy as np

    ref = methods["torch_floor"][1](0)
    for name, (_label, fn, _threads) in methods.items():
        got = fn(0)
        overlap = len(np.intersect1d(got, ref))
        if overlap < TOP_K - 2:
            raise AssertionError(f"{name} disagrees with torch: {got} vs {ref}")


def time_single(methods, rounds: int, calls: int) -> dict:
    """Rounds of ``calls`` calls per method; torch methods run with their thread count."""
    import torch

    default = torch.get_num_threads()
    for _label, fn, threads in methods.values():  # warm-up
        torch.set_num_threads(threads or default)
        for i in range(20):
            fn(i)
    out = {name: [] for name in methods}
    for _ in range(rounds):
        for name, (_label, fn, threads) in methods.items():
            torch.set_num_threads(threads or default)
            lat = []
            for i in range(calls):
                t0 = time.perf_counter()
                fn(i)
                lat.append(time.perf_counter() - t0)
            out[name].append({"p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
                              "mean": sum(lat) / len(lat)})
    torch.set_num_threads(default)
    return out


def time_batch(meta: dict, table: dict, recommender, repeats: int, variants) -> dict:
    import seqrec_runtime
    import torch

    default = torch.get_num_threads()
    runtimes = {}
    for threads, batch_size in variants:
        runtimes[(threads, batch_size)] = seqrec_runtime.load(
            meta["artifact_dir"], providers=["CPUExecutionProvider"],
            intra_op_num_threads=threads, batch_size=batch_size)
    out = {f"runtime_t{t or 'default'}_b{b}": [] for t, b in variants}
    out["torch_path"] = []
    out["torch_path_t1"] = []
    out["histories_only"] = []
    out["ort_bare_chunks"] = []
    first = next(iter(runtimes.values())).recommend(table, top_k=TOP_K, exclude_seen=False)
    torch_recs = recommender.recommend(table, top_k=TOP_K, exclude_seen=False)
    agree = float((first == torch_recs).mean())
    floor = _bare_chunks(meta, table, recommender)
    for _ in range(repeats):
        for (t, b), rt in runtimes.items():
            t0 = time.perf_counter()
            rt.recommend(table, top_k=TOP_K, exclude_seen=False)
            out[f"runtime_t{t or 'default'}_b{b}"].append(time.perf_counter() - t0)
        for name, threads in (("torch_path", default), ("torch_path_t1", 1)):
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            recommender.recommend(table, top_k=TOP_K, exclude_seen=False)
            out[name].append(time.perf_counter() - t0)
        torch.set_num_threads(default)
        for name, seconds in floor().items():
            out[name].append(seconds)
    return {"times": out, "agreement_runtime_vs_torch": agree}


def _bare_chunks(meta: dict, table: dict, recommender):
    """Where batch time goes: ``read_histories`` alone, and a bare 1-thread onnxruntime
    session running the top-k graph on the pre-built 256-user chunks (no Python around it)."""
    import numpy as np
    import onnxruntime as ort
    from seqrec_runtime.batch import iter_chunks
    from seqrec_runtime.histories import read_histories

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(Path(meta["artifact_dir"]) / "model_topk.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    vocab = recommender.scorer.vocabulary_
    seqs = read_histories(table, vocab, 200)
    chunks = [np.ascontiguousarray(items) for _s, _e, items in iter_chunks(seqs, 256)]
    zeros = [np.zeros((len(c), 1), dtype=np.int64) for c in chunks]
    session.run(["top_indices"], {"item_seq": chunks[0], "exclude_items": zeros[0]})  # warm

    def run() -> dict:
        t0 = time.perf_counter()
        read_histories(table, vocab, 200)
        t1 = time.perf_counter()
        for items, z in zip(chunks, zeros, strict=True):
            session.run(["top_indices"], {"item_seq": items, "exclude_items": z})
        t2 = time.perf_counter()
        return {"histories_only": t1 - t0, "ort_bare_chunks": t2 - t1}

    return run


def _target(ok: bool, text: str) -> str:
    return f"{text}: {'✓' if ok else '✗'}"


def render(res: dict, command: str, quick: bool, meta: dict, peer: dict | None) -> str:
    single = res["single"]
    labels = res["labels"]
    lines = header("Inference speed (ML-1M-sized model: max_len 200, 3,416 items, hidden 50, "
                   "2 blocks)", command, quick,
                   f"Weights: {meta['weights']}. Artifact: opset {meta['opset']}.")
    lines += ["", "### One user (history of 200 items, top-10)", "",
              f"{res['rounds']} rounds × {res['calls']} calls per method, methods interleaved "
              "by round; latency per call (ms): median over rounds of the round's p50 / p99 "
              "(min–max). scikit-rec runs in its own process right after "
              f"({peer['rounds']} rounds × {peer['calls']} calls)." if peer else "", ""]
    torch_p50 = min(stats([r["p50"] for r in single[n]])["median"]
                    for n in single if n.startswith("torch_path"))
    head = ["method", "p50 [ms]", "p99 [ms]", "× faster than best torch path (p50)",
            "target / met?"]
    rows = []
    best = min((n for n in single if n.startswith("runtime")),
               key=lambda n: stats([r["p50"] for r in single[n]])["median"])
    entries = [(n, single[n], labels[n]) for n in single]
    if peer:
        entries.append(("skrec", peer["single_rounds"],
                        "scikit-rec 0.4.2 `recommend(user's rows)` (no online API for SASRec)"))
    for name, rounds, label in entries:
        p50 = stats([r["p50"] for r in rounds])
        p99 = stats([r["p99"] for r in rounds])
        speed = torch_p50 / p50["median"]
        target = "—"
        if name == best:
            target = "; ".join([
                _target(p50["median"] * 1e3 <= TARGET_P50_MS, f"p50 ≤ {TARGET_P50_MS} ms"),
                _target(speed >= TARGET_VS_TORCH, f"≥ {TARGET_VS_TORCH:.0f}× torch path"),
            ])
            label += " **(best)**"
        rows.append([label, fmt_stat(p50, 1e3), fmt_stat(p99, 1e3), f"{speed:.2f}×", target])
    lines += md_table(head, rows)

    batch = res["batch"]["times"]
    n_users = res["batch_users"]
    lines += ["", f"### Batch: `recommend(rows, top_k=10)` for {n_users:,} users "
              f"({res['batch_rows']:,} rows, unsorted)", "",
              f"{res['repeats']} repeats, side by side; users/s = users / median time. Runtime and "
              f"torch top-10 agree on {res['batch']['agreement_runtime_vs_torch']:.1%} of "
              "entries (near-random weights make near-ties common).", ""]
    head = ["method", "time [s]", "users/s", "× best torch path", "target / met?"]
    torch_med = min(stats(batch[n])["median"] for n in batch if n.startswith("torch_path"))
    best_b = min((n for n in batch if n.startswith("runtime_")),
                 key=lambda n: stats(batch[n])["median"])
    rows = []
    entries = [(n, batch[n], res["batch_labels"][n]) for n in batch]
    if peer:
        entries.append(("skrec", peer["batch_s"], "scikit-rec 0.4.2 `recommend(rows)`"))
    for name, times, label in entries:
        s = stats(times)
        users_s = n_users / s["median"]
        target = "—"
        if name == best_b:
            target = _target(users_s >= TARGET_USERS_S, f"≥ {TARGET_USERS_S:,.0f} users/s")
            label += " **(best)**"
        rows.append([label, fmt_stat(s), f"{users_s:,.0f}", f"{torch_med / s['median']:.2f}×",
                     target])
    lines += md_table(head, rows)
    lines += ["", f"torch {res['torch']} (default threads: {res['torch_threads']}), onnxruntime "
              f"{res['onnxruntime']}" + (f"; scikit-rec venv: torch {peer['torch']} "
                                          f"(torch threads: {peer['torch_threads']}, the "
                                          f"faster of {', '.join(sorted(peer['thread_probe']))}"
                                          " on a short probe), "
                                          f"pandas {peer['pandas']}" if peer else "") + "."]
    return "\n".join(lines)


def main() -> int:
    parser = suite_parser(__doc__, "2 rounds x 50 calls, batch of 1,000 users, 1 repeat; reuses a "
                             "cached model")
    parser.add_argument("--reuse-model", action="store_true",
                        help="reuse bench/results/ml1m_model when present")
    parser.add_argument("--no-peer", action="store_true", help="skip scikit-rec")
    args = parser.parse_args()
    quick = args.quick
    write = args.write or not (quick or args.no_write)
    rounds, calls = (2, 50) if quick else (7, 200)
    peer_rounds, peer_calls = (1, 10) if quick else (5, 30)
    repeats = 1 if quick else 5
    batch_users = 1000 if quick else None

    import numpy as np
    import onnxruntime
    import torch

    meta = build_model(rebuild=not (args.reuse_model or quick))
    table, source = ml1m_table()
    histories = pick_users(table, 200, POOL)
    if batch_users:
        keep = np.isin(table["USER_ID"], np.unique(table["USER_ID"])[:batch_users])
        batch_table = {k: v[keep] for k, v in table.items()}
    else:
        batch_table = table
    perm = np.random.default_rng(0).permutation(len(batch_table["USER_ID"]))
    batch_table = {k: v[perm] for k, v in batch_table.items() if k != "OUTCOME"}

    methods, recommender = single_user_methods(meta, histories, [None, 1, 2])
    check_same(methods)
    single = time_single(methods, rounds, calls)
    for name, r in single.items():
        print(f"single {name:<18} p50 {stats([x['p50'] for x in r])['median'] * 1e3:.3f} ms",
              flush=True)
    variants = [(None, 256), (1, 256), (2, 256), (None, 64), (None, 1024)]
    batch = time_batch(meta, batch_table, recommender, repeats, variants)
    for name, t in batch["times"].items():
        print(f"batch {name:<22} {stats(t)['median']:.3f} s", flush=True)
    n_users = int(len(np.unique(batch_table["USER_ID"])))

    peer = None
    if not args.no_peer:
        data = write_parquet(table, RESULTS / "cache" / "ml1m.parquet")
        peer = run_json(peer_cmd(
            "skrec_infer.py", "--data", str(data), "--rounds", str(peer_rounds), "--calls",
            str(peer_calls), "--repeats", str(repeats), "--pool", str(POOL),
            "--save-pickle", str(RESULTS / "ml1m_model" / "skrec_recommender.pkl"),
            *(["--batch-users", str(batch_users)] if batch_users else [])))
        peer.update(rounds=peer_rounds, calls=peer_calls)
        print(f"skrec single p50 {stats([r['p50'] for r in peer['single_rounds']])['median']:.4f}"
              f" s, batch {stats(peer['batch_s'])['median']:.2f} s", flush=True)

    batch_labels = {
        f"runtime_t{t or 'default'}_b{b}":
            f"runtime (intra_op_num_threads={t if t is not None else 'default'}, batch_size={b})"
        for t, b in variants
    }
    batch_labels["torch_path"] = ("trainer torch path `recommender.recommend` (torch threads "
                                  f"{torch.get_num_threads()} = default)")
    batch_labels["torch_path_t1"] = "trainer torch path `recommender.recommend` (torch threads 1)"
    batch_labels["histories_only"] = "part: `read_histories` alone (rows → padded sequences)"
    batch_labels["ort_bare_chunks"] = ("part: bare onnxruntime top-k graph on the pre-built "
                                       "256-user chunks (1 thread; model floor)")
    res = {
        "single": single, "labels": {n: m[0] for n, m in methods.items()}, "rounds": rounds,
        "calls": calls, "batch": batch, "batch_labels": batch_labels, "repeats": repeats,
        "batch_users": n_users, "batch_rows": int(len(batch_table["USER_ID"])),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "onnxruntime": onnxruntime.__version__, "data": source,
    }
    command = command_line("inference.py", sys.argv[1:])
    body = render(res, command, quick, meta, peer)
    finish("inference", quick, write, body, {**res, "model": meta, "peer": peer})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
