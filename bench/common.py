"""Helpers shared by the benchmark scripts (timing, data location, BENCHMARKS.md sections)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
ML1M = SHARED_DATA / "ml-1m" / "ml-1m.txt.gz"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


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


def write_section(name: str, body: str) -> None:
    """Replace (or append) the ``<!-- name -->`` section of BENCHMARKS.md."""
    start, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    text = (
        BENCHMARKS_MD.read_text(encoding="utf-8")
        if BENCHMARKS_MD.exists()
        else "# seqrec benchmarks\n\nEvery number below is written by the script named in "
        "its section.\n"
    )
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    BENCHMARKS_MD.write_text(text, encoding="utf-8")
