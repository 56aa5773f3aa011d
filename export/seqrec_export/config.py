"""Declarative description of what an export produces (optimum style)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqrec_runtime.artifact import (
    GRAPH_FILES,
    HISTORY_INPUT,
    SHARED_GRAPH_FILE,
    graph_io,
    shared_graph_io,
)

#: Preferred opset: 23 exports SDPA as the fused ONNX ``Attention`` op, which onnxruntime
#: runs faster than the unfused graph. Fallback when the installed onnxruntime cannot run it.
PREFERRED_OPSET = 23
FALLBACK_OPSET = 18
DEFAULT_TOP_K = 100
DEFAULT_ATOL = 1e-4


@dataclass(frozen=True)
class TensorSpec:
    """Name, dtype and symbolic shape of one graph input or output."""

    name: str
    dtype: str
    shape: tuple[str | int, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX file of the artifact."""

    key: str
    file: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "file": self.file,
            **self.extra,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
        }


def graph_specs(n_items: int, k: int, item_prior: bool = False) -> tuple[GraphSpec, GraphSpec]:
    """The two graphs: full scores and in-graph top-k (names from :mod:`seqrec_runtime.artifact`).

    With an item prior (format version 3) both also take ``history_items``, the distinct
    items of each user's whole history (0-padded on the right), and both live in one file
    (:func:`shared_spec`), so the prior's matrix is stored once.
    """
    shapes: dict[str, tuple[str | int, ...]] = {
        "item_seq": ("batch", "seq_len"), "exclude_items": ("batch", "n_exclude"),
        "history_items": ("batch", "n_history"), "scores": ("batch", n_items),
        "top_scores": ("batch", k), "top_indices": ("batch", k),
    }

    def tensors(pairs: list[tuple[str, str]]) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec(name, dtype, shapes[name]) for name, dtype in pairs)

    files = ({name: SHARED_GRAPH_FILE for name in GRAPH_FILES} if item_prior
             else GRAPH_FILES)
    scores_io = graph_io("scores", item_prior)
    topk_io = graph_io("topk", item_prior)
    scores = GraphSpec("scores", files["scores"], tensors(scores_io[0]), tensors(scores_io[1]))
    topk = GraphSpec("topk", files["topk"], tensors(topk_io[0]), tensors(topk_io[1]),
                     extra={"k": k})
    return scores, topk


def shared_spec(specs: tuple[GraphSpec, GraphSpec]) -> GraphSpec | None:
    """The one-file graph holding both ``specs`` (their union of inputs and outputs), or
    None when each has its own file."""
    scores, topk = specs
    if scores.file != topk.file:
        return None
    item_prior = any(t.name == HISTORY_INPUT[0] for t in scores.inputs)
    inputs, outputs = shared_graph_io(item_prior)
    by_name = {t.name: t for t in (*scores.inputs, *topk.inputs, *scores.outputs,
                                   *topk.outputs)}
    return GraphSpec("shared", scores.file, tuple(by_name[n] for n, _ in inputs),
                     tuple(by_name[n] for n, _ in outputs))
