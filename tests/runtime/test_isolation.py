"""seqrec-runtime needs only numpy + onnxruntime: prove it in a fresh venv.

* In any run: importing (and using) ``seqrec_runtime`` imports none of torch, pandas,
  pyarrow, onnx, seqrec_trainer, seqrec_export.
* ``test_runtime_suite_in_isolated_venv`` creates a venv in a temporary directory,
  ``pip install``s ``./runtime[test]`` only (pytest and hypothesis; pip's cache makes reruns
  fast), and runs
  this suite there with ``SEQREC_RUNTIME_ISOLATED=1``. It builds the fake artifacts here
  (with onnx) and hands their directories over, so nearly the whole suite runs there;
  only tests needing onnx/pandas/pyarrow themselves skip. ``--confcutdir`` keeps pytest
  from loading ``tests/conftest.py``, which needs the trainer.
* Inside that run, ``test_isolated_venv_lacks_heavy_packages`` checks the venv really
  lacks them, and the venv test itself is skipped (no recursion).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_fakes import ISOLATED_ENV, PREBUILT_ENV, PREBUILT_STRING_ENV, isolated

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "pandas", "pyarrow", "onnx", "seqrec_trainer", "seqrec_export",
         "pyspark", "ray")  # the engines are optional extras, imported lazily

_CHECK_IMPORTS = """
import json, sys, warnings
import seqrec_runtime
if len(sys.argv) > 1:  # also exercise a real load + inference
    warnings.simplefilter("ignore")
    rt = seqrec_runtime.load(sys.argv[1])
    rt.recommend_online(list(rt.item_ids_[:3]), top_k=3)
    rt.recommend({"USER_ID": [1, 1], "ITEM_ID": rt.item_ids_[:2], "TIMESTAMP": [0, 1]},
                 top_k=3, sampling_temperature=1.0, random_state=0)
heavy = %r
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
"""


def _imported_heavy_modules(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _CHECK_IMPORTS % (HEAVY,), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_does_not_pull_heavy_modules():
    assert _imported_heavy_modules() == []


def test_engine_modules_import_no_engine():
    """seqrec_runtime.spark / .ray / .cli import pyspark, ray and pyarrow only when used."""
    code = ("import json, sys; import seqrec_runtime.spark, seqrec_runtime.ray, "
            "seqrec_runtime.cli; print(json.dumps(sorted({m.split('.')[0] for m in "
            f"sys.modules}} & set({HEAVY!r}))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_loading_and_inference_do_not_pull_heavy_modules(request):
    golden = Path(__file__).parent / "golden"
    if (golden / "manifest.json").is_file():
        artifact = golden
    else:
        pytest.importorskip("onnx", reason="no golden artifact, and onnx is needed for a fake")
        artifact = request.getfixturevalue("fake_artifact")
    assert _imported_heavy_modules(str(artifact)) == []


@pytest.mark.skipif(not isolated(), reason="only meaningful inside the isolated venv run")
def test_isolated_venv_lacks_heavy_packages():
    for name in HEAVY:
        assert importlib.util.find_spec(name) is None, f"{name} is importable in the venv"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(cmd: list, timeout: int, **kwargs) -> str:
    result = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{output[-6000:]}"
    return output


@pytest.mark.slow
@pytest.mark.skipif(isolated(), reason="already running inside the isolated venv")
def test_runtime_suite_in_isolated_venv(tmp_path, request):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_NO_CACHE_DIR")}
    env.update(PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120, env=env)
    python = _venv_python(venv)
    # build from a copy so that no build/ or *.egg-info lands in the work tree
    source = shutil.copytree(
        ROOT / "runtime",
        tmp_path / "runtime",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    _run([python, "-m", "pip", "install", "-q", f"{source}[test]"], timeout=600, env=env)

    env[ISOLATED_ENV] = "1"
    if importlib.util.find_spec("onnx") is not None:
        env[PREBUILT_ENV] = str(request.getfixturevalue("fake_artifact"))
        env[PREBUILT_STRING_ENV] = str(request.getfixturevalue("fake_string_artifact"))
    tests = ROOT / "tests" / "runtime"
    output = _run(
        [python, "-m", "pytest", tests, "-p", "no:cacheprovider", "--confcutdir", tests,
         "-q", "-rA"],
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert " passed" in output, output[-3000:]
    assert "PASSED tests/runtime/test_isolation.py::test_isolated_venv_lacks_heavy_packages" in (
        output
    ), output[-3000:]
