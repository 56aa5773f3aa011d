"""Run the dynamo ONNX exporter for both graphs of an artifact."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from seqrec_runtime.errors import InvalidParameterError
from torch import nn

from .config import FALLBACK_OPSET, PREFERRED_OPSET, GraphSpec, shared_spec
from .modules import ScoresAndTopKGraph, ScoresGraph, TopKGraph

logger = logging.getLogger("seqrec")


def _dims(max_len: int):
    batch = torch.export.Dim("batch", min=1, max=2**31 - 1)
    seq_len = torch.export.Dim("seq_len", min=1, max=max_len)
    n_exclude = torch.export.Dim("n_exclude", min=1, max=2**31 - 1)
    n_history = torch.export.Dim("n_history", min=1, max=2**31 - 1)
    return batch, seq_len, n_exclude, n_history


def export_graph(module: nn.Module, args: tuple, spec: GraphSpec, path: Path, opset: int,
                 dynamic_shapes: dict) -> None:
    """Export ``module`` to a single-file ONNX model at ``path``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch").setLevel(logging.ERROR)
        torch.onnx.export(
            module.eval(),
            args,
            str(path),
            dynamo=True,
            opset_version=opset,
            external_data=False,
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_shapes=dynamic_shapes,
            verbose=False,
        )


def strip_debug_metadata(path: Path) -> None:
    """Drop the exporter's per-node debug metadata (stack traces, FX names): ~85% of a small
    model's bytes, useless at serving time."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for info in model.graph.value_info:
        del info.metadata_props[:]
    onnx.save(model, str(path))


def export_graphs(network: nn.Module, max_len: int, n_items: int, k: int,
                  specs: tuple[GraphSpec, GraphSpec], directory: Path, opset: int) -> None:
    """Write the graphs of ``specs`` into ``directory``.

    Without an item prior: ``model.onnx`` (scores) and ``model_topk.onnx`` (top-k). With
    one: a single ``model.onnx`` taking ``history_items`` too and giving both graphs'
    outputs (the prior's matrix would otherwise be stored, and loaded, twice).
    """
    batch, seq_len, n_exclude, n_history = _dims(max_len)
    rng = np.random.default_rng(0)
    example = torch.as_tensor(rng.integers(1, n_items + 1, size=(3, max(2, max_len))))
    example[0, : example.shape[1] // 2] = 0
    exclude = torch.as_tensor(rng.integers(0, n_items + 1, size=(3, 4)))
    seq_dims = {"item_seq": {0: batch, 1: seq_len}}
    exclude_dims = {"exclude_items": {0: batch, 1: n_exclude}}
    scores_spec, topk_spec = specs
    if not getattr(network, "has_item_prior", False):
        export_graph(ScoresGraph(network), (example,), scores_spec,
                     directory / scores_spec.file, opset, seq_dims)
        export_graph(TopKGraph(network, k), (example, exclude), topk_spec,
                     directory / topk_spec.file, opset, {**seq_dims, **exclude_dims})
    else:  # one model with both graphs' outputs: the prior's matrix is stored once
        history = torch.as_tensor(rng.integers(0, n_items + 1, size=(3, 5)))
        history_dims = {"history_items": {0: batch, 1: n_history}}
        spec = shared_spec(specs)
        assert spec is not None  # graph_specs puts both graphs of a prior in one file
        export_graph(ScoresAndTopKGraph(network, k), (example, exclude, history), spec,
                     directory / spec.file, opset,
                     {**seq_dims, **exclude_dims, **history_dims})
    for file in sorted({spec.file for spec in specs}):
        strip_debug_metadata(directory / file)


def graph_opset(path: Path) -> int | None:
    """The default-domain opset an ONNX file imports (None when it imports none)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return int(versions[0]) if versions else None


def runtime_supports(path: Path) -> bool:
    """Whether the installed onnxruntime can load ``path`` (e.g. its opset)."""
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        logger.info("onnxruntime %s cannot load %s: %s", ort.__version__, path.name, exc)
        return False
    return True


def choose_and_export(network: nn.Module, max_len: int, n_items: int, k: int,
                      specs: tuple[GraphSpec, GraphSpec], directory: Path,
                      opset: int | None) -> int:
    """Export at ``opset`` (or the preferred one, falling back to 18); return the opset used."""
    if opset is not None:
        export_graphs(network, max_len, n_items, k, specs, directory, opset)
        for spec in specs:  # the exporter silently keeps its own opset when it cannot convert
            actual = graph_opset(directory / spec.file)
            if actual != opset:
                raise InvalidParameterError(
                    f"torch's exporter cannot produce opset {opset} for this model (it wrote "
                    f"opset {actual}); omit --opset/opset= to use {PREFERRED_OPSET} (or "
                    f"{FALLBACK_OPSET} when onnxruntime cannot run {PREFERRED_OPSET})"
                )
        return opset
    export_graphs(network, max_len, n_items, k, specs, directory, PREFERRED_OPSET)
    if all(runtime_supports(directory / file) for file in sorted({s.file for s in specs})):
        return PREFERRED_OPSET
    logger.warning(
        "onnxruntime %s cannot run opset %d graphs; exporting opset %d instead",
        ort.__version__, PREFERRED_OPSET, FALLBACK_OPSET,
    )
    export_graphs(network, max_len, n_items, k, specs, directory, FALLBACK_OPSET)
    return FALLBACK_OPSET
