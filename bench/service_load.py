"""The HTTP service (examples/service) under a bounded load, beside the runtime in-process.

``python bench/service_load.py``            full run (~25 min on 2 busy cores), writes
                                            docs/benchmarks/service_load.md
``python bench/service_load.py --quick``    smoke run (< 2 min), prints only

Loopback only, every phase bounded by a request count and a time limit:

1. in-process: ``recommend_online`` alone and the service's whole handler (JSON parse,
   ``recommend_online``, ``score_items`` for the scores, JSON encode) on the same bodies;
   ``recommend`` on batches of 8 / 32 users against as many single calls (does
   micro-batching pay?);
2. HTTP: throughput and p50/p95/p99 at 1, 8 and 32 concurrent keep-alive clients;
3. worker threads x onnxruntime threads per call, at 32 clients;
4. the same load during model swaps (two artifacts, alternated), error count and labels;
5. the server's RSS before and after ``--rss-requests`` (200,000) requests.

Without ``--artifact`` it serves the shared ML-1M-sized model (bench/common.py
``build_model``); the swap partner is the same network exported with another top-k, so the
two artifacts differ in sha256 and serve at the same speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS,
    ROOT,
    build_model,
    command_line,
    finish,
    fmt_num,
    header,
    md_table,
    ml1m_table,
    percentile,
)

SERVICE = ROOT / "examples" / "service"
HOST = "127.0.0.1"  # loopback only, by design
SWAP_PARTNER = RESULTS / "ml1m_model" / "artifact_top20"
RSS_MARGIN = 0.10  # "flat": RSS after <= RSS before * (1 + margin)


# --------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, artifact: Path, workers: int, intra: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(SERVICE / "serve.py"), "--artifact", str(artifact),
             "--host", HOST, "--port", str(self.port), "--workers", str(workers),
             "--intra-op-threads", str(intra), "--log-level", "warning"],
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the service exited at start-up")
            try:
                if http_call(self.port, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the service did not become ready")

    def rss(self) -> int:
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as fh:
            return next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmRSS:"))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def http_call(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request(method, path, body=body or None,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


# --------------------------------------------------------------------------- load client
async def _client(port: int, bodies: list[bytes], state: dict, out: dict) -> None:
    """One keep-alive connection sending requests one after the other."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while state["next"] < state["n"] and time.perf_counter() < state["deadline"]:
            i = state["next"]
            state["next"] += 1
            body = bodies[i % len(bodies)]
            head = (f"POST /recommend HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: "
                    f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(head + body)
            status = int((await reader.readline()).split()[1])
            length, sha = 0, ""
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "x-model-sha256":
                    sha = value.strip()
            payload = await reader.readexactly(length)
            out["latency"].append(time.perf_counter() - started)
            out["labels"][sha] = out["labels"].get(sha, 0) + 1
            if status != 200:
                out["errors"].append((status, payload[:200]))
            elif i % 97 == 0:
                out["samples"].append((i % len(bodies), sha, payload))
    finally:
        writer.close()


def run_load(port: int, bodies: list[bytes], n: int, clients: int, limit_s: float,
             state: dict | None = None) -> dict:
    """``n`` requests from ``clients`` keep-alive connections, at most ``limit_s`` seconds.

    ``state["next"]`` counts the requests started (for a thread watching the progress).
    """
    state = state if state is not None else {}
    state.update({"next": 0, "n": n, "deadline": time.perf_counter() + limit_s})
    out: dict = {"latency": [], "labels": {}, "errors": [], "samples": []}

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(_client(port, bodies, state, out) for _ in range(clients)))
        return time.perf_counter() - started

    wall = asyncio.run(main())
    lat = out["latency"]
    return {"clients": clients, "requests": len(lat), "asked": n, "wall_s": wall,
            "rps": len(lat) / wall, "p50_ms": percentile(lat, 0.5) * 1e3,
            "p95_ms": percentile(lat, 0.95) * 1e3, "p99_ms": percentile(lat, 0.99) * 1e3,
            "errors": len(out["errors"]), "error_examples": out["errors"][:3],
            "labels": out["labels"], "timed_out": len(lat) < n, "_samples": out["samples"]}


