"""Run the speed and footprint suites; each writes its report to docs/benchmarks/<suite>.md.

``python bench/run_all.py``            full suite (~30-45 min on 2 cores), writes the reports
``python bench/run_all.py --quick``    smoke test (< 3 min), prints only (add ``--write``
                                       to store the quick numbers, clearly marked)
``--only a,b`` / ``--skip a,b``        choose suites (names below)

Each suite runs in its own process so that one failure does not stop the others; the
exit status is non-zero when any suite failed. The scikit-rec venv
(``bench/.venvs/skrec``) is created first when missing. The quality benchmark
(``bench/quality_ml1m.py``) is separate: ``make bench-quality``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, skrec_python  # noqa: E402

# inference before footprint/scaling: it (re)builds the shared ML-1M-sized model they reuse
SUITES = ["sequence_building", "train_throughput", "preset_step", "inference", "footprint",
          "scaling", "item_prior_scale", "service_load", "batch_engines"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1-2 repeats")
    parser.add_argument("--write", action="store_true",
                        help="with --quick: also write the (marked) quick sections")
    parser.add_argument("--only", default="", help=f"comma list of {SUITES}")
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    only = [s for s in args.only.split(",") if s]
    skip = {s for s in args.skip.split(",") if s}
    unknown = (set(only) | skip) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {sorted(unknown)}; choose from {SUITES}")
    suites = [s for s in SUITES if (not only or s in only) and s not in skip]

    skrec_python()  # create the peer venv up front (pinned torch + scikit-rec)
    summary = []
    started_all = time.perf_counter()
    for suite in suites:
        cmd = [sys.executable, str(ROOT / "bench" / f"{suite}.py")]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--write"] if args.write else []
        print(f"\n===== {suite}: {' '.join(cmd[1:])}", flush=True)
        started = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        summary.append((suite, rc, time.perf_counter() - started))
    print("\n===== summary")
    for suite, rc, seconds in summary:
        print(f"{suite:<20} {'ok' if rc == 0 else f'FAILED (exit {rc})':<16} {seconds:7.1f} s")
    print(f"{'total':<20} {'':<16} {time.perf_counter() - started_all:7.1f} s")
    return 0 if all(rc == 0 for _, rc, _ in summary) else 1


if __name__ == "__main__":
    raise SystemExit(main())
