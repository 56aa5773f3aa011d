"""Footprint: installed size, import cost and model load time.

* Installed size. Runtime: a fresh venv with only ``pip install ./runtime`` (size of its
  site-packages, and what the install added to a bare venv). Trainer (distribution
  ``seqrec``) and scikit-rec (``scikit-rec[torch]``, its venv): the files of every
  distribution in the dependency closure (``bench/peers/dist_size.py``; the same method
  applied to the fresh runtime venv matches its folder size).
* Import: wall time and RSS of one ``import`` in a fresh interpreter (measured inside the
  child: ``perf_counter`` around the import, ``VmRSS`` after it; the child's RSS before
  the import is reported as the interpreter's own). One discarded warm-up run, then N.
* Load: ``seqrec_runtime.load(artifact)`` vs the trainer's ``SequentialRecommender.load``
  vs unpickling a scikit-rec recommender (scikit-rec persists by pickle), each in a fresh
  process with the imports done first, plus the first recommendation after loading.

Run: ``python bench/footprint.py [--quick] [--write]``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    MODEL_DIR,
    PEERS,
    RESULTS,
    ROOT,
    build_model,
    bytes_text,
    command_line,
    finish,
    fmt_stat,
    header,
    md_table,
    ml1m_table,
    peer_cmd,
    run_json,
    skrec_python,
    stats,
    suite_parser,
    write_parquet,
)

RUNTIME_VENV = RESULTS / "venv-runtime-only"

IMPORT_PROBE = r"""
import json, sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
before = rss()
t0 = time.perf_counter()
{stmt}
t1 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "rss_before": before, "rss_after": rss()}}))
"""

LOAD_PROBE = {
    "runtime": r"""
import json, time, numpy as np
import seqrec_runtime
t0 = time.perf_counter()
rt = seqrec_runtime.load({artifact!r}, providers=["CPUExecutionProvider"])
t1 = time.perf_counter()
rt.recommend_online(np.asarray({history!r}, dtype=np.int64), top_k=10, exclude_seen=False)
t2 = time.perf_counter()
print(json.dumps({{"load_s": t1 - t0, "first_s": t2 - t1}}))
""",
    "trainer": r"""
import json, time
from seqrec_trainer import SequentialRecommender
t0 = time.perf_counter()
rec = SequentialRecommender.load({model!r})
t1 = time.perf_counter()
h = {history!r}
rec.recommend({{"USER_ID": [1] * len(h), "ITEM_ID": h, "TIMESTAMP": list(range(len(h)))}}, top_k=10,
              exclude_seen=False)
t2 = time.perf_counter()
print(json.dumps({{"load_s": t1 - t0, "first_s": t2 - t1}}))
""",
    "skrec": r"""
import json, pickle, time
import pandas as pd
from skrec.recommender.sequential.sequential_recommender import SequentialRecommender
from skrec.estimator.sequential.sasrec_estimator import SASRecClassifierEstimator
t0 = time.perf_counter()
with open({pickle_path!r}, "rb") as fh:
    rec = pickle.load(fh)
t1 = time.perf_counter()
h = {history!r}
rec.recommend(interactions=pd.DataFrame({{"USER_ID": [1] * len(h), "ITEM_ID": h,
                                          "TIMESTAMP": list(range(len(h)))}}), top_k=10)
