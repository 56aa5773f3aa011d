"""Artifacts of models with an item prior: format version 3, ``history_items``, parity."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import seqrec_runtime
from seqrec_runtime.errors import ArtifactError
from seqrec_trainer import SequentialRecommender

MAX_LEN = 6  # shorter than most histories (3..30 items): the prior reads beyond the window
# every test runs for each kind
KINDS = {"ease": {}, "low_rank": {"item_prior_rank": 8}, "transitions": {}}


@pytest.fixture(scope="module", params=sorted(KINDS))
def prior_kind(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def prior_recommender(export_data, make_ce_model, prior_kind) -> SequentialRecommender:
    return make_ce_model(export_data, max_len=MAX_LEN, num_blocks=1, num_heads=1, epochs=2,
                          item_prior_weight=3.0, item_prior_l2=5.0,
                          item_prior_kind=prior_kind, **KINDS[prior_kind])


@pytest.fixture(scope="module")
def prior_artifact(prior_recommender, tmp_path_factory, export_artifact):
    return export_artifact(prior_recommender, tmp_path_factory.mktemp("prior") / "artifact",
                          top_k=10)


@pytest.fixture(scope="module")
def prior_runtime(prior_artifact):
    return seqrec_runtime.load(prior_artifact)


def test_manifest_declares_the_prior_and_the_history_input(prior_artifact, prior_kind):
    manifest = json.loads((prior_artifact / "manifest.json").read_text())
    assert manifest["format_version"] == 3
    prior = manifest["item_prior"]
    assert prior["kind"] == prior_kind and prior["weight"] == 3.0 and prior["l2"] == 5.0
    assert prior.get("rank") == KINDS[prior_kind].get("item_prior_rank")
    assert ("neighbors" in prior) == (prior_kind == "transitions")
    assert prior["history_input"] == "history_items" and "WHOLE history" in prior["history_rule"]
    for graph in manifest["graphs"].values():
        assert graph["inputs"][-1] == {"name": "history_items", "dtype": "int64",
                                       "shape": ["batch", "n_history"]}
    assert manifest["training"]["export_validation"]["max_abs_score_diff"] <= 1e-4


def test_the_prior_is_stored_once(prior_artifact, prior_recommender):
    """Both graphs are one ONNX file: the prior's weights are written (and loaded) once."""
    from seqrec_export.api import estimated_artifact_bytes

    manifest = json.loads((prior_artifact / "manifest.json").read_text())
    assert {g["file"] for g in manifest["graphs"].values()} == {"model.onnx"}
    assert sorted(p.name for p in prior_artifact.glob("*.onnx")) == ["model.onnx"]
    weights = estimated_artifact_bytes(prior_recommender.scorer.estimator.network_)
    size = (prior_artifact / "model.onnx").stat().st_size
    assert weights <= size < weights + 200_000  # one copy of the weights plus the graph


