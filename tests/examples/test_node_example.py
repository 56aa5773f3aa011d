"""The Node.js example (``examples/node``) against the golden artifact and the Python runtime.

It rebuilds model inputs from raw rows in JavaScript and runs the artifact's graphs with
onnxruntime-node; here we check that it reproduces the trainer's golden recommendations
and the Python runtime's. Skipped when ``node``/``npm`` are not on PATH, or when the npm
registry cannot be reached to install ``onnxruntime-node`` (installed once, with
``npm ci``, into ``examples/node/node_modules``).

Rankings are compared as in ``tests/runtime/test_runtime_golden.py``: through the
reference scores of the items at each rank, so float near-ties may swap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import seqrec_runtime
from seqrec_runtime import ColdUserWarning

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "examples" / "node"
CLI = NODE_DIR / "recommend.js"
GOLDEN = ROOT / "tests" / "runtime" / "golden"
EXPECTED = ROOT / "tests" / "runtime" / "golden_expected.json"
ATOL = 1e-4  # as in test_runtime_golden.py: expected scores are rounded to 6 decimals
NODE = shutil.which("node")
NPM = shutil.which("npm")
# npm errors that mean "the registry cannot be reached" (skip), not "the install is broken".
OFFLINE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
    r"network|socket hang up|proxy|certificate|offline",
    re.IGNORECASE,
)

pytestmark = [
    pytest.mark.skipif(
        NODE is None or NPM is None,
        reason="node and npm are not on PATH; install Node.js >= 18 to test examples/node",
    ),
    pytest.mark.skipif(
        not (GOLDEN / "manifest.json").is_file() or not EXPECTED.is_file(),
        reason="no golden artifact / golden_expected.json: generate them with `make golden`",
    ),
]


def _ort_loads() -> bool:
    probe = subprocess.run(
        [NODE, "-e", "require('onnxruntime-node')"], cwd=NODE_DIR, capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


@contextlib.contextmanager
def _install_lock():
    """Serialise installs: two concurrent `npm ci` in one folder break each other."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    digest = hashlib.sha256(str(NODE_DIR).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"seqrec-node-example-{digest}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def node_ready() -> None:
    """Install examples/node's dependencies (pinned by package-lock.json) when missing."""
    with _install_lock():
        if not _ort_loads():
            _npm_install()


def _npm_install() -> None:
    command = [NPM, "ci" if (NODE_DIR / "package-lock.json").is_file() else "install",
               "--no-audit", "--no-fund", "--loglevel=error"]
    # onnxruntime-node's postinstall would otherwise try to download CUDA libraries.
    env = {**os.environ, "ONNXRUNTIME_NODE_INSTALL_CUDA": "skip"}
    try:
        proc = subprocess.run(command, cwd=NODE_DIR, env=env, capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip(f"`npm {command[1]}` in {NODE_DIR} timed out (npm registry unreachable?)")
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        if OFFLINE.search(output):
            summary = [line for line in output.splitlines()
                       if re.search(r"error code |FetchError|request to ", line)][:2]
            pytest.skip("npm registry unreachable, cannot install onnxruntime-node for "
                        f"examples/node: {' | '.join(summary) or output[-400:]}")
        pytest.fail(f"`npm {command[1]}` failed in {NODE_DIR}:\n{output}")
    assert _ort_loads(), f"onnxruntime-node does not load after `npm ci`:\n{output}"


def run_cli(artifact: Path, rows: Path, *args: str, check: bool = True):
    proc = subprocess.run(
        [NODE, str(CLI), str(artifact), str(rows), *args], capture_output=True, text=True,
        timeout=60,
    )
    if not check:
        return proc
    assert proc.returncode == 0, f"recommend.js failed ({proc.returncode}):\n{proc.stderr}"
    return json.loads(proc.stdout)  # Python's json is exact for int64 ids


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def python_runtime():
    return seqrec_runtime.load(GOLDEN, providers=["CPUExecutionProvider"])


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdUserWarning)
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def assert_rankings_close(item_ids, scores, recs_a, recs_b, atol) -> None:
    """Same shape and, at every rank, items whose ``scores`` agree within ``atol``."""
    column = {item: j for j, item in enumerate(item_ids)}
    a = [[column[item] for item in row] for row in recs_a]
    b = [[column[item] for item in row] for row in recs_b]
    assert np.shape(a) == np.shape(b)
    rows = np.arange(len(scores))[:, None]
    scores = np.asarray(scores, dtype=np.float64)
    np.testing.assert_allclose(scores[rows, np.asarray(a)], scores[rows, np.asarray(b)],
                               rtol=0, atol=atol)


