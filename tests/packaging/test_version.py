"""One version source: ``runtime/seqrec_runtime/VERSION`` drives both distributions."""

from __future__ import annotations

import importlib.metadata as metadata
import re
from pathlib import Path

import seqrec_runtime
import seqrec_trainer

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "runtime" / "seqrec_runtime" / "VERSION").read_text().strip()


def test_modules_report_the_version_file() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert seqrec_runtime.__version__ == VERSION
    assert seqrec_trainer.__version__ == VERSION


def test_installed_distributions_carry_the_version_file() -> None:
    assert metadata.version("seqrec-runtime") == VERSION
    assert metadata.version("seqrec") == VERSION


def test_no_pyproject_repeats_the_version() -> None:
    for path in (ROOT / "pyproject.toml", ROOT / "runtime" / "pyproject.toml"):
        text = path.read_text()
        assert not re.search(r'^version\s*=\s*"', text, re.M), f"{path} sets a version of its own"
        assert 'dynamic = ["version"' in text


def test_trainer_accepts_the_runtime_of_its_release() -> None:
    requirement = next(r for r in metadata.requires("seqrec") or []
                       if r.startswith("seqrec-runtime"))
    low = re.search(r">=([\d.]+)", requirement)
    high = re.search(r"<([\d.]+)", requirement)
    assert low and high, f"{requirement}: give both bounds"

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    assert key(low.group(1)) <= key(VERSION) < key(high.group(1)), requirement


def test_packages_are_marked_typed() -> None:
    for package in ("runtime/seqrec_runtime", "trainer/seqrec_trainer", "export/seqrec_export"):
        assert (ROOT / package / "py.typed").is_file(), package