def _as_format_2(prior_artifact, directory):
    """The artifact in the format 2 layout: each graph in its own file (extracted from the
    one-file model, so each holds its own copy of the prior)."""
    import onnx.utils
    from seqrec_trainer.io import sha256_file

    shutil.copytree(prior_artifact, directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    combined = directory / "model.onnx"
    onnx.utils.extract_model(str(combined), str(directory / "model_topk.onnx"),
                             ["item_seq", "exclude_items", "history_items"],
                             ["top_scores", "top_indices"])
    onnx.utils.extract_model(str(combined), str(directory / "scores.onnx"),
                             ["item_seq", "history_items"], ["scores"])
    (directory / "scores.onnx").replace(combined)
    manifest["format_version"] = 2
    manifest["graphs"]["topk"]["file"] = "model_topk.onnx"
    manifest["files"] = {name: sha256_file(directory / name)
                         for name in ("model.onnx", "model_topk.onnx", "validation_report.json")}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_format_2_artifacts_with_two_files_still_load(prior_artifact, prior_runtime,
                                                      export_data, tmp_path):
    old = seqrec_runtime.load(_as_format_2(prior_artifact, tmp_path / "v2"))
    assert old._graphs._scores is not old._graphs._topk and not old._graphs.shared
    assert prior_runtime._graphs._scores is prior_runtime._graphs._topk
    np.testing.assert_array_equal(old.score_items(export_data),
                                  prior_runtime.score_items(export_data))
    for top_k in (5, 25):
        np.testing.assert_array_equal(old.recommend(export_data, top_k=top_k),
                                      prior_runtime.recommend(export_data, top_k=top_k))


def test_a_shared_file_needs_format_version_3(prior_artifact, tmp_path):
    def edit(manifest):
        manifest["format_version"] = 2

    with pytest.raises(ArtifactError, match="share the file 'model.onnx'.*format_version >= 3"):
        seqrec_runtime.load(_edited(prior_artifact, tmp_path, edit))


def test_runtime_scores_match_torch(prior_runtime, prior_recommender, export_data):
    expected = prior_recommender.score_items(export_data)
    got = prior_runtime.score_items(export_data)
    assert np.abs(got - expected).max() <= 1e-4


def test_graphs_refuse_to_run_without_history_items(prior_runtime):
    with pytest.raises(ArtifactError, match="history_items"):
        prior_runtime._graphs.scores(np.array([[1, 2]]))


@pytest.mark.parametrize("top_k", [5, 25])  # in-graph top-k, and the numpy path above k=10
@pytest.mark.parametrize("exclude_seen", [False, True])
def test_runtime_recommendations_match_torch(prior_runtime, prior_recommender, export_data,
                                             top_k, exclude_seen):
    expected = prior_recommender.recommend(export_data, top_k=top_k, exclude_seen=exclude_seen)
    got = prior_runtime.recommend(export_data, top_k=top_k, exclude_seen=exclude_seen)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("top_k, temperature", [(5, 0.0), (25, 0.0), (5, 0.7)])
def test_online_path_equals_batch_path_for_a_long_history(prior_runtime, export_data, top_k,
                                                          temperature):
    users, counts = np.unique(export_data["USER_ID"], return_counts=True)
    user = users[np.argmax(counts)]
    assert counts.max() > MAX_LEN
    rows = export_data["USER_ID"] == user
    order = np.argsort(export_data["TIMESTAMP"][rows], kind="stable")
    history = export_data["ITEM_ID"][rows][order]
    one = {"USER_ID": np.full(len(history), user), "ITEM_ID": history,
           "TIMESTAMP": np.arange(len(history))}
    batch = prior_runtime.recommend(one, top_k=top_k, sampling_temperature=temperature,
                                    random_state=0)[0]
    online = prior_runtime.recommend_online(history, top_k=top_k,
                                            sampling_temperature=temperature, random_state=0)
    np.testing.assert_array_equal(online, batch)


def test_items_outside_the_window_change_the_scores(prior_runtime, export_data, prior_kind):
    """EASE and low-rank read the whole history; transitions only the window's order."""
    recent = [1, 2, 3, 4, 5, 6]
    with_old = {"USER_ID": np.zeros(8, dtype=np.int64), "ITEM_ID": np.array([7, 8, *recent]),
                "TIMESTAMP": np.arange(8)}
    without = {"USER_ID": np.zeros(6, dtype=np.int64), "ITEM_ID": np.array(recent),
               "TIMESTAMP": np.arange(6)}
    same = np.allclose(prior_runtime.score_items(with_old), prior_runtime.score_items(without))
    assert same == (prior_kind == "transitions")


def _edited(prior_artifact, tmp_path, edit) -> str:
    copy = tmp_path / "edited"
    shutil.copytree(prior_artifact, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(format_version=1), "format_version >= 2"),
    (lambda m: m.update(item_prior={"history_input": "items"}), "history_input"),
    (lambda m: m.update(item_prior=[1]), "item_prior must be"),
    (lambda m: m.pop("item_prior"), "inputs must be"),
])
def test_inconsistent_prior_manifests_are_refused(prior_artifact, tmp_path, edit, match):
    with pytest.raises(ArtifactError, match=match):
        seqrec_runtime.load(_edited(prior_artifact, tmp_path, edit))
