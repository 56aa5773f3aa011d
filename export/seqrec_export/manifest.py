"""``manifest.json`` of an artifact (format versions 1 and 3, see docs/artifact.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from seqrec_runtime.artifact import BASE_FORMAT_VERSION, FORMAT, PRIOR_FORMAT_VERSION

from .config import GraphSpec

#: The artifact format is defined by the runtime (:mod:`seqrec_runtime.artifact`), which
#: reads it; the exporter writes what it reads.
ARTIFACT_FORMAT = FORMAT
ARTIFACT_FORMAT_VERSION = BASE_FORMAT_VERSION
HISTORY_RULE = (
    "history_items (graphs of artifacts with an item prior): per user, the distinct model "
    "indices of every known item of the WHOLE history (not only the last max_len), in any "
    "order, right-padded with pad_index to the batch's longest row."
)
SEQUENCE_RULE = (
    "Sort a user's rows stably by (USER_ID, TIMESTAMP) (equal timestamps keep input order); "
    "drop rows whose ITEM_ID is not in item_ids; keep the last max_len remaining items; map "
    "item_ids.values[k] to index k+1; left-pad with pad_index to the batch's longest row. "
    "scores[:, j] is the score of item_ids.values[j]. Users with no known item get "
    "fallback.scores."
)


def build_manifest(
    *,
    seqrec_version: str,
    estimator_kind: str,
    opset: int,
    max_len: int,
    item_ids: dict[str, Any],
    fallback_scores: np.ndarray,
    specs: tuple[GraphSpec, ...],
    file_hashes: dict[str, str],
    training: dict[str, Any],
    item_prior: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the manifest document (format version 3 only when there is an item prior,
    so artifacts without one stay readable by runtimes that know version 1 only)."""
    prior = None if item_prior is None else {
        **item_prior, "history_input": "history_items", "history_rule": HISTORY_RULE,
    }
    return {
        "format": ARTIFACT_FORMAT,
        "format_version": ARTIFACT_FORMAT_VERSION if prior is None else PRIOR_FORMAT_VERSION,
        "seqrec_version": seqrec_version,
        "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "estimator_kind": estimator_kind,
        "opset": opset,
        "max_len": max_len,
        "pad_index": 0,
        "n_items": len(item_ids["values"]),
        "item_ids": item_ids,
        "sequence_rule": SEQUENCE_RULE,
        "fallback": {"kind": "popularity", "scores": [float(x) for x in fallback_scores]},
        "files": file_hashes,
        "graphs": {spec.key: spec.to_json() for spec in specs},
        "training": training,
        **({"item_prior": prior} if prior is not None else {}),
    }
