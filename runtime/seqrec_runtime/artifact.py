"""Read and verify a seqrec ONNX artifact directory (format described in docs/artifact.md).

Nothing here executes code from the artifact: the manifest is JSON, the models are ONNX,
and pickle-like files (``*.pkl``, ``*.pickle``, ``*.pt``, ``*.pth``, ``*.joblib``) make the
artifact refused outright.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .errors import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidParameterTypeError,
    UnsupportedFormatError,
)
from .vocabulary import ItemVocabulary

MANIFEST = "manifest.json"
FORMAT = "seqrec-onnx-artifact"
#: The newest format version this runtime reads:
#: 1 = two graphs, ``model.onnx`` (scores) and ``model_topk.onnx`` (top-k);
#: 2 = version 1 plus an item prior (``manifest["item_prior"]``): both graphs also take
#: ``history_items`` (and each file holds its own copy of the prior's matrix);
#: 3 = version 2 with both graphs in one file (``graphs.scores.file == graphs.topk.file``),
#: so the prior's matrix is stored and loaded once. Exports write 1 without a prior, 3 with.
FORMAT_VERSION = 3
BASE_FORMAT_VERSION = 1
PRIOR_FORMAT_VERSION = 3
#: The first format version whose two graphs may share one ONNX file.
SHARED_FILE_FORMAT_VERSION = 3
#: File names written by the exporter: per graph, and the one file of a shared graph.
GRAPH_FILES = {"scores": "model.onnx", "topk": "model_topk.onnx"}
SHARED_GRAPH_FILE = "model.onnx"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: The I/O contract of each graph: name -> (inputs, outputs) as (name, dtype) pairs.
GRAPH_IO = {
    "scores": ([("item_seq", "int64")], [("scores", "float32")]),
    "topk": (
        [("item_seq", "int64"), ("exclude_items", "int64")],
        [("top_scores", "float32"), ("top_indices", "int64")],
    ),
}
HISTORY_INPUT = ("history_items", "int64")
_ORT_TYPES = {"int64": "tensor(int64)", "float32": "tensor(float)"}


def graph_io(name: str, item_prior: bool) -> tuple[list, list]:
    """``(inputs, outputs)`` of graph ``name``; an item prior adds ``history_items``."""
    inputs, outputs = GRAPH_IO[name]
    return (inputs + [HISTORY_INPUT] if item_prior else inputs), outputs


def shared_graph_io(item_prior: bool) -> tuple[list, list]:
    """``(inputs, outputs)`` of one file holding both graphs: the union of their I/O, in the
    order item_seq, exclude_items[, history_items] -> scores, top_scores, top_indices."""
    scores_in, scores_out = graph_io("scores", item_prior)
    topk_in, topk_out = graph_io("topk", item_prior)
    inputs = topk_in + [io for io in scores_in if io not in topk_in]
    return inputs, scores_out + topk_out


@dataclass(frozen=True)
class GraphSpec:
    """One graph of the artifact: its file, I/O names and (topk only) ``k``."""

    name: str
    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    k: int | None = None
    item_prior: bool = False
    #: Both graphs live in this one file (format version 3): its session has the union of
    #: their inputs and outputs, and a scores-only call feeds ``exclude_items`` too.
    shared: bool = False


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: everything the runtime needs except the ONNX sessions."""

    path: Path
    manifest: dict[str, Any]
    vocabulary: ItemVocabulary
    fallback_scores: np.ndarray
    max_len: int
    n_items: int
    graphs: dict[str, GraphSpec]
    item_prior: bool = False


def _fail(message: str) -> ArtifactError:
    return ArtifactError(message)