def check_samples(result: dict, references: dict, bodies: list[bytes]) -> int:
    """Compare sampled answers with ``recommend_online`` of the model their header names."""
    checked = 0
    for index, sha, payload in result.pop("_samples"):
        request = json.loads(bodies[index])
        want = references[sha].recommend_online(request["history"], top_k=request["top_k"],
                                                exclude_seen=True)
        if json.loads(payload)["items"] != want.tolist():
            raise AssertionError(f"answer {index} differs from recommend_online of {sha}")
        checked += 1
    return checked


def aggregate(runs: list[dict]) -> dict:
    """Medians of rate and percentiles over repeated runs; counts and labels summed."""
    out = {key: float(np.median([r[key] for r in runs]))
           for key in ("rps", "p50_ms", "p95_ms", "p99_ms")}
    out["rps_range"] = [min(r["rps"] for r in runs), max(r["rps"] for r in runs)]
    for key in ("requests", "errors", "checked"):
        out[key] = sum(r.get(key, 0) for r in runs)
    out["labels"] = {}
    for r in runs:
        for sha, count in r["labels"].items():
            out["labels"][sha] = out["labels"].get(sha, 0) + count
    out["swaps"] = [s for r in runs for s in r.get("swaps", [])]
    out["timed_out"] = any(r["timed_out"] for r in runs)
    out["clients"], out["repeats"] = runs[0]["clients"], len(runs)
    out["runs"] = runs
    return out


