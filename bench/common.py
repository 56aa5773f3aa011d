"""Helpers shared by every benchmark script (and by the peer scripts in ``peers/``).

Timing and statistics, peak memory, child processes, the scikit-rec peer venv, data
(ML-1M or synthetic stand-ins), the shared ML-1M-sized model and Markdown rendering.
Benchmark sections are written to ``docs/benchmarks/<name>.md``; BENCHMARKS.md keeps the
headline figures and links to them. Top-level imports are stdlib and numpy only, because the
peer scripts import this module from the scikit-rec venv too (no seqrec, pandas or torch).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
ML1M = SHARED_DATA / "ml-1m" / "ml-1m.txt.gz"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
SECTIONS_DIR = ROOT / "docs" / "benchmarks"


def ml1m_missing() -> bool:
    """True (after printing a SKIP line) when the ML-1M research file is absent."""
    if ML1M.exists():
        return False
    print(f"SKIP: {ML1M} not found (../shared/data is research data, absent on fresh clones)")
    return True


def machine() -> str:
    """One line describing where the numbers come from."""
    return (
        f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def today() -> str:
    return dt.date.today().isoformat()


def timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Wall seconds of one call, and its result."""
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def median_range(values: list[float]) -> tuple[float, float, float]:
    """Median, min and max."""
    return statistics.median(values), min(values), max(values)


def write_section(name: str, body: str) -> Path:
    """Write one benchmark's full report to ``docs/benchmarks/<name>.md`` (replacing it).

    BENCHMARKS.md holds the headline figures and links to these files; a script never
    edits BENCHMARKS.md itself, so the hand-kept summary there stays short.
    """
    path = SECTIONS_DIR / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    note = (f"<!-- Written by the benchmark script named below ({name}); rerun it instead of "
            "editing by hand. -->\n\n")
    path.write_text(note + body.rstrip() + "\n", encoding="utf-8")
    return path


def emit(obj: dict) -> None:
    """Print the child's result as the last stdout line (read by ``run_json``)."""
    sys.stdout.write("\n" + json.dumps(obj, default=float) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- memory (Linux)
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return _ru_maxrss() if kib is None else kib * 1024


def peak_bytes() -> int:
    kib = _status_kib("VmHWM")
    return _ru_maxrss() if kib is None else kib * 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) via /proc/self/clear_refs; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """``with PeakMemory() as m: work()`` -> ``m.extra``: peak RSS in the block minus RSS before.

    ``m.exact`` is False where the peak counter could not be reset (then the peak may
    include earlier allocations of the process: an upper bound).
    """

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self.exact = reset_peak()
        self.before = rss_bytes()
        return self

    def __exit__(self, *exc) -> None:
        self.peak = peak_bytes()
        self.extra = max(0, self.peak - self.before)


# --------------------------------------------------------------------------- data
def make_interactions(n_rows: int, ids: str = "int", seed: int = 0) -> dict[str, np.ndarray]:
    """Random interaction rows for the sequence-building benchmark.

    ``n_rows // 100`` users (skewed: ~6 % have more than 200 rows, the largest has tens of
    thousands), ``max(1000, n_rows // 200)`` items (popularity-skewed), sparse ids,
    TIMESTAMP in unix seconds at day resolution over ~3 years (many equal timestamps
    within a user). ``ids="str"`` gives ``"user-0000123"`` / ``"item-000045"`` strings.
    Rows are in random order.
    """
    rng = np.random.default_rng(seed)
    n_users = max(1, n_rows // 100)
    n_items = max(1000, n_rows // 200)
    user_pos = (n_users * rng.random(n_rows) ** 2).astype(np.int64)
    item_pos = (n_items * rng.random(n_rows) ** 3).astype(np.int64)
    user_ids = rng.permutation(n_users).astype(np.int64) * 7 + 1000
    item_ids = rng.permutation(n_items).astype(np.int64) * 3 + 10
    if ids == "str":
        user_ids = np.array([f"user-{k:07d}" for k in user_ids])
        item_ids = np.array([f"item-{k:06d}" for k in item_ids])
    elif ids != "int":
        raise ValueError(ids)
    days = rng.integers(0, 1100, n_rows)
    return {
        "USER_ID": user_ids[user_pos],
        "ITEM_ID": item_ids[item_pos],
        "TIMESTAMP": 1_600_000_000 + days * 86_400,
    }


# --------------------------------------------------------------------------- epoch timing
class ShuffleClock:
    """Timestamps of each call of ``np.random.shuffle`` (scikit-rec shuffles once per epoch).

    Installed as a thin wrapper around numpy's function; it only records the time and
    calls the original.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self._original = np.random.shuffle

    def __enter__(self) -> ShuffleClock:
        original = self._original

        def shuffle(x):
            self.times.append(time.perf_counter())
            return original(x)

        np.random.shuffle = shuffle
        return self

    def __exit__(self, *exc) -> None:
        np.random.shuffle = self._original


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
    """Save the JSON, print the section, and write it to docs/benchmarks when asked."""
    data = {"suite": name, "quick": quick, "date": today(), "machine": machine(),
            "python": platform.python_version(), **data}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'.quick' if quick else ''}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    print(body)
    print(f"\n[results: {path.relative_to(ROOT)}]")
    if write:
        written = write_section(name, body)
        print(f"[{written.relative_to(ROOT)} updated]")
    else:
        print("[docs/benchmarks not touched (--quick or --no-write); pass --write to store]")


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


def suite_parser(description: str | None, quick_help: str) -> argparse.ArgumentParser:
    """The argument parser every suite starts from: ``--quick``, ``--write``, ``--no-write``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--write", action="store_true",
                        help="write docs/benchmarks/<suite>.md (default unless --quick)")
    parser.add_argument("--no-write", action="store_true",
                        help="do not write docs/benchmarks (JSON and stdout only)")
    return parser
