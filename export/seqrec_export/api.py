"""``export_onnx``: trained recommender -> validated, self-describing ONNX artifact."""

from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from seqrec_trainer import SequentialRecommender
from seqrec_trainer import __version__ as seqrec_version
from seqrec_trainer.errors import (
    InvalidParameterError,
    InvalidParameterTypeError,
    NotFittedError,
)
from seqrec_trainer.io import (
    atomic_directory,
    check_replaceable,
    ids_to_json,
    sha256_file,
    write_json,
)

from .config import DEFAULT_ATOL, DEFAULT_TOP_K, FALLBACK_OPSET, PREFERRED_OPSET, graph_specs
from .errors import ExportValidationError, LargeArtifactWarning
from .manifest import ARTIFACT_FORMAT, build_manifest
from .onnx_graphs import choose_and_export
from .validation import validate_export, validation_inputs

logger = logging.getLogger("seqrec")

def _check_output_dir(output_dir: Any, source: Any) -> None:
    """Refuse an ``output_dir`` whose replacement would destroy something else than a
    previous artifact: a file, a non-empty directory that is not a seqrec artifact, or
    the model directory being exported (or a directory holding it)."""
    if isinstance(output_dir, (str, os.PathLike)) and isinstance(source, (str, os.PathLike)):
        target, model_dir = Path(output_dir).resolve(), Path(source).resolve()
        if target == model_dir or target in model_dir.parents:
            raise InvalidParameterError(
                f"the output directory {output_dir} is (or contains) the model directory "
                f"{source}; exporting there would delete the model. Choose another directory"
            )
    check_replaceable(output_dir, "manifest.json", ARTIFACT_FORMAT, "seqrec artifact",
                      "the output directory")


def _check_export_params(top_k: Any, atol: Any, opset: Any) -> None:
    for name, value in (("top_k", top_k), ("opset", opset)):
        if value is None and name == "opset":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidParameterTypeError(f"{name} must be an int, got {value!r}")
        if value < 1:
            raise InvalidParameterError(f"{name} must be >= 1, got {value}")
    if opset is not None and opset < FALLBACK_OPSET:
        raise InvalidParameterError(
            f"opset must be >= {FALLBACK_OPSET} (torch's exporter writes invalid graphs below "
            f"it), got {opset}; omit it to use {PREFERRED_OPSET} or the newest the installed "
            "onnxruntime runs"
        )
    if isinstance(atol, bool) or not isinstance(atol, (int, float, np.floating, np.integer)):
        raise InvalidParameterTypeError(f"atol must be a number, got {atol!r}")
    if not math.isfinite(atol) or atol < 0:
        raise InvalidParameterError(f"atol must be a finite number >= 0, got {atol}")


def _resolve(recommender_or_model_dir: Any) -> SequentialRecommender:
    if isinstance(recommender_or_model_dir, (str, Path)):
        return SequentialRecommender.load(recommender_or_model_dir)
    if not isinstance(recommender_or_model_dir, SequentialRecommender):
        raise InvalidParameterTypeError(
            "export_onnx expects a trained SequentialRecommender or the directory it was "
            f"saved to, got {type(recommender_or_model_dir).__name__}"
        )
    if not hasattr(recommender_or_model_dir.scorer, "vocabulary_"):
        raise NotFittedError("cannot export an untrained SequentialRecommender")
    return recommender_or_model_dir


def _prior_description(estimator: Any, network: Any) -> dict[str, Any]:
    """``manifest.item_prior`` fields describing how the graphs' prior was fitted."""
    description = {
        "kind": estimator.item_prior_kind,
        "weight": float(estimator.item_prior_weight),
        "l2": float(estimator.item_prior_l2),
    }
    if network.item_prior_factors is not None:
        description["rank"] = int(network.item_prior_factors.shape[1])
    if network.item_prior_neighbor_items is not None:
        description["neighbors"] = int(network.item_prior_neighbor_items.shape[1])
        description["note"] = ("scored from the order of item_seq's last items; the graphs "
                               "take history_items but do not read it")
    return description


#: Artifacts above this size (256 MiB) get a :class:`LargeArtifactWarning` before they are
#: written: serving loads the whole graph into memory (see docs/artifact.md).
LARGE_ARTIFACT_BYTES = 256 * 2**20
#: The full export validation report, written into the artifact (and listed in its files).
VALIDATION_REPORT = "validation_report.json"


