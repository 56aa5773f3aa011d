"""Loading and verifying artifacts: every failure is a typed, explanatory error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from seqrec_runtime import (
    ArtifactError,
    ArtifactIntegrityError,
    SeqrecError,
    UnsupportedFormatError,
)


def test_load_exposes_manifest_attributes(rt, fake_artifact):
    manifest = json.loads((fake_artifact / "manifest.json").read_text())
    assert rt.n_items == manifest["n_items"] == 40
    assert rt.max_len == manifest["max_len"] == 8
    assert rt.manifest == manifest
    assert rt.item_ids_.dtype == np.int64
    assert rt.item_ids_.tolist() == manifest["item_ids"]["values"]
    assert rt.item_ids_[-1] == 2**62 + 1  # beyond 2**53: parsed exactly
    assert rt.providers == ["CPUExecutionProvider"]
    assert "SeqrecRuntime(" in repr(rt)


def test_item_ids_are_read_only(rt):
    with pytest.raises(ValueError):
        rt.item_ids_[0] = 1


def test_errors_are_seqrec_and_value_errors():
    assert issubclass(ArtifactIntegrityError, ArtifactError)
    assert issubclass(UnsupportedFormatError, ArtifactError)
    assert issubclass(ArtifactError, SeqrecError) and issubclass(ArtifactError, ValueError)


def test_missing_directory(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        seqrec_runtime.load(tmp_path / "nope")


def test_missing_manifest(artifact_copy):
    (artifact_copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="manifest.json"):
        seqrec_runtime.load(artifact_copy)


@pytest.mark.parametrize("name", ["model.onnx", "model_topk.onnx"])
def test_missing_model_file_is_named(artifact_copy, name):
    (artifact_copy / name).unlink()
    with pytest.raises(ArtifactError, match=name.replace(".", r"\.")):
        seqrec_runtime.load(artifact_copy)


def test_invalid_json(artifact_copy):
    (artifact_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        seqrec_runtime.load(artifact_copy)


def test_tampered_model_fails_integrity(artifact_copy):
    path = artifact_copy / "model.onnx"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        seqrec_runtime.load(artifact_copy)


def test_tampered_sha_in_manifest(artifact_copy):
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    manifest["files"]["model_topk.onnx"] = "0" * 64
    (artifact_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactIntegrityError, match="model_topk.onnx"):
        seqrec_runtime.load(artifact_copy)


def test_newer_format_version_says_upgrade(artifact_copy):
    runtime_fakes.edit_manifest(artifact_copy, format_version=4)
    with pytest.raises(UnsupportedFormatError, match="upgrade"):
        seqrec_runtime.load(artifact_copy)


def test_wrong_format_name(artifact_copy):
    runtime_fakes.edit_manifest(artifact_copy, format="something-else")
    with pytest.raises(UnsupportedFormatError, match="not a seqrec artifact"):
        seqrec_runtime.load(artifact_copy)


def test_truncated_onnx_is_an_artifact_error(artifact_copy):
    path = artifact_copy / "model.onnx"
    path.write_bytes(path.read_bytes()[:200])
    runtime_fakes.rehash(artifact_copy)  # get past the sha check, down to onnxruntime
    with pytest.raises(ArtifactError, match="onnxruntime cannot load 'model.onnx'") as info:
        seqrec_runtime.load(artifact_copy)
    assert not isinstance(info.value, ArtifactIntegrityError)


def test_truncated_onnx_without_rehash_fails_integrity(artifact_copy):
    path = artifact_copy / "model_topk.onnx"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ArtifactIntegrityError):
        seqrec_runtime.load(artifact_copy)


@pytest.mark.parametrize("name", ["weights.pkl", "model.pt", "state.pickle"])
def test_pickle_files_are_refused(artifact_copy, name):
    (artifact_copy / name).write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ArtifactError, match="pickle"):
        seqrec_runtime.load(artifact_copy)


def test_unlisted_extra_files_are_ignored(artifact_copy):
    (artifact_copy / "README.txt").write_text("notes")
    assert seqrec_runtime.load(artifact_copy).n_items == 40


def test_path_traversal_in_files_is_refused(artifact_copy):
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    manifest["files"]["../evil.onnx"] = "0" * 64
    (artifact_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="invalid file name"):
        seqrec_runtime.load(artifact_copy)


def test_io_names_must_match_manifest(tmp_path):
    pytest.importorskip("onnx")
    directory = runtime_fakes.write_artifact(
        tmp_path / "a",
        runtime_fakes.int_item_ids(12),
        runtime_fakes.make_embeddings(12),
        np.zeros(12),
        k=5,
        scores_output="logits",  # the graph disagrees with the manifest's "scores"
    )
    with pytest.raises(ArtifactError, match="do not match the manifest"):
        seqrec_runtime.load(directory)


def test_manifest_io_names_must_match_contract(artifact_copy):
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    manifest["graphs"]["scores"]["inputs"][0]["name"] = "seq"
    (artifact_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="graphs.scores.inputs"):
        seqrec_runtime.load(artifact_copy)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"n_items": 41}, "item_ids has 40 values"),
        ({"max_len": 0}, "max_len"),
        ({"pad_index": 1}, "pad_index"),
        ({"item_ids": {"dtype": "int64", "values": list(range(40, 0, -1))}}, "sorted"),
        ({"item_ids": {"dtype": "float", "values": list(range(40))}}, "item_ids.dtype"),
        ({"item_ids": {"dtype": "int64", "values": ["a"] * 40}}, "not all integers"),
        ({"fallback": {"kind": "popularity", "scores": [0.0] * 3}}, "fallback.scores"),
        ({"fallback": {"kind": "random", "scores": [0.0] * 40}}, "fallback.kind"),
        # finite in JSON, inf in float32: cold users would get inf / -inf scores
        ({"fallback": {"kind": "popularity", "scores": [1e39] + [0.0] * 39}}, "float32"),
        ({"graphs": {}}, "graphs"),
    ],
)
def test_malformed_manifest_fields(artifact_copy, change, match):
    runtime_fakes.edit_manifest(artifact_copy, **change)
    with pytest.raises(ArtifactError, match=match):
        seqrec_runtime.load(artifact_copy)


def test_topk_k_larger_than_n_items(artifact_copy):
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    manifest["graphs"]["topk"]["k"] = 41
    (artifact_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="k=41"):
        seqrec_runtime.load(artifact_copy)


@pytest.mark.parametrize("batch_size", [0, -3])
def test_bad_batch_size(fake_artifact, batch_size):
    with pytest.raises(seqrec_runtime.InvalidParameterError):
        seqrec_runtime.load(fake_artifact, batch_size=batch_size)


def test_bad_batch_size_type(fake_artifact):
    with pytest.raises(seqrec_runtime.InvalidParameterTypeError):
        seqrec_runtime.load(fake_artifact, batch_size=2.5)


def test_string_ids_artifact(fake_string_artifact):
    rt = seqrec_runtime.load(fake_string_artifact)
    assert rt.item_ids_.dtype.kind == "U"
    assert rt.item_ids_[0] == "item-00"
