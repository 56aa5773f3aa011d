"""How to store an artifact's item prior: three layouts served side by side.

An artifact with an EASE prior holds an ``n_items x n_items`` float32 matrix. Its two
graphs (scores, top-k) both need it. Three layouts, built from one export of the same
network (random weights; serving cost does not depend on their values):

``two_files``
    Format version 2: ``model.onnx`` and ``model_topk.onnx``, each with its own copy of
    the matrix (extracted from the one-file model with ``onnx.utils.extract_model``).
``external_shared``
    The same two graphs with the matrix moved to one external data file that both
    reference; the Python runtime reads it once into numpy and hands the same buffer to
    both sessions (``SessionOptions.add_initializer``).
``one_file``
    Format version 3 (what ``export_onnx`` writes): one model with both graphs' outputs
    (``scores``, ``top_scores``, ``top_indices``), one session.

Each layout is measured in its own fresh process, layouts interleaved over ``--rounds``
rounds: bytes on disk, session creation time, resident memory after loading (RSS, minus
the process's RSS before), batch scoring of 64 users (history 50, scores output) and one
user's top-10 (the top-k output, as ``recommend_online`` calls it), each as wall-clock and
CPU time per call (CPU time is the steadier on a machine shared with other work).
Medians over rounds, ratios to ``one_file``.

With ``--node`` the ``two_files`` and ``one_file`` layouts are also written as complete
artifacts (format 2 and 3 manifests) and loaded by the Node.js example
(``examples/node``, after ``npm ci`` there): its process's resident memory after
``seqrec.load`` and a forced garbage collection, minus before.

``--write`` writes the report to ``docs/benchmarks/prior_storage.md``.

Run: ``python bench/prior_storage.py [--n-items 4000] [--rounds 3] [--json OUT] [--node]
[--write]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

LAYOUTS = ("two_files", "external_shared", "one_file")
NODE_LAYOUTS = ("two_files", "one_file")
MAX_LEN = 50
PRIOR_NAME = "prior.bin"
REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / "examples" / "node"
REPORT = REPO / "docs" / "benchmarks" / "prior_storage.md"
_LABELS = {"disk_mb": "on disk (MB)", "load_s": "session load (s)",
           "rss_mb": "memory after load, Python (MB)", "batch64_ms": "batch of 64, wall (ms)",
           "batch64_cpu_ms": "batch of 64, CPU (ms)", "online_ms": "one user top-10, wall (ms)",
           "online_cpu_ms": "one user top-10, CPU (ms)",
           "node_rss_mb": "memory after load, Node example (MB)"}
NODE_LOAD = """
const seqrec = require(process.argv[1]);
global.gc();
const before = process.memoryUsage().rss;
seqrec.load(process.argv[2]).then((model) => {
  global.gc();
  const after = process.memoryUsage().rss;
  console.log(JSON.stringify({ node_rss_mb: (after - before) / 1e6, k: model.k }));
});
"""


def build_layouts(root: Path, n_items: int) -> dict[str, Path]:
    """Export one network with an EASE-sized prior and write the three layouts."""
    import onnx
    import onnx.utils
    import torch
    from onnx.external_data_helper import convert_model_to_external_data
    from seqrec_export.config import graph_specs
    from seqrec_export.onnx_graphs import export_graphs
    from seqrec_trainer.model.network import SASRecNetwork

    torch.manual_seed(0)
    network = SASRecNetwork(n_items, MAX_LEN, hidden_units=64, num_blocks=2, item_prior=True)
    with torch.no_grad():
        network.item_prior_matrix.copy_(torch.randn(n_items, n_items) * 0.01)
    network.eval()
    one = root / "one_file"
    one.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_graphs(network, MAX_LEN, n_items, 10, graph_specs(n_items, 10, True), one, 18)
    combined = one / "model.onnx"
    two = root / "two_files"
    two.mkdir()
    onnx.utils.extract_model(str(combined), str(two / "model.onnx"),
                             ["item_seq", "history_items"], ["scores"])
    onnx.utils.extract_model(str(combined), str(two / "model_topk.onnx"),
                             ["item_seq", "exclude_items", "history_items"],
                             ["top_scores", "top_indices"])
    ext = root / "external_shared"
    ext.mkdir()
    for name in ("model.onnx", "model_topk.onnx"):
        model = onnx.load(str(two / name))
        convert_model_to_external_data(model, all_tensors_to_one_file=True,
                                       location=f"{name}.{PRIOR_NAME}",
                                       size_threshold=n_items * n_items * 4)
        onnx.save(model, str(ext / name))
    # Both graphs' external matrices are the same bytes: keep one file, point both at it.
    first = ext / f"model.onnx.{PRIOR_NAME}"
    first.rename(ext / PRIOR_NAME)
    (ext / f"model_topk.onnx.{PRIOR_NAME}").unlink()
    for name in ("model.onnx", "model_topk.onnx"):
        model = onnx.load(str(ext / name), load_external_data=False)
        for tensor in model.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = PRIOR_NAME
        onnx.save(model, str(ext / name))
    return {"one_file": one, "two_files": two, "external_shared": ext}


def write_manifests(dirs: dict[str, Path], n_items: int) -> None:
    """Make the ``two_files`` (format 2) and ``one_file`` (format 3) layouts complete
    artifacts that any reader loads, with integer item ids ``1..n_items``."""
    from dataclasses import replace

    from seqrec_export.config import graph_specs
    from seqrec_export.manifest import build_manifest
    from seqrec_runtime.artifact import GRAPH_FILES
    from seqrec_trainer.io import sha256_file, write_json

    shared = graph_specs(n_items, 10, True)
    layouts = {"one_file": (shared, 3),
               "two_files": (tuple(replace(s, file=GRAPH_FILES[s.key]) for s in shared), 2)}
    for layout, (specs, version) in layouts.items():
        directory = dirs[layout]
        files = sorted({spec.file for spec in specs})
        manifest = build_manifest(
            seqrec_version="bench", estimator_kind="classifier", opset=18, max_len=MAX_LEN,
            item_ids={"dtype": "int64", "values": list(range(1, n_items + 1))},
            fallback_scores=np.zeros(n_items, np.float32), specs=specs,
            file_hashes={f: sha256_file(directory / f) for f in files}, training={},
            item_prior={"kind": "ease", "weight": 1.0, "l2": 1.0},
        )
        manifest["format_version"] = version
        write_json(directory / "manifest.json", manifest)


def node_rss_mb(directory: Path) -> float:
    """Resident memory the Node example's ``seqrec.load`` adds (after garbage collection)."""
    out = subprocess.run(
        ["node", "--expose-gc", "-e", NODE_LOAD, str(NODE_DIR / "lib" / "seqrec.js"),
         str(directory)], check=True, capture_output=True, text=True, timeout=600,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["node_rss_mb"])


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(layout: str, directory: Path, n_items: int, repeats: int) -> dict:
    """Load ``layout`` from ``directory`` and time it (run in a fresh process)."""
    import onnx
    import onnxruntime as ort

    rss_before = _rss_bytes()
    start = time.perf_counter()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    providers = ["CPUExecutionProvider"]
    if layout == "one_file":
        session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                       providers=providers)
        scores_session = topk_session = session
    elif layout == "two_files":
        scores_session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                              providers=providers)
        topk_session = ort.InferenceSession(str(directory / "model_topk.onnx"), options,
                                            providers=providers)
    else:
        model = onnx.load(str(directory / "model.onnx"), load_external_data=False)
        name = next(t.name for t in model.graph.initializer if t.external_data)
        matrix = np.fromfile(directory / PRIOR_NAME, dtype=np.float32).reshape(n_items, n_items)
        shared = ort.OrtValue.ortvalue_from_numpy(matrix)
        options.add_initializer(name, shared)
        scores_session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                              providers=providers)
        topk_session = ort.InferenceSession(str(directory / "model_topk.onnx"), options,
                                            providers=providers)
    load_s = time.perf_counter() - start
    rss_loaded = _rss_bytes() - rss_before

    rng = np.random.default_rng(0)
    batch = rng.integers(1, n_items + 1, size=(64, MAX_LEN)).astype(np.int64)
    scores_feeds = {"item_seq": batch, "history_items": batch}
    if scores_session is topk_session:
        scores_feeds["exclude_items"] = np.zeros((64, 1), np.int64)
    one = batch[:1]
    topk_feeds = {"item_seq": one, "history_items": one, "exclude_items": one}

    def timed(run) -> tuple[float, float]:
        """Median wall-clock and CPU seconds of one call (CPU time, summed over the
        session's threads, is the steadier of the two on a shared machine)."""
        run()  # warm-up
        wall, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        return statistics.median(wall), statistics.median(cpu)

    batch_s, batch_cpu = timed(lambda: scores_session.run(["scores"], scores_feeds))
    online_s, online_cpu = timed(lambda: topk_session.run(["top_indices"], topk_feeds))
    disk = sum(p.stat().st_size for p in directory.iterdir())
    return {"layout": layout, "disk_mb": disk / 1e6, "load_s": load_s,
            "rss_mb": rss_loaded / 1e6, "batch64_ms": batch_s * 1e3,
            "batch64_cpu_ms": batch_cpu * 1e3, "online_ms": online_s * 1e3,
            "online_cpu_ms": online_cpu * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-items", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--node", action="store_true",
                        help="also measure the Node example's memory after loading")
    parser.add_argument("--write", action="store_true",
                        help=f"write the report to {REPORT.relative_to(REPO)}")
    parser.add_argument("--child", nargs=2, metavar=("LAYOUT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        layout, directory = args.child
        print(json.dumps(measure(layout, Path(directory), args.n_items, args.repeats)))
        return
    with tempfile.TemporaryDirectory(prefix="prior-storage-") as tmp:
        print(f"exporting a {args.n_items}-item EASE prior "
              f"({args.n_items**2 * 4 / 1e6:.0f} MB matrix) ...", flush=True)
        dirs = build_layouts(Path(tmp), args.n_items)
        if args.node:
            write_manifests(dirs, args.n_items)
        runs: dict[str, list[dict]] = {layout: [] for layout in LAYOUTS}
        for round_ in range(args.rounds):
            for layout in LAYOUTS:
                out = subprocess.run(
                    [sys.executable, __file__, "--n-items", str(args.n_items), "--repeats",
                     str(args.repeats), "--child", layout, str(dirs[layout])],
                    check=True, capture_output=True, text=True, timeout=600,
                    env={**os.environ, "OMP_NUM_THREADS": "2"},
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
                if args.node:
                    result["node_rss_mb"] = (node_rss_mb(dirs[layout])
                                             if layout in NODE_LAYOUTS else float("nan"))
                runs[layout].append(result)
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    metrics = ("disk_mb", "load_s", "rss_mb", "batch64_ms", "batch64_cpu_ms", "online_ms",
               "online_cpu_ms") + (("node_rss_mb",) if args.node else ())
    medians = {layout: {m: statistics.median(r[m] for r in rows) for m in metrics}
               for layout, rows in runs.items()}
    base = medians["one_file"]
    print(f"{'layout':16s} " + " ".join(f"{m:>14s}" for m in metrics))
    for layout in LAYOUTS:
        row = medians[layout]
        print(f"{layout:16s} " + " ".join(f"{row[m]:14.3g}" for m in metrics))
        print(f"{'  / one_file':16s} " + " ".join(
            f"{row[m] / base[m]:13.2f}x" if base[m] else f"{'-':>14s}" for m in metrics))
    if args.json:
        args.json.write_text(json.dumps({"n_items": args.n_items, "rounds": args.rounds,
                                         "medians": medians, "runs": runs}, indent=1))
    if args.write:
        write_report(args, metrics, medians)


_HEADER = ("<!-- Written by the benchmark script named below (prior_storage); rerun it instead "
           "of editing by hand. -->\n")


def write_report(args: argparse.Namespace, metrics: tuple[str, ...],
                 medians: dict[str, dict[str, float]]) -> None:
    """Write this catalogue size's medians (and ratios) as one section of the report,
    keeping the sections of other sizes."""
    import onnxruntime as ort

    flags = f"--n-items {args.n_items} --rounds {args.rounds} --repeats {args.repeats}"
    flags += " --node" if args.node else ""
    lines = [
        f"<!-- size {args.n_items} -->",
        f"## Item prior storage, {args.n_items:,} items",
        "",
        f"Command: `python bench/prior_storage.py {flags} --write` — "
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPU cores, "
        f"{platform.machine()}, Python {platform.python_version()}, onnxruntime "
        f"{ort.__version__} (CPU provider, 2 threads). One network with a random "
        f"{args.n_items:,}-item EASE prior ({args.n_items**2 * 4 / 1e6:.0f} MB matrix), each "
        "layout measured in a fresh process, layouts interleaved per round; medians over "
        f"{args.rounds} rounds (calls: median of {args.repeats}). CPU time is summed over "
        "the session's threads.",
        "",
        "| | " + " | ".join(LAYOUTS) + " | two_files / one_file |",
        "|---|" + "---|" * (len(LAYOUTS) + 1),
    ]
    for metric in metrics:
        cells = [f"{medians[layout][metric]:.3g}".replace("nan", "-") for layout in LAYOUTS]
        one, two = medians["one_file"][metric], medians["two_files"][metric]
        lines.append(f"| {_LABELS[metric]} | " + " | ".join(cells)
                     + f" | {two / one:.2f}× |")
    sections = {args.n_items: "\n".join(lines) + "\n"}
    if REPORT.exists():
        for part in REPORT.read_text(encoding="utf-8").split("<!-- size ")[1:]:
            size = int(part.split(" -->", 1)[0])
            sections.setdefault(size, "<!-- size " + part.rstrip("\n") + "\n")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(sections[size] for size in sorted(sections))
    REPORT.write_text(_HEADER + "\n" + body, encoding="utf-8")
    print(f"wrote {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