def estimated_artifact_bytes(network: Any) -> int:
    """Bytes of the network's weights and buffers: what the ONNX file(s) will hold (the
    graph structure and the manifest add little)."""
    tensors = [*network.parameters(), *network.buffers()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def _warn_if_large(network: Any, output_dir: Any) -> None:
    size = estimated_artifact_bytes(network)
    if size <= LARGE_ARTIFACT_BYTES:
        return
    prior = ""
    matrix = getattr(network, "item_prior_matrix", None)
    if matrix is not None:
        prior = (f"; the EASE item prior's {matrix.shape[0]} x {matrix.shape[1]} matrix is "
                 f"{matrix.numel() * 4 / 1e6:.0f} MB of it. item_prior_kind='low_rank' stores "
                 "n_items x rank floats instead (seqrec refit-prior --item-prior-kind low_rank)")
    warnings.warn(
        f"the artifact {output_dir} will be about {size / 1e6:.0f} MB (more than "
        f"{LARGE_ARTIFACT_BYTES / 2**20:.0f} MiB); serving loads it into memory{prior}",
        LargeArtifactWarning, stacklevel=3,
    )


def _load_with_runtime(directory: Path) -> None:
    """Load the written artifact with ``seqrec_runtime.load`` (the reader that serves it),
    so an artifact the runtime would refuse is never swapped in."""
    import seqrec_runtime
    from seqrec_runtime.errors import SeqrecError

    try:
        seqrec_runtime.load(directory, providers=["CPUExecutionProvider"])
    except SeqrecError as exc:
        raise ExportValidationError(
            f"seqrec_runtime {seqrec_runtime.__version__} cannot load the exported artifact: "
            f"{exc}"
        ) from exc


def export_onnx(
    recommender_or_model_dir: Any,
    output_dir: str | Path,
    opset: int | None = None,
    top_k: int = DEFAULT_TOP_K,
    atol: float = DEFAULT_ATOL,
    validation_sequences: np.ndarray | None = None,
) -> Path:
    """Export a trained recommender to an artifact directory.

    The graphs are exported with torch's dynamo exporter (dynamic batch and sequence
    length up to ``max_len``), run in onnxruntime on inputs at other shapes than the
    export example and compared with torch. Only when that passes is ``output_dir``
    (atomically) replaced; a failed export leaves any previous artifact untouched.

    Parameters
    ----------
    recommender_or_model_dir
        A trained :class:`SequentialRecommender` or a directory written by ``save``.
    output_dir
        Artifact directory to create or replace.
    opset
        ONNX opset; default: 23 (fused Attention) when the installed onnxruntime runs it,
        else 18.
    top_k
        ``k`` of the in-graph top-k graph, >= 1 (clipped to the catalogue size).
    atol
        Largest accepted absolute score difference between onnxruntime and torch
        (finite, >= 0).
    validation_sequences
        Optional real ``(n, <= max_len)`` index rows to validate on as well.

    Returns
    -------
    pathlib.Path
        ``output_dir``.

    Warns
    -----
    LargeArtifactWarning
        Before exporting, when the artifact will be larger than ``LARGE_ARTIFACT_BYTES``.

    Raises
    ------
    ExportValidationError
        (``OutputNamesMismatchError``, ``ShapeMismatchError``, ``ToleranceError``,
        ``TopKMismatchError``) when the exported graph does not match torch, or when
        onnxruntime or ``seqrec_runtime.load`` cannot load it.
    InvalidParameterError
        A bad ``top_k`` / ``atol`` / ``opset`` (also an ``opset`` the exporter cannot
        produce), or an ``output_dir`` that is a file, a non-empty directory that is not a
        seqrec artifact, or the model directory itself: replacing it would destroy data.
    """
    _check_export_params(top_k, atol, opset)
    _check_output_dir(output_dir, recommender_or_model_dir)
    recommender = _resolve(recommender_or_model_dir)
    scorer = recommender.scorer
    estimator = scorer.estimator
    network = copy.deepcopy(estimator.network_).cpu().eval()
    n_items = len(scorer.vocabulary_)
    max_len = int(recommender.max_len)
    k = max(1, min(int(top_k), n_items))
    item_prior = network.has_item_prior
    specs = graph_specs(n_items, k, item_prior)
    _warn_if_large(network, output_dir)
    with atomic_directory(output_dir) as tmp:
        used_opset = choose_and_export(network, max_len, n_items, k, specs, tmp, opset)
        report = validate_export(
            network, tmp, specs, k, atol,
            validation_inputs(n_items, max_len, sequences=validation_sequences),
        )
        write_json(tmp / VALIDATION_REPORT, {"atol": float(atol), **report.full_report()})
        hashes = {file: sha256_file(tmp / file)
                  for file in sorted({spec.file for spec in specs} | {VALIDATION_REPORT})}
        training = {
            "estimator_class": type(estimator).__name__,
            "estimator_params": {k_: v for k_, v in estimator.get_params().items()
                                 if isinstance(v, (int, float, str, bool, type(None)))},
            "summary": getattr(recommender, "training_summary_", {}),
            "best_epoch": estimator.best_epoch_,
            "last_epoch": estimator.history_[-1] if estimator.history_ else None,
            "export_validation": report.to_json(),
        }
        manifest = build_manifest(
            seqrec_version=seqrec_version,
            estimator_kind=estimator.estimator_kind,
            opset=used_opset,
            max_len=max_len,
            item_ids=ids_to_json(scorer.vocabulary_.ids),
            fallback_scores=scorer.popularity_,
            specs=specs,
            file_hashes=hashes,
            training=training,
            item_prior=_prior_description(estimator, network) if item_prior else None,
        )
        write_json(tmp / "manifest.json", manifest)
        _load_with_runtime(tmp)
    logger.info("exported %s (opset %d, max |diff| %.2e)", output_dir, used_opset,
                report.max_abs_diff)
    return Path(output_dir)
