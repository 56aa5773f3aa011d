"""Helpers of the speed/footprint suites (on top of ``common.py``).

Child processes, peak memory (from ``peers/_peerlib.py``), the scikit-rec peer venv, the
ML-1M table, the shared ML-1M-sized model/artifact, result files and Markdown rendering.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ML1M, ROOT, machine, median_range, today, write_section

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from _peerlib import PeakMemory, emit, make_interactions, peak_bytes, rss_bytes  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PEERS = BENCH / "peers"
SKREC_VENV = BENCH / ".venvs" / "skrec"
SKREC_PYTHON = SKREC_VENV / "bin" / "python"
SKREC_PIP_SPECS = ["torch==2.13.0", "scikit-rec==0.4.2"]
MODEL_DIR = RESULTS / "ml1m_model"


# --------------------------------------------------------------------------- run metadata
def command_line(script: str, argv: list[str]) -> str:
    """The exact command that reproduces a section (``--write``/``--no-write`` dropped)."""
    args = [shlex.quote(a) for a in argv if a not in ("--write", "--no-write")]
    return " ".join(["python", f"bench/{script}", *args]).strip()


def header(title: str, command: str, quick: bool, extra: str = "") -> list[str]:
    """Title, command, date and machine line of a BENCHMARKS.md section."""
    lines = [f"## {title}", ""]
    if quick:
        lines += ["**QUICK SMOKE RUN: tiny sizes, 1-2 repeats, noisy. Not for citation.**", ""]
    lines.append(f"Command: `{command}` — {today()}, {machine()} ({hardware()}), "
                 f"{load_text()}." + (f" {extra}" if extra else ""))
    return lines


def hardware() -> str:
    """CPU model and RAM (Linux; empty parts elsewhere)."""
    parts = []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh
                          if ln.startswith("model name")), "")
        if model:
            parts.append(model)
        with open("/proc/meminfo", encoding="ascii") as fh:
            kib = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal:"))
        parts.append(f"{kib / 2**20:.0f} GiB RAM")
    except (OSError, StopIteration, ValueError):
        pass
    return ", ".join(parts) or "hardware unknown"


def load_text() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"load average {one:.1f} / {five:.1f} (1 / 5 min) at the end"
    except OSError:  # pragma: no cover
        return "load average unknown"


def finish(name: str, quick: bool, write: bool, body: str, data: dict) -> None:
    """Save the JSON, print the section, and write it into BENCHMARKS.md when asked."""
    data = {"suite": name, "quick": quick, "date": today(), "machine": machine(),
            "python": platform.python_version(), **data}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'.quick' if quick else ''}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    print(body)
    print(f"\n[results: {path.relative_to(ROOT)}]")
    if write:
        write_section(name, body)
        print(f"[BENCHMARKS.md section {name!r} updated]")
    else:
        print("[BENCHMARKS.md not touched (--quick or --no-write); pass --write to store]")


# --------------------------------------------------------------------------- formatting
def stats(values: list[float]) -> dict:
    med, lo, hi = median_range(values)
    return {"median": med, "min": lo, "max": hi, "n": len(values), "values": values}


def fmt_num(value: float, digits: int = 3) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def fmt_stat(s: dict, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
    """``median (min–max)``; a single run prints only its value."""
    med = f"{fmt_num(s['median'] * scale, digits)}{unit}"
    if s.get("n", 2) < 2:
        return med
    return (f"{med} ({fmt_num(s['min'] * scale, digits)}–"
            f"{fmt_num(s['max'] * scale, digits)})")


def ratio(value: float, reference: float) -> float:
    return value / reference if reference else float("nan")


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}×" if value == value else "n/a"


def md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def bytes_text(n: float) -> str:
    if n != n:  # NaN: not measured
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


# --------------------------------------------------------------------------- processes
def run_json(cmd: list[str], timeout: float | None = None, env: dict | None = None,
             cwd: Path = ROOT) -> dict:
    """Run a child that prints one JSON object as its last stdout line; return it."""
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONHASHSEED", "0")
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(
            f"child failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(
            f"child printed no JSON: {cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    out = json.loads(lines[-1])
    out.setdefault("_child_wall_s", time.perf_counter() - started)
    return out


# --------------------------------------------------------------------------- scikit-rec venv
def skrec_python(create: bool = True) -> Path:
    """The peer venv's python; create it (pinned torch + scikit-rec) when missing."""
    if SKREC_PYTHON.exists():
        return SKREC_PYTHON
    if not create:
        raise FileNotFoundError(SKREC_PYTHON)
    print(f"creating the scikit-rec venv at {SKREC_VENV.relative_to(ROOT)} "
          f"({' '.join(SKREC_PIP_SPECS)}) ...", flush=True)
    SKREC_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(SKREC_VENV)], check=True)
    subprocess.run([str(SKREC_VENV / "bin" / "pip"), "install", "-q", *SKREC_PIP_SPECS],
                   check=True)
    return SKREC_PYTHON


def peer_cmd(script: str, *args: str) -> list[str]:
    return [str(skrec_python()), str(PEERS / script), *args]