t2 = time.perf_counter()
print(json.dumps({{"load_s": t1 - t0, "first_s": t2 - t1}}))
""",
}


def runtime_venv(fresh: bool) -> Path:
    """A venv with only ``pip install ./runtime``; returns its python."""
    python = RUNTIME_VENV / "bin" / "python"
    if fresh or not python.exists():
        shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
        print(f"creating {RUNTIME_VENV.relative_to(ROOT)} (pip install ./runtime) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(RUNTIME_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT / "runtime")],
                       check=True, cwd=RESULTS)
    return python


def sizes(runtime_python: Path) -> dict:
    probe = str(PEERS / "dist_size.py")
    bare = run_json([str(runtime_python), probe, "pip", "setuptools"])
    runtime = run_json([str(runtime_python), probe, "seqrec-runtime"])
    trainer = run_json([sys.executable, probe, "seqrec"])
    skrec = run_json([str(skrec_python()), probe, "scikit-rec[torch]"])
    pip_bytes = sum(r["total_bytes"] for r in bare["roots"].values())
    return {
        "runtime_site_packages_bytes": runtime["site_packages_bytes"],
        "runtime_added_bytes": runtime["site_packages_bytes"] - pip_bytes,
        "runtime_closure": runtime["roots"]["seqrec-runtime"],
        "trainer_closure": trainer["roots"]["seqrec"],
        "skrec_closure": skrec["roots"]["scikit-rec[torch]"],
    }


def imports(runtime_python: Path, runs: int, warm: bool = True) -> dict:
    cases = {
        "python": (runtime_python, "pass", "bare interpreter (`pass`)"),
        "numpy": (runtime_python, "import numpy", "`import numpy`"),
        "onnxruntime": (runtime_python, "import onnxruntime", "`import onnxruntime`"),
        "seqrec_runtime": (runtime_python, "import seqrec_runtime",
                           "`import seqrec_runtime` (runtime-only venv)"),
        "torch": (Path(sys.executable), "import torch", "`import torch`"),
        "seqrec_trainer": (Path(sys.executable), "import seqrec_trainer",
                           "`import seqrec_trainer`"),
        "skrec": (skrec_python(),
                  "from skrec.recommender.sequential.sequential_recommender import "
                  "SequentialRecommender\nfrom skrec.estimator.sequential.sasrec_estimator "
                  "import SASRecClassifierEstimator",
                  "scikit-rec: `SequentialRecommender` + `SASRecClassifierEstimator`"),
    }
    out = {}
    for rep in range(runs + int(warm)):
        for name, (python, stmt, _label) in cases.items():
            res = run_json([str(python), "-c", IMPORT_PROBE.format(stmt=stmt)], cwd=RESULTS)
            if rep or not warm:  # the first round warms the file cache
                out.setdefault(name, []).append(res)
    return {"labels": {k: v[2] for k, v in cases.items()}, "runs": out}


def loads(runtime_python: Path, meta: dict, runs: int, history: list[int],
          warm: bool = True) -> dict:
    pickle_path = MODEL_DIR / "skrec_recommender.pkl"
    if not pickle_path.exists():
        table, _ = ml1m_table()
        data = write_parquet(table, RESULTS / "cache" / "ml1m.parquet")
        run_json(peer_cmd("skrec_infer.py", "--data", str(data), "--rounds", "1", "--calls",
                          "1", "--repeats", "1", "--batch-users", "10", "--save-pickle",
                          str(pickle_path)))
    fmt = {"artifact": meta["artifact_dir"], "model": meta["model_dir"],
           "pickle_path": str(pickle_path), "history": history}
    pythons = {"runtime": runtime_python, "trainer": Path(sys.executable),
               "skrec": skrec_python()}
    out = {}
    for rep in range(runs + int(warm)):
        for name, probe in LOAD_PROBE.items():
            res = run_json([str(pythons[name]), "-c", probe.format(**fmt)], cwd=RESULTS)
            if rep or not warm:
                out.setdefault(name, []).append(res)
    sizes_on_disk = {
        "runtime": sum(p.stat().st_size for p in Path(meta["artifact_dir"]).iterdir()),
        "trainer": sum(p.stat().st_size for p in Path(meta["model_dir"]).iterdir()),
        "skrec": pickle_path.stat().st_size,
    }
    return {"runs": out, "bytes": sizes_on_disk}


def render(res: dict, command: str, quick: bool, runs: int) -> str:
    sz = res["sizes"]
    lines = header("Footprint: install size, import, model load", command, quick,
                   f"Import and load: median (min–max) of {runs} fresh processes"
                   + (" (no warm-up)." if quick else " after one discarded warm-up."))
    lines += ["", "### Installed size", ""]

    def top(closure: dict, n: int = 5) -> str:
        return ", ".join(f"{k} {bytes_text(v)}" for k, v in list(closure["dists"].items())[:n])

    rows = [
        ["seqrec-runtime (fresh venv, `pip install ./runtime`)",
         f"{bytes_text(sz['runtime_added_bytes'])} added "
         f"({bytes_text(sz['runtime_site_packages_bytes'])} site-packages incl. pip/setuptools)",
         len(sz["runtime_closure"]["dists"]), top(sz["runtime_closure"])],
        ["seqrec trainer + export (distribution `seqrec`, dependency closure)",
         bytes_text(sz["trainer_closure"]["total_bytes"]), len(sz["trainer_closure"]["dists"]),
         top(sz["trainer_closure"])],
        ["scikit-rec 0.4.2 `[torch]` (dependency closure)",
         bytes_text(sz["skrec_closure"]["total_bytes"]), len(sz["skrec_closure"]["dists"]),
         top(sz["skrec_closure"])],
    ]
    rt_bytes = sz["runtime_added_bytes"]
    for row, total in zip(rows, [rt_bytes, sz["trainer_closure"]["total_bytes"],
                                 sz["skrec_closure"]["total_bytes"]], strict=True):
        row.insert(2, f"{total / rt_bytes:.1f}×")
    lines += md_table(["what", "installed", "× runtime", "distributions", "largest"], rows)

    imp = res["imports"]
    lines += ["", "### Import in a fresh interpreter", ""]
    rows = []
    rt_import = stats([r["import_s"] for r in imp["runs"]["seqrec_runtime"]])["median"]
    for name, label in imp["labels"].items():
        runs_ = imp["runs"][name]
        t = stats([r["import_s"] for r in runs_])
        after = stats([r["rss_after"] for r in runs_])
        delta = stats([r["rss_after"] - r["rss_before"] for r in runs_])
        rows.append([label, fmt_stat(t, 1e3), f"{t['median'] / rt_import:.1f}×"
                     if name not in ("python", "numpy", "onnxruntime") else "—",
                     bytes_text(after["median"]), bytes_text(delta["median"])])
    lines += md_table(["import", "time [ms]", "× seqrec_runtime", "RSS after", "RSS added"],
                      rows)

    ld = res["loads"]
    lines += ["", "### Loading the ML-1M-sized model (3,416 items, max_len 200)", ""]
    labels = {"runtime": "`seqrec_runtime.load(artifact)` (verifies sha256, 2 ORT sessions)",
              "trainer": "trainer `SequentialRecommender.load(model_dir)`",
              "skrec": "scikit-rec: `pickle.load` of the trained recommender"}
    rt_load = stats([r["load_s"] for r in ld["runs"]["runtime"]])["median"]
    rows = []
    for name, label in labels.items():
        runs_ = ld["runs"][name]
        t = stats([r["load_s"] for r in runs_])
        first = stats([r["first_s"] for r in runs_])
        rows.append([label, bytes_text(ld["bytes"][name]), fmt_stat(t, 1e3),
                     f"{t['median'] / rt_load:.1f}×", fmt_stat(first, 1e3)])
    lines += md_table(["load", "on disk", "load [ms]", "× runtime", "first recommendation [ms]"],
                      rows)
    lines += ["", "First recommendation: one user, 200-item history, top-10 "
              "(`recommend_online` for the runtime, `recommend` otherwise)."]
    return "\n".join(lines)


def main() -> int:
    parser = suite_parser(
        __doc__, "1 run, no warm-up; reuse the runtime-only venv and cached model"
    )
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 7)
    write = args.write or not (quick or args.no_write)
    RESULTS.mkdir(parents=True, exist_ok=True)
    runtime_python = runtime_venv(fresh=not quick)
    meta = build_model(rebuild=False)
    table, _ = ml1m_table()
    import numpy as np

    user = table["USER_ID"] == np.unique(table["USER_ID"])[0]
    history = [int(x) for x in table["ITEM_ID"][user][-200:]]
    res = {"sizes": sizes(runtime_python), "imports": imports(runtime_python, runs, not quick),
           "loads": loads(runtime_python, meta, runs, history, not quick)}
    command = command_line("footprint.py", sys.argv[1:])
    body = render(res, command, quick, runs)
    finish("footprint", quick, write, body, {**res, "model": meta})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
