"""The exported artifact: files, manifest, parity with torch through the runtime."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import seqrec_runtime
from seqrec_trainer.io import sha256_file


def test_artifact_has_exactly_the_documented_files(exported):
    assert sorted(p.name for p in exported.iterdir()) == [
        "manifest.json", "model.onnx", "model_topk.onnx", "validation_report.json"
    ]
    assert not list(exported.parent.glob(".artifact.tmp-*"))


def test_manifest_describes_the_model(exported, export_recommender):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["format"] == "seqrec-onnx-artifact"
    assert manifest["format_version"] == 1
    assert manifest["max_len"] == 16 and manifest["pad_index"] == 0
    assert manifest["n_items"] == len(export_recommender.item_ids_)
    assert manifest["item_ids"]["dtype"] == "int64"
    assert manifest["item_ids"]["values"] == export_recommender.item_ids_.tolist()
    assert manifest["estimator_kind"] == "classifier"
    assert manifest["opset"] >= 18
    assert manifest["graphs"]["topk"]["k"] == 20
    for name, digest in manifest["files"].items():
        assert sha256_file(exported / name) == digest
    validation = manifest["training"]["export_validation"]
    assert validation["max_abs_score_diff"] <= 1e-4
    assert len(validation["cases_batch_x_len"]) >= 10
    assert "validation_report.json" in manifest["files"]


def test_full_validation_report_is_written_case_by_case(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    report = json.loads((exported / "validation_report.json").read_text())
    short = manifest["training"]["export_validation"]
    assert report["max_abs_score_diff"] == short["max_abs_score_diff"]
    assert report["atol"] == 1e-4
    cases = report["cases"]
    assert [[c["batch"], c["seq_len"]] for c in cases] == short["cases_batch_x_len"]
    assert max(c["max_abs_score_diff"] for c in cases) == report["max_abs_score_diff"]
    rows = sum(c["rows"] for c in cases)
    same = sum(c["rows_topk_identical"] for c in cases)
    assert 0 < same <= rows and report["topk_agreement"] == same / rows


@pytest.fixture(scope="module")
def runtime(exported):
    return seqrec_runtime.load(exported)


def test_runtime_scores_match_torch(runtime, export_recommender, export_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        users_t, torch_scores = export_recommender.score_items(export_data, return_user_ids=True)
        users_r, onnx_scores = runtime.score_items(export_data, return_user_ids=True)
    np.testing.assert_array_equal(users_t, users_r)
    assert onnx_scores.dtype == np.float32 and onnx_scores.shape == torch_scores.shape
    assert np.abs(onnx_scores - torch_scores).max() <= 1e-4


@pytest.mark.parametrize("exclude_seen", [False, True])
def test_runtime_top10_matches_torch_for_every_user(runtime, export_recommender, export_data,
                                                   exclude_seen):
    torch_recs = export_recommender.recommend(export_data, top_k=10, exclude_seen=exclude_seen)
    onnx_recs = runtime.recommend(export_data, top_k=10, exclude_seen=exclude_seen)
    np.testing.assert_array_equal(torch_recs, onnx_recs)


def test_runtime_sampling_matches_torch_under_same_seed(runtime, export_recommender,
                                                        export_data):
    kwargs = {"top_k": 10, "sampling_temperature": 0.8, "random_state": 42}
    np.testing.assert_array_equal(export_recommender.recommend(export_data, **kwargs),
                                  runtime.recommend(export_data, **kwargs))


def test_topk_graph_path_equals_scores_path(runtime, export_data):
    via_graph = runtime.recommend(export_data, top_k=20)  # k of the graph
    via_numpy = runtime.recommend(export_data, top_k=21)[:, :20]  # beyond k: numpy ranking
    np.testing.assert_array_equal(via_graph, via_numpy)
