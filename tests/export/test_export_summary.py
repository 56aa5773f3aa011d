"""What ``seqrec export`` tells the user: a short summary, a size warning, the report file."""

from __future__ import annotations

import json
import warnings

import pytest
import seqrec_export.api as export_api
from seqrec_cli.main import export_summary, main
from seqrec_export import LargeArtifactWarning, export_onnx
from seqrec_runtime.errors import UnsupportedFormatError
from seqrec_trainer import SequentialRecommender


def test_summary_is_short_and_names_the_report(exported):
    text = export_summary(exported)
    lines = text.splitlines()
    assert len(lines) == 4
    report = json.loads((exported / "validation_report.json").read_text())
    assert f"{report['max_abs_score_diff']:.2g}" in lines[1] and "top-20 identical" in lines[1]
    assert "model.onnx" in lines[2] and "model_topk.onnx" in lines[2] and "total" in lines[2]
    assert lines[3].endswith("validation_report.json")


def test_cli_export_prints_the_summary_and_warns_about_size(tmp_path, export_recommender,
                                                            monkeypatch, capsys):
    network = export_recommender.scorer.estimator.network_
    weights = export_api.estimated_artifact_bytes(network)
    monkeypatch.setattr(export_api, "LARGE_ARTIFACT_BYTES", weights - 1)
    model = export_recommender.save(tmp_path / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own warnings
        warnings.simplefilter("always", LargeArtifactWarning)
        assert main(["export", str(model), str(tmp_path / "artifact"), "--top-k", "5"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"exported {tmp_path / 'artifact'}")
    assert "{" not in captured.out and len(captured.out.splitlines()) == 4
    assert "seqrec export: warning: the artifact" in captured.err
    assert "(LargeArtifactWarning)" in captured.err
    for graph in (tmp_path / "artifact").glob("*.onnx"):  # each holds the weights (no prior)
        assert weights <= graph.stat().st_size < weights + 200_000


def test_the_size_warning_comes_before_the_export_and_points_at_the_caller(
        tmp_path, export_recommender, monkeypatch):
    network = export_recommender.scorer.estimator.network_
    weights = export_api.estimated_artifact_bytes(network)

    def no_export(*args, **kwargs):
        raise RuntimeError("not exported")

    monkeypatch.setattr(export_api, "choose_and_export", no_export)
    monkeypatch.setattr(export_api, "LARGE_ARTIFACT_BYTES", weights - 1)
    with pytest.warns(LargeArtifactWarning, match="MB") as caught, \
            pytest.raises(RuntimeError, match="not exported"):
        export_onnx(export_recommender, tmp_path / "big", top_k=5)
    assert caught[0].filename == __file__  # points at the caller, not at seqrec's code
    assert not (tmp_path / "big").exists()
    monkeypatch.setattr(export_api, "LARGE_ARTIFACT_BYTES", weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LargeArtifactWarning)
        export_api._warn_if_large(network, tmp_path / "small")  # at the limit: no warning


def test_loading_an_artifact_as_a_model_points_to_the_runtime(exported):
    with pytest.raises(UnsupportedFormatError, match=r"seqrec_runtime\.load"):
        SequentialRecommender.load(exported)