def test_node_unit_tests(node_ready):
    """The example's own node:test suite (JSON int64 parsing, sequence rule, id order)."""
    proc = subprocess.run([NODE, "--test", "test/"], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("key, flags", [("recommend", ["--include-seen"]),
                                        ("recommend_exclude_seen", [])])
def test_node_matches_golden_and_python(node_ready, expected, python_runtime, key, flags):
    top_k = expected["top_k"]
    out = run_cli(GOLDEN, EXPECTED, "--top-k", str(top_k), *flags)
    assert out["user_ids"] == expected["user_ids"]
    item_ids = python_runtime.item_ids_.tolist()
    reference = expected["scores"]
    assert_rankings_close(item_ids, reference, out["recommend"], expected[key], 2 * ATOL)
    user_ids, recs = _quiet(python_runtime.recommend, expected["interactions"], top_k=top_k,
                            exclude_seen="--include-seen" not in flags, return_user_ids=True)
    assert user_ids.tolist() == out["user_ids"]
    assert_rankings_close(item_ids, reference, out["recommend"], recs.tolist(), 2 * ATOL)


def test_node_scores_match_golden(node_ready, expected):
    out = run_cli(GOLDEN, EXPECTED, "--top-k", "1", "--scores")
    np.testing.assert_allclose(np.asarray(out["scores"]), np.asarray(expected["scores"]),
                               rtol=0, atol=ATOL)


@pytest.mark.parametrize("flags", [[], ["--include-seen"]])
def test_node_top_k_beyond_graph_k(node_ready, expected, python_runtime, flags):
    """top_k > graphs.topk.k: the scores graph + the JavaScript sort (ties: lower column)."""
    top_k = python_runtime.manifest["graphs"]["topk"]["k"] + 5
    out = run_cli(GOLDEN, EXPECTED, "--top-k", str(top_k), *flags)
    recs = _quiet(python_runtime.recommend, expected["interactions"], top_k=top_k,
                  exclude_seen="--include-seen" not in flags)
    assert_rankings_close(python_runtime.item_ids_.tolist(), expected["scores"],
                          out["recommend"], recs.tolist(), 2 * ATOL)
    # Cold user (no known item): exactly the fallback order, ties by lower column.
    cold = expected["user_ids"].index(7)
    fallback = np.asarray(python_runtime.manifest["fallback"]["scores"], dtype=np.float32)
    order = np.lexsort((np.arange(len(fallback)), -fallback))[:top_k]
    assert out["recommend"][cold] == [python_runtime.item_ids_[j] for j in order]


def test_node_int64_ids_beyond_2_53(node_ready, expected, python_runtime, tmp_path):
    """The golden artifact re-keyed with int64 ids 2**60 + k: doubles would merge them all."""
    base = 2**60  # doubles near 2**60 are 256 apart: JSON.parse would collapse these ids
    manifest = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))
    names = manifest["item_ids"]["values"]
    to_int = {name: base + k for k, name in enumerate(names)}
    manifest["item_ids"] = {"dtype": "int64", "values": [to_int[n] for n in names]}
    artifact = tmp_path / "int64"
    artifact.mkdir()
    for name in manifest["files"]:
        shutil.copyfile(GOLDEN / name, artifact / name)
    (artifact / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    inter = expected["interactions"]
    users = [2**62 + u for u in inter["USER_ID"]]
    rows = {
        "USER_ID": users,
        "ITEM_ID": [to_int.get(item, base + 1000) for item in inter["ITEM_ID"]],
        "TIMESTAMP": [1_700_000_000_000_000_000 + t for t in inter["TIMESTAMP"]],  # ns > 2**53
    }
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows), encoding="utf-8")
    out = run_cli(artifact, rows_file, "--top-k", str(expected["top_k"]), "--exclude-seen")
    assert out["user_ids"] == sorted(set(users))
    back = {v: k for k, v in to_int.items()}
    recs = [[back[item] for item in row] for row in out["recommend"]]
    assert_rankings_close(names, expected["scores"], recs, expected["recommend_exclude_seen"],
                          2 * ATOL)
    py = _quiet(seqrec_runtime.load(artifact).recommend, rows, top_k=expected["top_k"],
                exclude_seen=True)
    assert_rankings_close([to_int[n] for n in names], expected["scores"], out["recommend"],
                          py.tolist(), 2 * ATOL)


