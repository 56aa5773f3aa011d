"""Declarative description of what an export produces (optimum style)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """The two graphs: full scores and in-graph top-k.

    With an item prior (format version 2) both also take ``history_items``, the distinct
    items of each user's whole history (0-padded on the right).
    """
    item_seq = TensorSpec("item_seq", "int64", ("batch", "seq_len"))
    history = (TensorSpec("history_items", "int64", ("batch", "n_history")),) if item_prior else ()
    scores = GraphSpec(
        "scores", "model.onnx", (item_seq, *history),
        (TensorSpec("scores", "float32", ("batch", n_items)),),
    )
    topk = GraphSpec(
        "topk", "model_topk.onnx",
        (item_seq, TensorSpec("exclude_items", "int64", ("batch", "n_exclude")), *history),
        (TensorSpec("top_scores", "float32", ("batch", k)),
         TensorSpec("top_indices", "int64", ("batch", k))),
        extra={"k": k},
    )
    return scores, topk