def _get(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise _fail(f"manifest.json: missing field {where}{key!r}")
    value = mapping[key]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise _fail(f"manifest.json: field {where}{key!r} has the wrong type ({value!r})")
    return value


def _positive_int(mapping: Any, key: str, where: str = "") -> int:
    value = _get(mapping, key, int, where)
    if value < 1:
        raise _fail(f"manifest.json: {where}{key!r} must be >= 1, got {value}")
    return value


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise _fail(f"artifact directory {str(root)!r} does not exist or is not a directory")
    path = root / MANIFEST
    if not path.is_file():
        raise _fail(f"artifact {str(root)!r} has no {MANIFEST}; is this a seqrec artifact?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _fail(f"{MANIFEST} in {str(root)!r} is not valid JSON: {exc}") from exc
    except OSError as exc:
        raise _fail(f"cannot read {MANIFEST} in {str(root)!r}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise _fail(f"{MANIFEST} must hold a JSON object")
    if manifest.get("format") != FORMAT:
        raise UnsupportedFormatError(
            f"{str(root)!r} is not a seqrec artifact: format is {manifest.get('format')!r}, "
            f"expected {FORMAT!r}"
        )
    version = _get(manifest, "format_version", int, "")
    if version > FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"artifact {str(root)!r} has format_version {version}, but seqrec-runtime "
            f"{__version__} reads format_version <= {FORMAT_VERSION}; upgrade it: "
            "pip install -U seqrec-runtime"
        )
    if version < 1:
        raise _fail(f"manifest.json: format_version must be >= 1, got {version}")
    return manifest


def _check_no_pickles(root: Path) -> None:
    found = sorted(p.name for p in root.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if found:
        raise _fail(
            f"artifact {str(root)!r} contains pickle-like file(s) {found}. seqrec artifacts "
            "never contain pickles and loading one can execute arbitrary code; remove them "
            "(or re-export the artifact into an empty directory)"
        )


def _verify_files(root: Path, manifest: dict[str, Any]) -> dict[str, str]:
    files = _get(manifest, "files", dict, "")
    for name, digest in files.items():
        if name in ("", ".", "..", MANIFEST) or "/" in name or "\\" in name:
            raise _fail(f"manifest.json: files has an invalid file name {name!r}")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise _fail(f"manifest.json: files[{name!r}] must be a lower-case sha256 hex digest")
        path = root / name
        if not path.is_file():
            raise _fail(f"artifact {str(root)!r} is missing file {name!r} (listed in manifest)")
    for name, digest in files.items():
        try:
            actual = sha256_file(root / name)
        except OSError as exc:
            raise _fail(f"cannot read {name!r} in {str(root)!r}: {exc}") from exc
        if actual != digest:
            raise ArtifactIntegrityError(
                f"{name!r} in {str(root)!r} does not match the sha256 in manifest.json "
                f"(expected {digest}, got {actual}); the file is corrupt or was modified"
            )
    return files


def _read_vocabulary(manifest: dict[str, Any], n_items: int) -> ItemVocabulary:
    spec = _get(manifest, "item_ids", dict, "")
    dtype = _get(spec, "dtype", str, "item_ids.")
    values = _get(spec, "values", list, "item_ids.")
    if len(values) != n_items:
        raise _fail(f"manifest.json: item_ids has {len(values)} values but n_items={n_items}")
    if dtype == "int64":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise _fail("manifest.json: item_ids.dtype is int64 but values are not all integers")
        try:
            ids = np.array(values, dtype=np.int64)
        except OverflowError as exc:
            raise _fail("manifest.json: item_ids.values outside the int64 range") from exc
    elif dtype == "string":
        if not all(isinstance(v, str) for v in values):
            raise _fail("manifest.json: item_ids.dtype is string but values are not all strings")
        ids = np.array(values, dtype=str)
    else:
        raise _fail(f"manifest.json: item_ids.dtype must be 'int64' or 'string', got {dtype!r}")
    if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        raise _fail("manifest.json: item_ids.values must be distinct and sorted ascending")
    return ItemVocabulary(ids)


def _read_fallback(manifest: dict[str, Any], n_items: int) -> np.ndarray:
    spec = _get(manifest, "fallback", dict, "")
    kind = _get(spec, "kind", str, "fallback.")
    if kind != "popularity":
        raise _fail(f"manifest.json: unsupported fallback.kind {kind!r} (expected 'popularity')")
    scores = _get(spec, "scores", list, "fallback.")
    ok = all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)
        for s in scores
    )
    if len(scores) != n_items or not ok:
        raise _fail(f"manifest.json: fallback.scores must be {n_items} finite numbers")
    with np.errstate(over="ignore"):
        fallback = np.array(scores, dtype=np.float32)
    if not np.isfinite(fallback).all():
        raise _fail("manifest.json: fallback.scores must fit in float32 (|x| <= 3.4e38)")
    return fallback


def _read_item_prior(manifest: dict[str, Any]) -> bool:
    """Whether the graphs include an item prior (and so take ``history_items``)."""
    prior = manifest.get("item_prior")
    if prior is None:
        return False
    if manifest["format_version"] < 2:
        raise _fail("manifest.json: item_prior needs format_version >= 2")
    if not isinstance(prior, dict) or prior.get("history_input") != HISTORY_INPUT[0]:
        raise _fail(
            f"manifest.json: item_prior must be null or an object with history_input "
            f"{HISTORY_INPUT[0]!r}; got {prior!r}"
        )
    return True


def _read_graph(
    root: Path, manifest: dict[str, Any], name: str, files: dict, item_prior: bool
) -> GraphSpec:
    spec = _get(_get(manifest, "graphs", dict, ""), name, dict, "graphs.")
    where = f"graphs.{name}."
    file = _get(spec, "file", str, where)
    if file not in files:
        raise _fail(f"manifest.json: {where}file {file!r} is not listed (with a sha256) in files")
    ios = []
    for key, expected in zip(("inputs", "outputs"), graph_io(name, item_prior), strict=True):
        entries = _get(spec, key, list, where)
        got = [(_get(e, "name", str, where + key + "[]."), e.get("dtype")) for e in entries]
        if got != expected:
            raise _fail(f"manifest.json: {where}{key} must be {expected} (name, dtype); got {got}")
        ios.append(tuple(n for n, _ in got))
    k = _positive_int(spec, "k", where) if name == "topk" else None
    return GraphSpec(name, root / file, ios[0], ios[1], k, item_prior)


def read_artifact(path: str | Path) -> Artifact:
    """Parse and verify an artifact directory, without creating ONNX sessions.

    Raises
    ------
    ArtifactError
        Missing directory/file, malformed manifest, pickle files present.
    UnsupportedFormatError
        Not a seqrec artifact, or a ``format_version`` newer than this release reads.
    ArtifactIntegrityError
        A file's sha256 differs from the manifest.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterTypeError(
            f"artifact_dir must be a path (str or os.PathLike), got {type(path).__name__}"
        )
    root = Path(path)
    manifest = _read_manifest(root)
    _check_no_pickles(root)
    files = _verify_files(root, manifest)
    n_items = _positive_int(manifest, "n_items")
    max_len = _positive_int(manifest, "max_len")
    if _get(manifest, "pad_index", int, "") != 0:
        raise _fail("manifest.json: pad_index must be 0")
    vocabulary = _read_vocabulary(manifest, n_items)
    fallback = _read_fallback(manifest, n_items)
    item_prior = _read_item_prior(manifest)
    graphs = {name: _read_graph(root, manifest, name, files, item_prior) for name in GRAPH_IO}
    if graphs["scores"].path == graphs["topk"].path:
        if manifest["format_version"] < SHARED_FILE_FORMAT_VERSION:
            raise _fail(
                f"manifest.json: graphs.scores and graphs.topk share the file "
                f"{graphs['scores'].path.name!r}, which needs format_version >= "
                f"{SHARED_FILE_FORMAT_VERSION}"
            )
        graphs = {name: replace(graph, shared=True) for name, graph in graphs.items()}
    if (graphs["topk"].k or 0) > n_items:
        raise _fail(f"manifest.json: graphs.topk.k={graphs['topk'].k} > n_items={n_items}")
    return Artifact(root, manifest, vocabulary, fallback, max_len, n_items, graphs, item_prior)


def check_session_io(session: Any, graph: GraphSpec, n_items: int) -> None:
    """Check that an onnxruntime session has the graph's I/O names, dtypes and widths.

    Raises
    ------
    ArtifactError
        On any mismatch with the manifest.
    """
    if graph.shared:
        inputs, outputs = shared_graph_io(graph.item_prior)
    else:
        inputs, outputs = graph_io(graph.name, graph.item_prior)
    widths = {"scores": n_items, "top_scores": graph.k, "top_indices": graph.k}
    for kind, nodes, expected in (
        ("inputs", session.get_inputs(), inputs),
        ("outputs", session.get_outputs(), outputs),
    ):
        got = [(n.name, n.type) for n in nodes]
        want = [(name, _ORT_TYPES[dtype]) for name, dtype in expected]
        if sorted(got) != sorted(want):
            raise _fail(
                f"{graph.path.name}: the ONNX graph's {kind} {got} do not match the manifest "
                f"{want}; the artifact is inconsistent"
            )
        for node in nodes:
            shape = list(node.shape or [])
            width = widths.get(node.name)
            if shape and (
                len(shape) != 2 or (isinstance(shape[1], int) and width and shape[1] != width)
            ):
                raise _fail(
                    f"{graph.path.name}: {kind[:-1]} {node.name!r} has shape {shape}, "
                    f"expected [batch, {width or 'n'}]"
                )