# --------------------------------------------------------------------------- in-process
def in_process(artifact: Path, bodies: list[bytes], calls: int, threads: int,
               repeats: int) -> dict:
    """Per-call latency and calls/s of ``recommend_online`` and of the service's handler."""
    sys.path.insert(0, str(SERVICE))
    from payloads import Limits, handle_single, quiet_runtime_warnings
    from seqrec_runtime import ModelHolder

    quiet_runtime_warnings()  # as the service does

    holder = ModelHolder(providers=["CPUExecutionProvider"], intra_op_num_threads=1)
    model = holder.swap(artifact)
    rt, limits = model.runtime, Limits()
    histories = [json.loads(b)["history"] for b in bodies]

    def online(i: int) -> None:
        rt.recommend_online(histories[i % len(histories)], top_k=10, exclude_seen=True)

    def handler(i: int) -> None:
        handle_single(model, bodies[i % len(bodies)], limits)

    runs: dict = {"recommend_online": [], "handler": []}
    for _ in range(repeats):  # alternating, medians over the repeats
        for name, fn in (("recommend_online", online), ("handler", handler)):
            for i in range(50):
                fn(i)
            lat = []
            for i in range(calls):
                started = time.perf_counter()
                fn(i)
                lat.append(time.perf_counter() - started)
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(fn, range(calls)))
            runs[name].append({
                "p50_ms": percentile(lat, 0.5) * 1e3, "p99_ms": percentile(lat, 0.99) * 1e3,
                "rps_1_thread": calls / sum(lat),
                f"rps_{threads}_threads": calls / (time.perf_counter() - started)})
    res = {name: {key: float(np.median([r[key] for r in rs])) for key in rs[0]}
           for name, rs in runs.items()}
    batching = {}
    for size in (8, 32):
        group = histories[:size]
        table = {"USER_ID": np.repeat(np.arange(size), [len(h) for h in group]),
                 "ITEM_ID": np.concatenate([np.asarray(h) for h in group]),
                 "TIMESTAMP": np.concatenate([np.arange(len(h)) for h in group])}
        batch, single = [], []
        for _ in range(max(5, calls // 50)):
            started = time.perf_counter()
            rt.recommend(table, top_k=10, exclude_seen=True)
            batch.append(time.perf_counter() - started)
            started = time.perf_counter()
            for h in group:
                rt.recommend_online(h, top_k=10, exclude_seen=True)
            single.append(time.perf_counter() - started)
        batching[size] = {"batch_ms": float(np.median(batch)) * 1e3,
                          "singles_ms": float(np.median(single)) * 1e3}
    res["batching"] = batching
    return res


# --------------------------------------------------------------------------- phases
def swap_load(server: Server, artifacts: list[Path], bodies: list[bytes], n: int,
              clients: int, swaps: int, limit_s: float) -> dict:
    """The load of ``run_load`` while a thread swaps the model ``swaps`` times."""
    swap_log: list[dict] = []
    stop = threading.Event()
    state: dict = {"next": 0}

    def swapper() -> None:
        for k in range(swaps):
            while state["next"] < (k + 1) * n // (swaps + 1):  # evenly over the requests
                if stop.wait(0.01):
                    return
            target = artifacts[(k + 1) % len(artifacts)]
            started = time.perf_counter()
            status, body = http_call(server.port, "POST", "/admin/swap",
                                     json.dumps({"artifact_dir": str(target)}).encode())
            swap_log.append({"status": status, "seconds": time.perf_counter() - started,
                             "sha256": body.get("sha256")})

    thread = threading.Thread(target=swapper)
    thread.start()
    result = run_load(server.port, bodies, n, clients, limit_s, state)
    stop.set()
    thread.join()
    result["swaps"] = swap_log
    return result


def make_bodies(n_users: int, top_k: int = 10) -> tuple[list[bytes], str]:
    table, source = ml1m_table()
    order = np.lexsort((table["TIMESTAMP"], table["USER_ID"]))
    users, items = table["USER_ID"][order], table["ITEM_ID"][order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    bounds = np.r_[starts, len(users)]
    pick = np.random.default_rng(0).choice(len(starts), size=n_users, replace=False)
    bodies = [json.dumps({"history": items[bounds[u]:bounds[u + 1]].tolist(),
                          "top_k": top_k}).encode() for u in pick]
    return bodies, source


def ensure_swap_partner(meta: dict) -> Path:
    if not (SWAP_PARTNER / "manifest.json").is_file():
        from seqrec_export import export_onnx

        export_onnx(meta["model_dir"], SWAP_PARTNER, top_k=20)
    return SWAP_PARTNER


SIZES = {  # full / quick: request counts per phase (each phase also has a time limit)
    False: {"users": 2000, "calls": 2000, "load": 2000, "grid": 2000, "swap": 4000,
            "rss": 200_000, "limit_s": 120.0, "rss_limit_s": 1200.0, "repeats": 3},
    True: {"users": 200, "calls": 200, "load": 300, "grid": 300, "swap": 600,
           "rss": 5_000, "limit_s": 30.0, "rss_limit_s": 120.0, "repeats": 1},
}
GRID = [(1, 1), (2, 1), (4, 1), (1, 2)]  # (request worker threads, onnxruntime threads/call)
SWAPS = 6


def rss_phase(artifacts: list[Path], bodies: list[bytes], n: int, limit_s: float) -> dict:
    """RSS of a fresh server after a warm-up, then after every tenth of ``n`` requests.

    Each tenth swaps the model once halfway (alternating ``artifacts``), so models swapped
    out must be freed for the RSS to stay flat.
    """
    server = Server(artifacts[0], workers=2, intra=1)
    try:
        run_load(server.port, bodies, 2000, 8, limit_s)
        before, trace, errors, done, swaps = server.rss(), [], 0, 0, []
        started = time.perf_counter()
        for tenth in range(10):
            left = limit_s - (time.perf_counter() - started)
            order = artifacts[tenth % 2:] + artifacts[:tenth % 2]
            part = swap_load(server, order, bodies, n // 10, 8, 1, max(left, 1.0))
            part.pop("_samples")
            errors += part["errors"]
            done += part["requests"]
            swaps += part["swaps"]
            trace.append(server.rss())
        return {"requests": done, "asked": n, "errors": errors, "rss_before": before,
                "swaps_ok": sum(s["status"] == 200 for s in swaps), "swaps": len(swaps),
                "rss_after": trace[-1], "rss_max": max(trace), "trace": trace,
                "wall_s": time.perf_counter() - started,
                "flat": trace[-1] <= before * (1 + RSS_MARGIN)}
    finally:
        server.stop()


def render(res: dict, command: str, quick: bool) -> str:
    ip = res["in_process"]
    online, handler = ip["recommend_online"], ip["handler"]
    threads = f"rps_{res['workers']}_threads"
    lines = header("HTTP service under load (examples/service)", command, quick,
                   f"Data: {res['data']}. Artifact: {res['artifact']}.")
    lines += ["", "In-process, one thread (the runtime without HTTP), median and p99 per call:",
              ""]
    lines += md_table(["path", "p50 ms", "p99 ms", "calls/s, 1 thread",
                       f"calls/s, {res['workers']} threads"],
                      [[name, fmt_num(r["p50_ms"]), fmt_num(r["p99_ms"]),
                        fmt_num(r["rps_1_thread"]), fmt_num(r[f"rps_{res['workers']}_threads"])]
                       for name, r in (("recommend_online", online),
                                       ("handler (parse + recommend_online + score_items + "
                                        "encode)", handler))])
    lines += ["", f"HTTP, {res['workers']} worker threads x 1 onnxruntime thread, keep-alive "
              "clients on the same machine (they share the cores); medians of "
              f"{res['repeats']} interleaved runs (req/s range in brackets), requests and "
              "errors summed over the runs:", ""]
    rows = []
    for r in res["http"] + [res["swap"]]:
        label = f"{r['clients']}" + (f" + {len(r['swaps'])} swaps" if r["swaps"] else "")
        rps = f"{fmt_num(r['rps'])} ({fmt_num(r['rps_range'][0])}–{fmt_num(r['rps_range'][1])})"
        rows.append([label, f"{r['requests']:,}", rps, fmt_num(r["p50_ms"]),
                     fmt_num(r["p95_ms"]), fmt_num(r["p99_ms"]), r["errors"],
                     f"{r['p50_ms'] / online['p50_ms']:.1f}×",
                     f"{online[threads] / r['rps']:.1f}×"])
    lines += md_table(["clients", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                       "p50 / in-process p50",
                       f"in-process calls/s ({res['workers']} threads) / req/s"], rows)
    swap = res["swap"]
    ok = sum(s["status"] == 200 for s in swap["swaps"])
    lines += ["", f"Swaps: {ok} of {len(swap['swaps'])} admin swaps answered 200 in "
              f"{fmt_num(float(np.median([s['seconds'] for s in swap['swaps']])))} s (median; "
              f"the new artifact loads and is checked beside the serving one); responses per "
              f"model: {sorted(swap['labels'].values())}; {swap['checked']} sampled answers "
              "equal `recommend_online` of the model named in their headers.", ""]
    lines += ["Worker threads x onnxruntime threads per call, 32 clients (one server per "
              f"row, all running, measured in turn; medians of {res['repeats']} runs):", ""]
    lines += md_table(["workers", "threads/call", "req/s", "p50 ms", "p99 ms", "errors"],
                      [[g["workers"], g["intra"], fmt_num(g["rps"]), fmt_num(g["p50_ms"]),
                        fmt_num(g["p99_ms"]), g["errors"]] for g in res["grid"]])
    lines += ["", "Micro-batching (in-process, one thread): `recommend` on a batch against as "
              "many `recommend_online` calls:", ""]
    lines += md_table(["users", "one batch ms", "single calls ms", "batch / singles"],
                      [[size, fmt_num(b["batch_ms"]), fmt_num(b["singles_ms"]),
                        f"{b['batch_ms'] / b['singles_ms']:.2f}×"]
                       for size, b in ip["batching"].items()])
    rss = res["rss"]
    mib = 2**20
    if not rss["requests"]:
        return "\n".join([*lines, "", "Memory: not measured (`--skip-rss`)."])
    lines += ["", f"Memory: server RSS {rss['rss_before'] / mib:,.1f} MiB after warm-up, "
              f"{rss['rss_after'] / mib:,.1f} MiB after {rss['requests']:,} more requests "
              f"and {rss.get('swaps_ok', 0)} of {rss.get('swaps', 0)} swaps at 8 clients "
              f"(max {rss['rss_max'] / mib:,.1f} MiB; {rss['errors']} errors; "
              f"{rss['requests'] / max(rss['wall_s'], 1e-9):,.0f} req/s over "
              f"{rss['wall_s']:.0f} s) — "
              f"{'flat' if rss['flat'] else 'NOT flat'} within {RSS_MARGIN:.0%}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true",
                        help="with --quick: also write the (marked) quick report")
    parser.add_argument("--no-write", action="store_true",
                        help="full run without writing docs/benchmarks/service_load.md")
    parser.add_argument("--artifact", type=Path, help="serve this artifact instead")
    parser.add_argument("--swap-artifact", type=Path, help="swap partner (default: --artifact)")
    parser.add_argument("--skip-rss", action="store_true", help="leave out phase 5")
    args = parser.parse_args(argv)
    size = SIZES[args.quick]
    if args.artifact is None:
        meta = build_model()
        artifact = Path(meta["artifact_dir"])
        partner = args.swap_artifact or ensure_swap_partner(meta)
        described = "the shared ML-1M-sized model (`build_model`), " + meta["weights"]
    else:
        artifact, partner = args.artifact, args.swap_artifact or args.artifact
        described = str(args.artifact)
    print(f"artifact: {artifact} (swap partner {partner})", flush=True)
    bodies, source = make_bodies(size["users"])
    workers, repeats = 2, size["repeats"]
    res: dict = {"artifact": described, "data": source, "workers": workers, "repeats": repeats}
    res["in_process"] = in_process(artifact, bodies, size["calls"], workers, repeats)
    print(json.dumps(res["in_process"]), flush=True)
    from seqrec_runtime import artifact_sha256, load

    references = {artifact_sha256(p): load(p, providers=["CPUExecutionProvider"])
                  for p in (artifact, partner)}
    levels: dict[int, list] = {1: [], 8: [], 32: []}
    swaps: list[dict] = []
    server = Server(artifact, workers, 1)
    try:
        run_load(server.port, bodies, 500, 8, size["limit_s"])  # warm-up
        for _ in range(repeats):  # interleaved, so that load from elsewhere hits all alike
            for clients, runs in levels.items():
                r = run_load(server.port, bodies, size["load"], clients, size["limit_s"])
                r["checked"] = check_samples(r, references, bodies)
                runs.append(r)
            r = swap_load(server, [artifact, partner], bodies, size["swap"], 32, SWAPS,
                          size["limit_s"])
            r["checked"] = check_samples(r, references, bodies)
            swaps.append(r)
            print(json.dumps({"swap_rps": r["rps"], "errors": r["errors"]}), flush=True)
    finally:
        server.stop()
    res["http"] = [aggregate(runs) for runs in levels.values()]
    res["swap"] = aggregate(swaps)
    servers = {config: Server(artifact, *config) for config in GRID}
    grid: dict = {config: [] for config in GRID}
    try:
        for srv in servers.values():
            run_load(srv.port, bodies, 300, 8, size["limit_s"])  # warm-up
        for _ in range(repeats):
            for config, srv in servers.items():
                r = run_load(srv.port, bodies, size["grid"], 32, size["limit_s"])
                r.pop("_samples")
                grid[config].append(r)
    finally:
        for srv in servers.values():
            srv.stop()
    res["grid"] = [{"workers": w, "intra": t, **aggregate(runs)}
                   for (w, t), runs in grid.items()]
    print(json.dumps([[g["workers"], g["intra"], g["rps"]] for g in res["grid"]]), flush=True)
    if args.skip_rss:
        res["rss"] = {"requests": 0, "errors": 0, "rss_before": float("nan"),
                      "rss_after": float("nan"), "rss_max": float("nan"), "wall_s": 0,
                      "flat": False}
    else:
        res["rss"] = rss_phase([artifact, partner], bodies, size["rss"], size["rss_limit_s"])
    print(json.dumps(res["rss"]), flush=True)
    command = command_line("service_load.py", sys.argv[1:] if argv is None else argv)
    write = args.write or not (args.quick or args.no_write)
    finish("service_load", args.quick, write, render(res, command, args.quick), res)
    failed = sum(r["errors"] for r in [*res["http"], res["swap"], *res["grid"], res["rss"]])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
