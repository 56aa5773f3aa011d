"""Run the artifact's two ONNX graphs on chunks of left-padded sequences.

Everything here is stateless apart from the (thread-safe) onnxruntime sessions, so one
:class:`Graphs` serves concurrent callers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .artifact import Artifact
from .errors import ArtifactError
from .ranking import top_k_indices
from .sequences import Sequences

_NO_EXCLUSION = np.zeros((1, 1), dtype=np.int64)
_NO_EXCLUSION.flags.writeable = False


def _run(session: Any, name: str, outputs: list[str], feeds: dict[str, np.ndarray]) -> list:
    """``session.run`` with onnxruntime's own exceptions turned into :class:`ArtifactError`.

    The runtime only feeds int64 index matrices of width <= max_len with indices in
    0..n_items, so a graph that fails on one does not match its manifest.
    """
    try:
        return session.run(outputs, feeds)
    except Exception as exc:  # onnxruntime raises its own (pybind) exception types
        shape = feeds["item_seq"].shape
        raise ArtifactError(
            f"onnxruntime failed to run {name} on an item_seq batch of shape {shape}: "
            f"{type(exc).__name__}: {exc}. The graph does not match its manifest (max_len, "
            "n_items); re-export the artifact"
        ) from exc


class Graphs:
    """The scores graph and the top-k graph of one artifact, with the fallback scores.

    Parameters
    ----------
    artifact
        The verified artifact.
    scores_session, topk_session
        onnxruntime sessions (or anything with the same ``run`` method) of the two graphs.
    """

    def __init__(self, artifact: Artifact, scores_session: Any, topk_session: Any) -> None:
        # Read-only after construction: safe to share between threads.
        self.n_items = artifact.n_items
        self.max_len = artifact.max_len
        self.k = int(artifact.graphs["topk"].k or 0)
        self.fallback = artifact.fallback_scores
        self.fallback.flags.writeable = False
        # Full deterministic fallback ranking: its first k entries are the top-k for any k.
        self.fallback_order = top_k_indices(self.fallback[None, :], self.n_items)[0].astype(
            np.int64
        )
        self.fallback_order.flags.writeable = False
        self._scores = scores_session
        self._topk = topk_session

    def scores(self, item_seq: np.ndarray) -> np.ndarray:
        """Scores graph on a ``(rows, width)`` left-padded batch -> ``(rows, n_items)``.

        This is the ``score_fn`` of :mod:`seqrec_runtime.batch`.
        """
        item_seq = np.ascontiguousarray(item_seq, dtype=np.int64)
        (out,) = _run(self._scores, "model.onnx", ["scores"], {"item_seq": item_seq})
        if out.shape != (item_seq.shape[0], self.n_items):
            raise ArtifactError(
                f"model.onnx returned scores of shape {out.shape}, expected "
                f"{(item_seq.shape[0], self.n_items)}"
            )
        return out

    def top_indices(self, item_seq: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
        """Top-k graph -> ``(rows, k)`` 0-based score columns, best first.

        ``exclude`` holds model indices to exclude per row (0 = nothing); ``None`` = none.
        """
        item_seq = np.ascontiguousarray(item_seq, dtype=np.int64)
        if exclude is None:
            rows = item_seq.shape[0]
            exclude = _NO_EXCLUSION if rows == 1 else np.zeros((rows, 1), dtype=np.int64)
        (out,) = _run(
            self._topk, "model_topk.onnx", ["top_indices"],
            {"item_seq": item_seq, "exclude_items": exclude},
        )
        if out.shape != (item_seq.shape[0], self.k):
            raise ArtifactError(
                f"model_topk.onnx returned top_indices of shape {out.shape}, expected "
                f"{(item_seq.shape[0], self.k)}"
            )
        return out


def exclusion_matrix(seqs: Sequences, start: int, stop: int, n_items: int) -> np.ndarray:
    """Distinct known items of rows ``start:stop`` (whole history), 0-padded on the right.

    Returns an ``(stop - start, max(1, most distinct items))`` int64 matrix of model
    indices: the ``exclude_items`` input of the top-k graph.
    """
    lo, hi = seqs.history_ptr[start], seqs.history_ptr[stop]
    rows = np.repeat(np.arange(stop - start), np.diff(seqs.history_ptr[start : stop + 1]))
    keys = np.unique(rows * (n_items + 1) + seqs.history_items[lo:hi])
    rows, items = keys // (n_items + 1), keys % (n_items + 1)
    counts = np.bincount(rows, minlength=stop - start)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    matrix = np.zeros((stop - start, max(1, int(counts.max(initial=0)))), dtype=np.int64)
    matrix[rows, np.arange(len(rows)) - first[rows]] = items
    return matrix
