"""Export validation: named errors, atomic writes, opset fallback, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from seqrec_export import (
    ExportValidationError,
    OutputNamesMismatchError,
    ShapeMismatchError,
    ToleranceError,
    TopKMismatchError,
    export_onnx,
    onnx_graphs,
    validation,
)
from seqrec_export.config import graph_specs
from seqrec_export.validation import validate_export, validation_inputs
from seqrec_trainer.errors import NotFittedError


class Shifted(torch.nn.Module):
    """The trained network plus a constant: ONNX (unshifted) no longer matches."""

    def __init__(self, network, shift):
        super().__init__()
        self.network, self.shift = network, shift

    def forward(self, item_seq):
        return self.network(item_seq) + self.shift


def test_validation_inputs_cover_other_shapes_and_padding():
    batches = validation_inputs(n_items=50, max_len=16)
    shapes = {b.shape for b in batches}
    assert {(1, 1), (33, 16)} <= shapes and len({s[0] for s in shapes}) >= 4
    assert any((b == 0).all(axis=1).any() for b in batches)  # fully padded rows
    assert all(b.max() <= 50 and b.min() >= 0 for b in batches)


def test_tolerance_error_when_graph_differs_from_torch(exported, export_recommender):
    network = export_recommender.scorer.estimator.network_
    n_items = len(export_recommender.item_ids_)
    specs = graph_specs(n_items, 20)
    batches = validation_inputs(n_items, 16)
    validate_export(network, exported, specs, 20, 1e-4, batches)  # the real one passes
    with pytest.raises(ToleranceError, match="atol"):
        validate_export(Shifted(network, 1e-2), exported, specs, 20, 1e-4, batches)


def test_names_and_shape_errors_are_named(exported, export_recommender):
    network = export_recommender.scorer.estimator.network_
    n_items = len(export_recommender.item_ids_)
    batches = validation_inputs(n_items, 16)
    scores, topk = graph_specs(n_items, 20)
    renamed = scores.__class__(scores.key, scores.file, scores.inputs,
                               (scores.outputs[0].__class__("logits", "float32", ("batch",)),))
    with pytest.raises(OutputNamesMismatchError, match="logits"):
        validate_export(network, exported, (renamed, topk), 20, 1e-4, batches)
    with pytest.raises(ShapeMismatchError):
        validate_export(network, exported, (scores, topk), 5, 1e-4, batches)
    assert issubclass(TopKMismatchError, ExportValidationError)
    assert issubclass(ExportValidationError, ValueError)


def test_topk_mismatch_beyond_ties_is_detected():
    expected = np.array([[0.0, 1.0, 2.0, 3.0]], dtype=np.float32)
    exclude = np.zeros((1, 1), dtype=np.int64)
    validation._check_topk(expected, exclude, np.array([[3, 2]]), 2, 1e-4, (1, 4))
    with pytest.raises(TopKMismatchError):
        validation._check_topk(expected, exclude, np.array([[3, 1]]), 2, 1e-4, (1, 4))


def test_failed_export_leaves_previous_artifact_intact(exported, export_recommender,
                                                       tmp_path, monkeypatch):
    target = tmp_path / "artifact"
    target.mkdir()
    for child in exported.iterdir():
        (target / child.name).write_bytes(child.read_bytes())
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(*args, **kwargs):
        raise ToleranceError("simulated mismatch")

    monkeypatch.setattr("seqrec_export.api.validate_export", broken)
    with pytest.raises(ToleranceError):
        export_onnx(export_recommender, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["artifact"]  # no temp dirs left


def test_opset_falls_back_when_runtime_cannot_run_preferred(monkeypatch, tmp_path,
                                                            export_recommender):
    calls = []
    monkeypatch.setattr(onnx_graphs, "runtime_supports", lambda path: False)
    real = onnx_graphs.export_graphs

    def spy(*args):
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(onnx_graphs, "export_graphs", spy)
    out = export_onnx(export_recommender, tmp_path / "a")
    assert calls == [onnx_graphs.PREFERRED_OPSET, onnx_graphs.FALLBACK_OPSET]
    assert json.loads((out / "manifest.json").read_text())["opset"] == onnx_graphs.FALLBACK_OPSET


def test_export_refuses_untrained_and_wrong_objects(tmp_path, export_recommender):
    from seqrec_trainer import SASRecClassifierEstimator, SequentialRecommender, SequentialScorer

    untrained = SequentialRecommender(SequentialScorer(SASRecClassifierEstimator()))
    with pytest.raises(NotFittedError):
        export_onnx(untrained, tmp_path / "x")
    with pytest.raises(TypeError, match="SequentialRecommender"):
        export_onnx(object(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_train_export_recommend(tmp_path, export_data, capsys):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    from seqrec_cli.main import main

    csv = tmp_path / "train.csv"
    pcsv.write_csv(pa.table(export_data), csv)
    assert main(["train", "--interactions", str(csv), "--output", str(tmp_path / "m"),
                 "--max-len", "8", "--epochs", "1", "--hidden-units", "8",
                 "--verbose", "0"]) == 0
    assert main(["export", str(tmp_path / "m"), str(tmp_path / "a"), "--top-k", "5"]) == 0
    assert main(["recommend", str(tmp_path / "a"), "--interactions", str(csv), "--top-k", "3",
                 "--output", str(tmp_path / "recs.csv")]) == 0
    lines = (tmp_path / "recs.csv").read_text().splitlines()
    assert lines[0] == "USER_ID,RANK,ITEM_ID,SCORE"
    assert len(lines) == 1 + 3 * len(np.unique(export_data["USER_ID"]))
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "b")]) == 2
    assert "missing" in capsys.readouterr().err


def test_check_topk_reports_whether_the_ranking_is_identical():
    scores = np.array([[0.0, 1.0, 1.0 + 1e-6, 3.0]], dtype=np.float32)
    exclude = np.zeros((1, 1), dtype=np.int64)
    assert validation._check_topk(scores, exclude, np.array([[3, 2]]), 2, 1e-4, (1, 4))
    # a swap between items tied within atol is accepted, but the ranking is not identical
    assert not validation._check_topk(scores, exclude, np.array([[3, 1]]), 2, 1e-4, (1, 4))


def test_a_graph_onnxruntime_cannot_load_fails_validation(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ExportValidationError, match="cannot load the exported model.onnx"):
        validation._session(tmp_path / "model.onnx")


@pytest.mark.parametrize("kwargs, error", [
    ({"top_k": 0}, "InvalidParameterError"), ({"top_k": -5}, "InvalidParameterError"),
    ({"top_k": 2.5}, "InvalidParameterTypeError"), ({"atol": float("nan")},
                                                     "InvalidParameterError"),
    ({"atol": -1e-4}, "InvalidParameterError"), ({"opset": 0}, "InvalidParameterError"),
    ({"opset": 17}, "InvalidParameterError"), ({"opset": 5}, "InvalidParameterError"),
])
def test_bad_export_parameters_are_refused_before_exporting(export_recommender, tmp_path,
                                                            kwargs, error):
    """``top_k=0`` used to become 1 silently and ``atol=nan`` accepted any difference."""
    with pytest.raises(Exception) as info:
        export_onnx(export_recommender, tmp_path / "a", **kwargs)
    assert type(info.value).__name__ == error
    assert not (tmp_path / "a").exists()
    if "opset" in kwargs and kwargs["opset"] > 0:
        assert "opset must be >= 18" in str(info.value)


def test_export_never_replaces_what_is_not_an_artifact(export_recommender, tmp_path):
    """Replacing output_dir used to delete whatever was there: a file, an unrelated
    directory, even the model directory being exported."""
    from seqrec_trainer.errors import InvalidParameterError

    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "keep.txt").write_text("precious")
    a_file = tmp_path / "data.csv"
    a_file.write_text("USER_ID,ITEM_ID,TIMESTAMP\n")
    model_dir = export_recommender.save(tmp_path / "model")
    cases = [(export_recommender, unrelated, "not a seqrec artifact"),
             (export_recommender, a_file, "not a directory"),
             (model_dir, model_dir, "would delete the model"),
             (model_dir, tmp_path, "would delete the model")]
    for source, target, message in cases:
        with pytest.raises(InvalidParameterError, match=message):
            export_onnx(source, target)
    assert (unrelated / "keep.txt").read_text() == "precious"
    assert a_file.read_text() == "USER_ID,ITEM_ID,TIMESTAMP\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "model", "notes"]
    from seqrec_trainer import SequentialRecommender

    SequentialRecommender.load(model_dir)


def test_an_opset_the_exporter_cannot_produce_is_an_error(export_recommender, tmp_path,
                                                          monkeypatch):
    """torch keeps its own opset when it cannot convert (``--opset 5`` wrote opset-18
    graphs under a manifest saying 5); now nothing is written."""
    import shutil
    from pathlib import Path

    from seqrec_trainer.errors import InvalidParameterError

    golden = Path(__file__).resolve().parents[1] / "runtime" / "golden"

    def opset23_graphs(network, max_len, n_items, k, specs, directory, opset):
        for spec in specs:
            shutil.copyfile(golden / spec.file, directory / spec.file)

    monkeypatch.setattr(onnx_graphs, "export_graphs", opset23_graphs)
    with pytest.raises(InvalidParameterError, match="cannot produce opset 18"):
        export_onnx(export_recommender, tmp_path / "a", opset=18)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_refusals_exit_2_without_a_traceback(tmp_path, export_recommender, capsys):
    from seqrec_cli.main import main

    model_dir = export_recommender.save(tmp_path / "model")
    assert main(["export", str(model_dir), str(model_dir)]) == 2
    assert main(["export", str(model_dir), str(tmp_path / "a"), "--top-k", "0"]) == 2
    err = capsys.readouterr().err
    assert "would delete the model" in err and "top_k must be >= 1" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
