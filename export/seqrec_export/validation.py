"""Prove an exported graph matches torch before the artifact is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from .config import GraphSpec, shared_spec
from .errors import (
    ExportValidationError,
    OutputNamesMismatchError,
    ShapeMismatchError,
    ToleranceError,
    TopKMismatchError,
)


@dataclass
class ValidationReport:
    """What was compared and the worst differences seen.

    ``case_details`` holds one entry per input batch: its shape, the largest score
    difference and the share of its rows whose in-graph top-k equals torch's exactly.
    """

    cases: list[tuple[int, int]]
    max_abs_diff: float
    topk_identical: bool
    case_details: list[dict] = field(default_factory=list)

    @property
    def topk_agreement(self) -> float:
        """Share of all validated rows whose in-graph top-k equals torch's exactly (the
        others differ only between items whose torch scores tie within ``atol``)."""
        rows = sum(c["rows"] for c in self.case_details)
        same = sum(c["rows_topk_identical"] for c in self.case_details)
        return same / rows if rows else 1.0

    def to_json(self) -> dict:
        """The short form kept in the manifest."""
        return {
            "cases_batch_x_len": [list(c) for c in self.cases],
            "max_abs_score_diff": self.max_abs_diff,
            "topk_identical": self.topk_identical,
        }

    def full_report(self) -> dict:
        """Everything compared, case by case (written to ``validation_report.json``)."""
        return {**self.to_json(), "topk_agreement": self.topk_agreement,
                "cases": self.case_details}


def validation_inputs(
    n_items: int, max_len: int, seed: int = 1234, sequences: np.ndarray | None = None
) -> list[np.ndarray]:
    """Left-padded index batches at shapes other than the export example.

    Batch sizes 1, 2, 5 and 33; widths 1, a trimmed middle width and ``max_len``; rows
    with heavy left padding, fully padded rows and, when given, real ``sequences``.
    """
    rng = np.random.default_rng(seed)
    widths = sorted({1, max(1, max_len // 3), max_len})
    batches = []
    for batch in (1, 2, 5, 33):
        for width in widths:
            items = rng.integers(1, n_items + 1, size=(batch, width))
            if width > 1:
                lengths = rng.integers(1, width + 1, size=batch)
                lengths[0] = 1  # heavy left padding
                items[np.arange(width)[None, :] < (width - lengths)[:, None]] = 0
            batches.append(items.astype(np.int64))
    padded = np.zeros((3, max_len), dtype=np.int64)
    padded[1, -1] = 1
    batches.append(padded)
    if sequences is not None and len(sequences):
        batches.append(np.asarray(sequences[:64, -max_len:], dtype=np.int64))
    return batches


def _check_names(session: ort.InferenceSession, spec: GraphSpec) -> None:
    got_in = [i.name for i in session.get_inputs()]
    got_out = [o.name for o in session.get_outputs()]
    want_in = [t.name for t in spec.inputs]
    want_out = [t.name for t in spec.outputs]
    if got_in != want_in or got_out != want_out:
        raise OutputNamesMismatchError(
            f"{spec.file}: graph has inputs {got_in} / outputs {got_out}, expected "
            f"{want_in} / {want_out}"
        )


def validate_export(
    network: nn.Module,
    directory: Path,
    specs: tuple[GraphSpec, GraphSpec],
    k: int,
    atol: float,
    batches: list[np.ndarray],
) -> ValidationReport:
    """Run both graphs in onnxruntime on ``batches`` and compare with torch.

    Raises
    ------
    OutputNamesMismatchError, ShapeMismatchError, ToleranceError, TopKMismatchError
    """
    scores_spec, topk_spec = specs
    shared = shared_spec(specs)
    scores_session = _session(directory / scores_spec.file)
    if shared is None:
        topk_session = _session(directory / topk_spec.file)
        _check_names(scores_session, scores_spec)
        _check_names(topk_session, topk_spec)
    else:  # both graphs in one model
        topk_session = scores_session
        _check_names(scores_session, shared)
    worst, cases, identical, details = 0.0, [], True, []
    network.eval()
    with_history = getattr(network, "has_item_prior", False)
    rng = np.random.default_rng(4321)
    n_items = int(scores_spec.outputs[0].shape[1])  # scores: (batch, n_items)
    for items in batches:
        feeds = {"item_seq": items}
        args: tuple[torch.Tensor, ...] = (torch.as_tensor(items),)
        if with_history:
            feeds["history_items"] = _history_for(items, n_items, rng)
            args += (torch.as_tensor(feeds["history_items"]),)
        with torch.no_grad():
            expected = network(*args).numpy()
        no_exclusion = {"exclude_items": np.zeros((items.shape[0], 1), np.int64)}
        got = scores_session.run(["scores"], {**feeds, **no_exclusion} if shared else feeds)[0]
        if got.shape != expected.shape:
            raise ShapeMismatchError(
                f"scores for input {items.shape}: onnx {got.shape} vs torch {expected.shape}"
            )
        diff = float(np.abs(got - expected).max())
        if not np.isfinite(got).all() or diff > atol:
            raise ToleranceError(
                f"scores for input {items.shape} differ by {diff:.3g} > atol={atol:g} "
                "(or contain NaN/inf)"
            )
        worst = max(worst, diff)
        exclude = items if items.shape[0] % 2 else np.zeros((items.shape[0], 1), np.int64)
        top_scores, top_idx = topk_session.run(["top_scores", "top_indices"],
                                               {**feeds, "exclude_items": exclude})
        if top_idx.shape != (items.shape[0], k):
            raise ShapeMismatchError(f"top_indices shape {top_idx.shape} != {(items.shape[0], k)}")
        same_rows = _check_topk(expected, exclude, top_idx, k, atol, items.shape)
        identical &= bool(same_rows.all())
        cases.append(items.shape)
        details.append({"batch": int(items.shape[0]), "seq_len": int(items.shape[1]),
                        "max_abs_score_diff": diff, "rows": int(items.shape[0]),
                        "rows_topk_identical": int(same_rows.sum())})
    return ValidationReport(cases, worst, identical, details)


def _session(path: Path) -> ort.InferenceSession:
    """An onnxruntime session for ``path``; a graph it cannot load fails validation."""
    try:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        raise ExportValidationError(
            f"onnxruntime {ort.__version__} cannot load the exported {path.name} "
            f"(check the opset; omit it to use the default): {exc}"
        ) from exc


def _history_for(items: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """A ``history_items`` batch for ``items``: the rows' own items plus older ones,
    with repeats and right padding (the graph must treat each distinct item once)."""
    older = rng.integers(0, n_items + 1, size=(items.shape[0], 7))
    older[:, -2:] = 0
    return np.concatenate([items, older, items[:, -1:]], axis=1).astype(np.int64)


def _check_topk(
    expected: np.ndarray, exclude: np.ndarray, got_idx: np.ndarray, k: int, atol: float,
    shape: tuple[int, ...],
) -> np.ndarray:
    """Per row, whether the in-graph top-k equals torch's exactly. Rows may differ only
    between items whose torch scores tie within ``atol``; otherwise TopKMismatchError."""
    masked = np.concatenate([np.full((len(expected), 1), -np.inf, np.float32), expected], axis=1)
    np.put_along_axis(masked, exclude, -np.inf, axis=1)
    masked = masked[:, 1:]
    want = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    differ = want != got_idx
    if not differ.any():
        return np.ones(len(expected), dtype=bool)
    # Differences are acceptable only between items whose torch scores tie within atol.
    gap = np.abs(
        np.take_along_axis(masked, want, 1) - np.take_along_axis(masked, got_idx, 1)
    )[differ]
    if not (gap <= atol).all():
        raise TopKMismatchError(
            f"in-graph top-{k} for input {shape} picks other items than torch "
            f"(score gap up to {gap.max():.3g})"
        )
    return ~differ.any(axis=1)