@pytest.fixture(scope="module", params=[{}, {"item_prior_kind": "low_rank", "item_prior_rank": 6},
                                        {"item_prior_kind": "transitions"}],
                ids=["ease", "low_rank", "transitions"])
def prior_artifact(tmp_path_factory, request):
    """A tiny model with an item prior (format_version 3: graphs take history_items), for
    each prior kind (the graphs differ, the reader's contract does not)."""
    from seqrec_export import export_onnx
    from seqrec_trainer import (
        InteractionsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )
    from seqrec_trainer.datasets import make_sequential_interactions

    data = make_sequential_interactions(n_users=40, n_items=30, min_length=3, max_length=25,
                                        random_state=5)
    estimator = SASRecClassifierEstimator(hidden_units=16, num_blocks=1, max_len=5, epochs=2,
                                          loss_fn_name="ce", random_state=0,
                                          item_prior_weight=3.0, item_prior_l2=5.0,
                                          **request.param)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=5)
    recommender.train(interactions_ds=InteractionsDataset(data))
    root = tmp_path_factory.mktemp("node-prior")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(recommender, root / "artifact", top_k=8)
    rows = root / "rows.json"
    rows.write_text(json.dumps({k: v.tolist() for k, v in data.items()}), encoding="utf-8")
    return root / "artifact", rows, data


@pytest.mark.parametrize("top_k, flags", [(5, []), (5, ["--include-seen"]), (12, []),
                                          (12, ["--include-seen"])])
def test_node_serves_an_item_prior_artifact_like_python(node_ready, prior_artifact, top_k, flags):
    artifact, rows, data = prior_artifact
    assert json.loads((artifact / "manifest.json").read_text())["format_version"] == 3
    runtime = seqrec_runtime.load(artifact)
    users, scores = runtime.score_items(data, return_user_ids=True)
    out = run_cli(artifact, rows, "--top-k", str(top_k), "--scores", *flags)
    assert out["user_ids"] == users.tolist()
    np.testing.assert_allclose(np.asarray(out["scores"]), scores, rtol=0, atol=ATOL)
    recs = runtime.recommend(data, top_k=top_k, exclude_seen="--include-seen" not in flags)
    assert_rankings_close(runtime.item_ids_.tolist(), scores, out["recommend"], recs.tolist(),
                          2 * ATOL)


def test_node_still_serves_format_2_prior_artifacts(node_ready, prior_artifact, tmp_path):
    """Format 2 (each graph in its own file, each with the prior) is read as before."""
    import onnx.utils
    from seqrec_trainer.io import sha256_file

    artifact, rows, data = prior_artifact
    old = tmp_path / "format2"
    shutil.copytree(artifact, old)
    onnx.utils.extract_model(str(old / "model.onnx"), str(old / "model_topk.onnx"),
                             ["item_seq", "exclude_items", "history_items"],
                             ["top_scores", "top_indices"])
    onnx.utils.extract_model(str(old / "model.onnx"), str(old / "scores.onnx"),
                             ["item_seq", "history_items"], ["scores"])
    (old / "scores.onnx").replace(old / "model.onnx")
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 2
    manifest["graphs"]["topk"]["file"] = "model_topk.onnx"
    manifest["files"] = {name: sha256_file(old / name) for name in
                         ("model.onnx", "model_topk.onnx", "validation_report.json")}
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    new_out = run_cli(artifact, rows, "--top-k", "5", "--scores")
    old_out = run_cli(old, rows, "--top-k", "5", "--scores")
    assert old_out["recommend"] == new_out["recommend"]
    np.testing.assert_allclose(np.asarray(old_out["scores"]), np.asarray(new_out["scores"]),
                               rtol=0, atol=1e-6)
    shared = json.loads((artifact / "manifest.json").read_text())
    shared["format_version"] = 2  # one file for both graphs needs format 3
    (tmp_path / "bad").mkdir()
    for name in shared["files"]:
        shutil.copyfile(artifact / name, tmp_path / "bad" / name)
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps(shared), encoding="utf-8")
    proc = run_cli(tmp_path / "bad", rows, check=False)
    assert proc.returncode == 1 and "format_version >= 3" in proc.stderr


