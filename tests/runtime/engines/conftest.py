"""Session-wide Spark and Ray fixtures, data and artifacts for the engine tests.

One ``local[2]`` SparkSession (UI off, loopback bind, 4 shuffle partitions) and one
``ray.init(num_cpus=2)`` serve the whole test session; each skips with the reason when
its extra (``seqrec-runtime[spark]`` / ``[ray]``) or, for Spark, Java is missing.
Every model load of a worker process is logged to a session file (``load_log``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for ``import engine_helpers``

import runtime_fakes  # noqa: E402
from engine_helpers import ML_ITEMS  # noqa: E402
from seqrec_runtime.runtime_cache import LOAD_LOG_ENV  # noqa: E402


@pytest.fixture(scope="session")
def load_log(tmp_path_factory) -> Path:
    """File where worker processes log each model load (set before engines start)."""
    path = tmp_path_factory.mktemp("loads") / "loads.tsv"
    path.touch()
    os.environ[LOAD_LOG_ENV] = str(path)
    return path


def _java_problem() -> str | None:
    java = shutil.which("java", path=os.path.join(os.environ.get("JAVA_HOME", ""), "bin"))
    java = java or shutil.which("java")
    if java is None:
        return "Spark needs Java 17+: no java on PATH or in JAVA_HOME"
    version = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    text = version.stderr + version.stdout
    for token in text.replace('"', " ").split():
        if token[:1].isdigit():
            major = int(token.split(".")[0])
            return None if major >= 17 else f"Spark 4 needs Java 17+, found {token}"
    return f"cannot read the Java version from: {text[:200]!r}"


@pytest.fixture(scope="session")
def spark(load_log):
    """The test session's SparkSession: local[2], UI off, bound to 127.0.0.1."""
    pytest.importorskip("pyspark", reason="pyspark missing: pip install 'seqrec-runtime[spark]'")
    pytest.importorskip("pandas", reason="PySpark's Arrow UDFs need pandas >= 2.2")
    problem = _java_problem()
    if problem:
        pytest.skip(problem)
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers: this venv's interpreter
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("seqrec-runtime-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ray_session(load_log):
    """``ray.init(num_cpus=2, include_dashboard=False)`` once per test session."""
    pytest.importorskip("ray.data", reason="ray missing: pip install 'seqrec-runtime[ray]'")
    import ray
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ml_artifact(tmp_path_factory) -> Path:
    """A fake artifact over MovieLens-1M's movie ids 1..3952 (exact scores, max_len 50)."""
    pytest.importorskip("onnx", reason="onnx is needed to build the fake artifact")
    emb = runtime_fakes.make_embeddings(ML_ITEMS, dim=8, seed=3)
    fallback = np.round(np.random.default_rng(2).random(ML_ITEMS), 2).astype(np.float32)
    return runtime_fakes.write_artifact(
        tmp_path_factory.mktemp("ml") / "artifact", list(range(1, ML_ITEMS + 1)), emb,
        fallback, max_len=50, k=20,
    )
