"""Build small fake seqrec artifacts with ``onnx.helper`` (tests only).

The fake model honours the artifact I/O contract (docs/artifact.md) with a trivial
scorer: ``scores = (sum of the history's item embeddings) @ item_embeddings.T``. Padding
has a zero embedding, so trimmed and fully padded rows score alike. Embedding entries are
multiples of 1/8 in [-1, 1], so every score is an exact float32: results cannot depend on
batch composition or summation order, and ties (exercising "lower index first") happen.

``onnx`` is imported inside the functions, so this module can be imported without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 21
#: Set (to "1") by test_isolation.py for the suite's run inside a fresh venv.
ISOLATED_ENV = "SEQREC_RUNTIME_ISOLATED"
#: Fake artifact directories built by the parent run, for the isolated run (no onnx there).
PREBUILT_ENV = "SEQREC_RUNTIME_FAKE_ARTIFACT"
PREBUILT_STRING_ENV = "SEQREC_RUNTIME_FAKE_STRING_ARTIFACT"
#: Shape of the standard fake artifact built by conftest.py.
N_ITEMS = 40
TOPK_K = 10
MAX_LEN = 8


def isolated() -> bool:
    """True inside the isolated-venv run of the suite."""
    return os.environ.get(ISOLATED_ENV) == "1"


def make_embeddings(n_items: int, dim: int = 6, seed: int = 0) -> np.ndarray:
    """``(n_items + 1, dim)`` float32 embeddings, row 0 (padding) zero, entries k/8."""
    rng = np.random.default_rng(seed)
    emb = rng.integers(-8, 9, size=(n_items + 1, dim)).astype(np.float32) / 8
    emb[0] = 0
    return emb


def _models(emb: np.ndarray, k: int, scores_output: str = "scores") -> tuple[Any, Any]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_items = emb.shape[0] - 1
    emb_init = numpy_helper.from_array(emb, "emb")
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    seq = helper.make_tensor_value_info("item_seq", TensorProto.INT64, ["batch", "seq_len"])
    hidden = [
        helper.make_node("Gather", ["emb", "item_seq"], ["gathered"]),
        helper.make_node("ReduceSum", ["gathered", "axes"], ["hidden"], keepdims=0),
    ]

    items_t = numpy_helper.from_array(np.ascontiguousarray(emb[1:].T), "items_t")
    scores_graph = helper.make_graph(
        [*hidden, helper.make_node("MatMul", ["hidden", "items_t"], [scores_output])],
        "fake_scores",
        [seq],
        [helper.make_tensor_value_info(scores_output, TensorProto.FLOAT, ["batch", n_items])],
        [emb_init, axes, items_t],
    )

    all_t = numpy_helper.from_array(np.ascontiguousarray(emb.T), "all_t")
    consts = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], dtype=np.int64), "end"),
        numpy_helper.from_array(np.array([k], dtype=np.int64), "k"),
    ]
    neg_inf = helper.make_tensor("neg_inf", TensorProto.FLOAT, [1], [-np.inf])
    topk_nodes = [
        *hidden,
        helper.make_node("MatMul", ["hidden", "all_t"], ["full"]),
        helper.make_node("Shape", ["exclude_items"], ["excl_shape"]),
        helper.make_node("ConstantOfShape", ["excl_shape"], ["updates"], value=neg_inf),
        helper.make_node(
            "ScatterElements", ["full", "exclude_items", "updates"], ["masked"], axis=1
        ),
        helper.make_node("Slice", ["masked", "one", "end", "one"], ["items_only"]),
        helper.make_node(
            "TopK", ["items_only", "k"], ["top_scores", "top_indices"], axis=1, sorted=1
        ),
    ]
    topk_graph = helper.make_graph(
        topk_nodes,
        "fake_topk",
        [seq, helper.make_tensor_value_info("exclude_items", TensorProto.INT64,
                                            ["batch", "n_exclude"])],
        [
            helper.make_tensor_value_info("top_scores", TensorProto.FLOAT, ["batch", k]),
            helper.make_tensor_value_info("top_indices", TensorProto.INT64, ["batch", k]),
        ],
        [emb_init, axes, all_t, *consts],
    )
    opset = [helper.make_opsetid("", OPSET)]
    models = []
    for graph in (scores_graph, topk_graph):
        model = helper.make_model(graph, opset_imports=opset, producer_name="seqrec-tests")
        model.ir_version = 10
        onnx.checker.check_model(model, full_check=True)
        models.append(model)
    return models[0], models[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rehash(directory: Path) -> None:
    """Recompute the sha256 of every file listed in ``manifest.json``."""
    path = Path(directory) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"] = {name: sha256(Path(directory) / name) for name in manifest["files"]}
    path.write_text(json.dumps(manifest, indent=1))


def edit_manifest(directory: Path, **changes: Any) -> None:
    """Set top-level manifest fields (no rehash needed: the manifest is not hashed)."""
    path = Path(directory) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest, indent=1))


def write_artifact(
    directory: Path,
    item_ids: list,
    emb: np.ndarray,
    fallback: np.ndarray,
    max_len: int = 8,
    k: int = 10,
    scores_output: str = "scores",
) -> Path:
    """Write a complete fake artifact (manifest + both graphs) into ``directory``."""
    import onnx

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scores_model, topk_model = _models(emb, k, scores_output)
    onnx.save(scores_model, directory / "model.onnx")
    onnx.save(topk_model, directory / "model_topk.onnx")
    n_items = len(item_ids)
    dtype = "string" if isinstance(item_ids[0], str) else "int64"
    seq_in = {"name": "item_seq", "dtype": "int64", "shape": ["batch", "seq_len"]}
    manifest = {
        "format": "seqrec-onnx-artifact",
        "format_version": 1,
        "seqrec_version": "0.1.0",
        "created_at": "2026-11-27T08:00:00Z",
        "estimator_kind": "classifier",
        "opset": OPSET,
        "max_len": max_len,
        "pad_index": 0,
        "n_items": n_items,
        "item_ids": {"dtype": dtype, "values": list(item_ids)},
        "sequence_rule": "fake: see docs/artifact.md",
        "fallback": {"kind": "popularity", "scores": [float(s) for s in fallback]},
        "files": {},
        "graphs": {
            "scores": {
                "file": "model.onnx",
                "inputs": [seq_in],
                "outputs": [{"name": "scores", "dtype": "float32", "shape": ["batch", n_items]}],
            },
            "topk": {
                "file": "model_topk.onnx",
                "k": k,
                "inputs": [
                    seq_in,
                    {"name": "exclude_items", "dtype": "int64", "shape": ["batch", "n_exclude"]},
                ],
                "outputs": [
                    {"name": "top_scores", "dtype": "float32", "shape": ["batch", k]},
                    {"name": "top_indices", "dtype": "int64", "shape": ["batch", k]},
                ],
            },
        },
        "training": {"fake": True},
    }
    manifest["files"] = {"model.onnx": "", "model_topk.onnx": ""}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
    rehash(directory)
    return directory


def int_item_ids(n_items: int) -> list[int]:
    """Sparse int ids, the largest beyond 2**53 (exercises exact big-int JSON parsing)."""
    return [7 * i + 3 for i in range(n_items - 1)] + [2**62 + 1]


def make_interactions(
    item_ids: np.ndarray, n_users: int = 60, seed: int = 0, max_events: int = 20
) -> dict[str, np.ndarray]:
    """Random interactions: repeats, timestamp ties, unknown items, one cold user (-1)."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    unknown = np.array([-5, -6]) if item_ids.dtype.kind != "U" else np.array(["zz-1", "zz-2"])
    for user in rng.permutation(n_users) * 3 + 1:
        n = int(rng.integers(1, max_events + 1))
        chosen = item_ids[rng.integers(0, len(item_ids), size=n)]
        if n > 1 and rng.random() < 0.3:
            chosen[rng.integers(0, n)] = unknown[0]
        users += [user] * n
        items += list(chosen)
        times += list(rng.integers(0, 6, size=n))  # many timestamp ties
    users += [-1, -1]
    items += list(unknown)
    times += [0, 1]
    order = rng.permutation(len(users))  # rows in arbitrary order
    return {
        "USER_ID": np.array(users, dtype=np.int64)[order],
        "ITEM_ID": np.array(items, dtype=item_ids.dtype if item_ids.dtype.kind == "U"
                            else np.int64)[order],
        "TIMESTAMP": np.array(times, dtype=np.int64)[order],
    }


def history_of(interactions: dict[str, np.ndarray], user: Any) -> np.ndarray:
    """One user's items in sequence-rule order (stable by timestamp, ties in input order)."""
    rows = np.flatnonzero(interactions["USER_ID"] == user)
    rows = rows[np.argsort(interactions["TIMESTAMP"][rows], kind="stable")]
    return interactions["ITEM_ID"][rows]