def test_node_refuses_bad_artifacts(node_ready, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(GOLDEN, tampered)
    data = bytearray((tampered / "model.onnx").read_bytes())
    data[-1] ^= 1
    (tampered / "model.onnx").write_bytes(bytes(data))
    proc = run_cli(tampered, EXPECTED, check=False)
    assert proc.returncode == 1 and "sha256" in proc.stderr and proc.stdout == ""

    newer = tmp_path / "newer"
    shutil.copytree(GOLDEN, newer)
    manifest = json.loads((newer / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 4
    (newer / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    proc = run_cli(newer, EXPECTED, check=False)
    assert proc.returncode == 1 and "format_version 4" in proc.stderr and "upgrade" in proc.stderr


def test_node_client_errors(node_ready, tmp_path):
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"USER_ID": [1], "ITEM_ID": [5], "TIMESTAMP": [0]}))
    proc = run_cli(GOLDEN, rows, check=False)  # int ITEM_ID, string vocabulary
    assert proc.returncode == 1 and "ITEM_ID" in proc.stderr
    proc = run_cli(GOLDEN, rows, "--top-k", "x", check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_node_matches_python_on_random_rows(node_ready, python_runtime, tmp_path):
    """Many users in several chunks: string user ids whose code-point order differs from
    JavaScript's UTF-16 order, timestamp ties, repeats, unknown items, long histories."""
    rng = np.random.default_rng(7)
    item_ids = python_runtime.item_ids_
    names = ["u10", "u9", "u\uffff", "u\U0001f600", "\u00e9", "A"]
    names += [f"user-{i}" for i in range(40)]
    users, items, times = [], [], []
    for user in names:
        n = int(rng.integers(1, 2 * python_runtime.max_len + 1))
        chosen = item_ids[rng.integers(0, len(item_ids), size=n)].tolist()
        if rng.random() < 0.3:
            chosen[int(rng.integers(0, n))] = "unknown-item"
        users += [user] * n
        items += chosen
        times += rng.integers(0, 6, size=n).tolist()  # many timestamp ties
    users += ["cold", "cold"]
    items += ["unknown-1", "unknown-2"]
    times += [0, 1]
    order = rng.permutation(len(users))
    rows = {"USER_ID": [users[i] for i in order], "ITEM_ID": [items[i] for i in order],
            "TIMESTAMP": [times[i] for i in order]}
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows), encoding="utf-8")

    user_ids, scores = _quiet(python_runtime.score_items, rows, return_user_ids=True)
    out = run_cli(GOLDEN, rows_file, "--top-k", "1", "--scores", "--batch-size", "7")
    assert out["user_ids"] == user_ids.tolist()  # numpy's order: by code point
    np.testing.assert_allclose(np.asarray(out["scores"]), scores, rtol=0, atol=1e-5)
    for top_k in (5, 15):
        for flags in ([], ["--include-seen"]):
            out = run_cli(GOLDEN, rows_file, "--top-k", str(top_k), "--batch-size", "7", *flags)
            recs = _quiet(python_runtime.recommend, rows, top_k=top_k,
                          exclude_seen="--include-seen" not in flags)
            assert_rankings_close(item_ids.tolist(), scores, out["recommend"], recs.tolist(),
                                  1e-5)
