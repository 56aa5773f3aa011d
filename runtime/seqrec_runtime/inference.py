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

_NO_EXCLUSION = np.zeros((1, 1), dtype=np.int64)
_NO_EXCLUSION.flags.writeable = False


def _run(session: Any, name: str, outputs: list[str], feeds: dict[str, np.ndarray]) -> list:
    """``session.run`` with onnxruntime's own exceptions turned into :class:`ArtifactError`.

    The runtime only feeds int64 index matrices with indices in 0..n_items (``item_seq``
    of width <= max_len), so a graph that fails on one does not match its manifest.
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
        #: The graphs include an item prior and take ``history_items`` too.
        self.with_history = artifact.item_prior
        #: Both graphs are one ONNX model: a scores call feeds ``exclude_items`` too.
        self.shared = artifact.graphs["scores"].shared

    def _feeds(self, item_seq: np.ndarray, history: np.ndarray | None) -> dict[str, np.ndarray]:
        feeds = {"item_seq": item_seq}
        if self.with_history:
            if history is None:
                raise ArtifactError(
                    "this artifact has an item prior: its graphs need history_items (the "
                    "distinct items of each user's whole history)"
                )
            feeds["history_items"] = np.ascontiguousarray(history, dtype=np.int64)
        return feeds

    def scores(self, item_seq: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Scores graph on a ``(rows, width)`` left-padded batch -> ``(rows, n_items)``.

        ``history``: the ``history_items`` input (artifacts with an item prior only).
        This is the ``score_fn`` of :mod:`seqrec_runtime.batch`.
        """
        item_seq = np.ascontiguousarray(item_seq, dtype=np.int64)
        feeds = self._feeds(item_seq, history)
        if self.shared:
            rows = item_seq.shape[0]
            feeds["exclude_items"] = _NO_EXCLUSION if rows == 1 else np.zeros((rows, 1), np.int64)
        (out,) = _run(self._scores, "model.onnx", ["scores"], feeds)
        if out.shape != (item_seq.shape[0], self.n_items):
            raise ArtifactError(
                f"model.onnx returned scores of shape {out.shape}, expected "
                f"{(item_seq.shape[0], self.n_items)}"
            )
        return out

    def top_k(
        self, item_seq: np.ndarray, exclude: np.ndarray, history: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k graph -> ``(top_scores, top_indices)``, each ``(rows, k)``, best first.

        ``exclude`` holds model indices to exclude per row (0 = nothing);
        ``history``: the ``history_items`` input (artifacts with an item prior only).
        """
        feeds = self._feeds(np.ascontiguousarray(item_seq, dtype=np.int64), history)
        feeds["exclude_items"] = exclude
        top_scores, top = _run(self._topk, "model_topk.onnx", ["top_scores", "top_indices"],
                               feeds)
        if top.shape != (item_seq.shape[0], self.k):
            raise ArtifactError(
                f"model_topk.onnx returned top_indices of shape {top.shape}, expected "
                f"{(item_seq.shape[0], self.k)}"
            )
        return top_scores, top

    def top_indices(
        self, item_seq: np.ndarray, exclude: np.ndarray | None,
        history: np.ndarray | None = None,
    ) -> np.ndarray:
        """Top-k graph -> ``(rows, k)`` 0-based score columns, best first.

        ``exclude`` holds model indices to exclude per row (0 = nothing); ``None`` = none.
        ``history``: the ``history_items`` input (artifacts with an item prior only).
        """
        item_seq = np.ascontiguousarray(item_seq, dtype=np.int64)
        if exclude is None:
            rows = item_seq.shape[0]
            exclude = _NO_EXCLUSION if rows == 1 else np.zeros((rows, 1), dtype=np.int64)
        feeds = self._feeds(item_seq, history)
        feeds["exclude_items"] = exclude
        (out,) = _run(self._topk, "model_topk.onnx", ["top_indices"], feeds)
        if out.shape != (item_seq.shape[0], self.k):
            raise ArtifactError(
                f"model_topk.onnx returned top_indices of shape {out.shape}, expected "
                f"{(item_seq.shape[0], self.k)}"
            )
        return out
