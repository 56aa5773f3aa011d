"""Packaging metadata: one license, written the way current build tools expect it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("project", ["pyproject.toml", "runtime/pyproject.toml"])
def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it(project):
    """A license table (``{text = ...}``) makes setuptools >= 77 print a deprecation
    banner on every install; the SPDX string needs setuptools >= 77."""
    tomllib = pytest.importorskip("tomllib")
    doc = tomllib.loads((ROOT / project).read_text(encoding="utf-8"))
    assert doc["project"]["license"] == "Apache-2.0"
    requires = doc["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=") and
               int(r.split(">=")[1].split(".")[0]) >= 77 for r in requires), requires
    assert (ROOT / project).parent.joinpath("LICENSE").is_file()


def test_the_node_example_has_the_project_license():
    package = json.loads((ROOT / "examples/node/package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "examples/node/package-lock.json").read_text(encoding="utf-8"))
    assert package["license"] == lock["packages"][""]["license"] == "Apache-2.0"