# --------------------------------------------------------------------------- data
def ml1m_table(max_users: int | None = None) -> tuple[dict, str]:
    """ML-1M as a dict of numpy columns (USER_ID, ITEM_ID, TIMESTAMP, OUTCOME=1) and its source.

    Falls back to a same-sized synthetic table (6,040 users, 3,416 items, ~1M rows) when
    ``../shared/data`` is absent. ``max_users`` keeps the first users (quick runs).
    """
    import numpy as np

    if ML1M.exists():
        from seqrec_trainer.evaluation import load_sasrec_txt

        table = load_sasrec_txt(ML1M)
        source = "MovieLens-1M (`ml-1m.txt.gz`, 999,611 rows, TIMESTAMP = position in the user)"
    else:
        from seqrec_trainer.datasets import make_sequential_interactions

        table = make_sequential_interactions(n_users=6040, n_items=3416, min_length=20,
                                             max_length=311, random_state=0)
        source = (f"SYNTHETIC stand-in (ML-1M not found at {ML1M}): "
                  "`make_sequential_interactions(6040 users, 3416 items, 20-311 rows/user)`")
    table = {k: np.asarray(v) for k, v in table.items() if k in ("USER_ID", "ITEM_ID", "TIMESTAMP")}
    table["OUTCOME"] = np.ones(len(table["USER_ID"]), dtype=np.float32)
    if max_users is not None:
        keep = np.unique(table["USER_ID"])[:max_users]
        mask = np.isin(table["USER_ID"], keep)
        table = {k: v[mask] for k, v in table.items()}
        source += f"; first {max_users} users only ({int(mask.sum()):,} rows)"
    return table, source


def write_parquet(table: dict, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(table), path)
    return path


# --------------------------------------------------------------------------- shared model
MODEL_CONFIG = {"max_len": 200, "hidden_units": 50, "num_blocks": 2, "num_heads": 1,
                "dropout_rate": 0.2, "batch_size": 128, "epochs": 1, "sample_users": 300}


def build_model(rebuild: bool = False) -> dict:
    """Train (1 epoch on 300 users, full ML-1M item catalogue), save and export once.

    Returns ``meta`` with ``model_dir``, ``artifact_dir`` and how the weights were made.
    The weights are close to random: scores do not matter for speed.
    """
    import numpy as np

    meta_path = MODEL_DIR / "meta.json"
    if not rebuild and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("config") == MODEL_CONFIG and _loads(meta):
            return meta
    from seqrec_export import export_onnx
    from seqrec_trainer import (
        InteractionsDataset,
        ItemsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )

    table, source = ml1m_table()
    users = np.unique(table["USER_ID"])
    rng = np.random.default_rng(0)
    sample = rng.choice(users, size=MODEL_CONFIG["sample_users"], replace=False)
    mask = np.isin(table["USER_ID"], sample)
    subset = {k: v[mask] for k, v in table.items()}
    cfg = MODEL_CONFIG
    estimator = SASRecClassifierEstimator(
        hidden_units=cfg["hidden_units"], num_blocks=cfg["num_blocks"], num_heads=cfg["num_heads"],
        dropout_rate=cfg["dropout_rate"], max_len=cfg["max_len"], batch_size=cfg["batch_size"],
        epochs=cfg["epochs"], random_state=0,
    )
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=cfg["max_len"])
    started = time.perf_counter()
    recommender.train(items_ds=ItemsDataset({"ITEM_ID": np.unique(table["ITEM_ID"])}),
                      interactions_ds=InteractionsDataset(subset))
    train_s = time.perf_counter() - started
    model_dir, artifact_dir = MODEL_DIR / "model", MODEL_DIR / "artifact"
    recommender.save(model_dir)
    started = time.perf_counter()
    export_onnx(recommender, artifact_dir)
    export_s = time.perf_counter() - started
    meta = {
        "config": MODEL_CONFIG,
        "data": source,
        "n_items": int(len(recommender.item_ids_)),
        "weights": (f"trained {cfg['epochs']} epoch on {cfg['sample_users']} random users "
                    "(item vocabulary = all ML-1M items): near-random weights; speed does not "
                    "depend on them"),
        "train_s": round(train_s, 2),
        "export_s": round(export_s, 2),
        "model_dir": str(model_dir),
        "artifact_dir": str(artifact_dir),
        "opset": json.loads((artifact_dir / "manifest.json").read_text())["opset"],
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def _loads(meta: dict) -> bool:
    """Whether the cached model and artifact still load with the current code."""
    try:
        import seqrec_runtime
        from seqrec_trainer import SequentialRecommender

        seqrec_runtime.load(meta["artifact_dir"], providers=["CPUExecutionProvider"])
        SequentialRecommender.load(meta["model_dir"])
        return True
    except Exception as exc:  # any failure: rebuild
        print(f"cached model unusable ({type(exc).__name__}: {exc}); rebuilding", flush=True)
        return False


def median(values: list[float]) -> float:
    return statistics.median(values)


__all__ = [
    "ML1M", "ROOT", "RESULTS", "PEERS", "MODEL_DIR", "PeakMemory", "build_model", "bytes_text",
    "command_line", "emit", "finish", "fmt_num", "fmt_ratio", "fmt_stat", "header",
    "make_interactions", "md_table", "median", "ml1m_table", "peak_bytes", "peer_cmd",
    "percentile", "ratio", "rss_bytes", "run_json", "skrec_python", "stats", "write_parquet",
]


def suite_parser(description: str | None, quick_help: str) -> argparse.ArgumentParser:
    """The argument parser every suite starts from: ``--quick``, ``--write``, ``--no-write``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--write", action="store_true",
                        help="write the BENCHMARKS.md section (default unless --quick)")
    parser.add_argument("--no-write", action="store_true",
                        help="do not touch BENCHMARKS.md (JSON and stdout only)")
    return parser
