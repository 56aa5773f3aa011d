"""Artifact and checkpoint integrity.

* ``export_onnx`` and ``save`` write into a temporary sibling directory and rename it
  into place: whatever interrupts them (an exception, KeyboardInterrupt mid-write, even
  between the two renames that replace an existing directory), the previous artifact
  keeps its exact bytes and no temporary directory is left behind.
* ``load`` verifies every file's sha256, refuses pickles and unknown or newer formats,
  and turns any artifact fault into a typed error (checked on copies of the real golden
  artifact, made by the dynamo exporter).
* Trainer checkpoints: JSON + a ``weights_only=True`` state dict (see also
  ``tests/trainer/test_persistence.py``).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import seqrec_runtime
import seqrec_trainer.io as trainer_io
from hardening_support import GOLDEN
from seqrec_export import api as export_api
from seqrec_export.errors import ToleranceError
from seqrec_export.validation import ValidationReport
from seqrec_runtime import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidParameterTypeError,
    UnsupportedFormatError,
)
from seqrec_trainer import SequentialRecommender
from seqrec_trainer.io import sha256_file


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture
def previous(tmp_path) -> Path:
    """An existing artifact (a copy of the golden one) that an export will replace."""
    return Path(shutil.copytree(GOLDEN, tmp_path / "artifact"))


def _assert_untouched(previous: Path, before: dict[str, bytes]) -> None:
    assert _snapshot(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == [previous.name]  # no temp
    seqrec_runtime.load(previous)  # still a valid, verified artifact


def _fake_graphs(network, max_len, n_items, k, specs, directory, opset):
    """Stand-in for the (slow) dynamo export: copies golden graphs, returns the opset."""
    for spec in specs:
        shutil.copyfile(GOLDEN / spec.file, directory / spec.file)
    return 23


def _half_written(network, max_len, n_items, k, specs, directory, opset):
    blob = (GOLDEN / "model.onnx").read_bytes()
    (directory / "model.onnx").write_bytes(blob[: len(blob) // 2])
    raise KeyboardInterrupt  # Ctrl-C in the middle of writing the graphs


def _tolerance_failure(*args, **kwargs):
    raise ToleranceError("scores differ by 1 > atol=1e-4")


def _passing_validation(*args, **kwargs):
    return ValidationReport([(1, 1)], 0.0, True)


@pytest.mark.parametrize("failure", ["keyboard-interrupt-mid-write", "validation-fails",
                                     "disk-full-at-manifest", "interrupt-between-renames"])
def test_interrupted_export_leaves_the_previous_artifact_intact(
    failure, previous, tiny_trainer, monkeypatch
):
    before = _snapshot(previous)
    monkeypatch.setattr(export_api, "choose_and_export", _fake_graphs)
    monkeypatch.setattr(export_api, "validate_export", _passing_validation)
    expected: type[BaseException] = KeyboardInterrupt
    if failure == "keyboard-interrupt-mid-write":
        monkeypatch.setattr(export_api, "choose_and_export", _half_written)
    elif failure == "validation-fails":
        monkeypatch.setattr(export_api, "validate_export", _tolerance_failure)
        expected = ToleranceError
    elif failure == "disk-full-at-manifest":
        def disk_full(path, doc):
            raise OSError(28, "No space left on device", str(path))

        monkeypatch.setattr(export_api, "write_json", disk_full)
        expected = OSError
    else:
        real_replace = trainer_io.os.replace
        calls = []

        def flaky_replace(src, dst):
            calls.append((src, dst))
            if len(calls) == 2:  # the old artifact is already moved aside
                raise KeyboardInterrupt
            return real_replace(src, dst)

        monkeypatch.setattr(trainer_io.os, "replace", flaky_replace)
    with pytest.raises(expected):
        export_api.export_onnx(tiny_trainer, previous, top_k=10)
    monkeypatch.undo()
    _assert_untouched(previous, before)


def test_interrupted_save_leaves_the_previous_model_intact(tiny_trainer, tmp_path,
                                                           monkeypatch):
    path = tiny_trainer.save(tmp_path / "model")
    before = _snapshot(path)
    real_write = trainer_io.write_json

    def interrupted(target, doc):
        if Path(target).name == "config.json":  # weights and vocabulary already written
            raise KeyboardInterrupt
        real_write(target, doc)

    import seqrec_trainer.persistence as persistence

    monkeypatch.setattr(persistence, "write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tiny_trainer.save(path)
    monkeypatch.undo()
    assert _snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]

    real_replace = trainer_io.os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(trainer_io.os, "replace", flaky_replace)
    with pytest.raises(KeyboardInterrupt):
        tiny_trainer.save(path)
    monkeypatch.undo()
    assert _snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    SequentialRecommender.load(path)


@pytest.mark.slow
def test_real_export_replaces_an_artifact_and_matches_the_trainer(previous, tiny_trainer,
                                                                  training_table):
    """End to end: a real export over an existing artifact; the runtime then verifies it
    and reproduces the trainer's scores and rankings for the same raw table."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch exporter chatter
        export_api.export_onnx(tiny_trainer, previous, top_k=10)
    assert sorted(p.name for p in previous.parent.iterdir()) == [previous.name]
    rt = seqrec_runtime.load(previous, intra_op_num_threads=1)
    manifest = json.loads((previous / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"] == {name: sha256_file(previous / name) for name in manifest["files"]}
    table = {k: v[::-1] for k, v in training_table.items()}  # unsorted raw rows
    users_t, scores_t = tiny_trainer.score_items(table, return_user_ids=True)
    users_r, scores_r = rt.score_items(table, return_user_ids=True)
    np.testing.assert_array_equal(users_t, users_r)
    np.testing.assert_allclose(scores_r, scores_t, rtol=0, atol=1e-4)
    for kwargs in ({"top_k": 15, "exclude_seen": True},
                   {"top_k": 5, "sampling_temperature": 0.8, "random_state": 4}):
        recs_t = tiny_trainer.recommend(table, **kwargs)
        recs_r = rt.recommend(table, **kwargs)
        rows = np.arange(len(users_t))[:, None]
        got = scores_t[rows, np.searchsorted(rt.item_ids_, recs_r)]
        want = scores_t[rows, np.searchsorted(rt.item_ids_, recs_t)]
        if "sampling_temperature" in kwargs:  # compare the perturbed logits at each rank
            noise = np.random.default_rng(4).gumbel(size=scores_t.shape)
            noise = noise[rows, np.searchsorted(rt.item_ids_, recs_r)], noise[
                rows, np.searchsorted(rt.item_ids_, recs_t)]
            got, want = got / 0.8 + noise[0], want / 0.8 + noise[1]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)


# ---------------------------------------------------------------- runtime load (golden)
def _corrupt(directory: Path, how: str) -> None:
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if how.startswith("missing-"):
        (directory / how.removeprefix("missing-")).unlink()
        if how == "missing-manifest.json":
            manifest = None
    elif how == "tampered-model":
        blob = bytearray((directory / "model.onnx").read_bytes())
        blob[len(blob) // 2] ^= 0x01
        (directory / "model.onnx").write_bytes(bytes(blob))
    elif how.startswith("truncated-"):
        name = "model.onnx" if how.endswith("scores") else "model_topk.onnx"
        blob = (directory / name).read_bytes()
        (directory / name).write_bytes(blob[: len(blob) // 3])
        if "rehashed" in how:  # past the sha256 check: onnxruntime must refuse it
            manifest["files"][name] = sha256_file(directory / name)
    elif how == "newer-format-version":
        manifest["format_version"] = 4
    elif how == "other-format":
        manifest["format"] = "pickle"
    elif how == "pickle-file-present":
        (directory / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    elif how == "manifest-not-json":
        manifest = None
        manifest_path.write_bytes(b"\xff\xfe{")
    elif how == "manifest-deeply-nested":
        manifest = None
        manifest_path.write_text("[" * 100_000 + "]" * 100_000)
    elif how == "checksum-not-hex":
        manifest["files"]["model.onnx"] = "sha256:" + "0" * 57
    if manifest is not None:
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


LOAD_FAULTS = [
    ("missing-manifest.json", ArtifactError),
    ("missing-model.onnx", ArtifactError),
    ("missing-model_topk.onnx", ArtifactError),
    ("tampered-model", ArtifactIntegrityError),
    ("truncated-scores", ArtifactIntegrityError),
    ("truncated-topk-rehashed", ArtifactError),
    ("truncated-scores-rehashed", ArtifactError),
    ("newer-format-version", UnsupportedFormatError),
    ("other-format", UnsupportedFormatError),
    ("pickle-file-present", ArtifactError),
    ("manifest-not-json", ArtifactError),
    ("manifest-deeply-nested", ArtifactError),
    ("checksum-not-hex", ArtifactError),
]


@pytest.mark.parametrize("how, error", LOAD_FAULTS, ids=[f[0] for f in LOAD_FAULTS])
def test_load_refuses_a_faulty_golden_artifact(previous, how, error):
    _corrupt(previous, how)
    with pytest.raises(error) as info:
        seqrec_runtime.load(previous)
    assert isinstance(info.value, ValueError)
    if error is ArtifactError and "rehashed" in how:
        assert not isinstance(info.value, ArtifactIntegrityError)
        assert "onnxruntime cannot load" in str(info.value)


@pytest.mark.parametrize("path", [None, 3, ["tests/runtime/golden"], 2.5])
def test_load_with_a_path_of_the_wrong_type(path):
    with pytest.raises(InvalidParameterTypeError, match="artifact_dir"):
        seqrec_runtime.load(path)


def test_load_accepts_bytes_and_pathlike_paths():
    assert seqrec_runtime.load(bytes(GOLDEN)).n_items == seqrec_runtime.load(GOLDEN).n_items


def test_manifest_max_len_beyond_the_graph_is_an_artifact_error(previous, vocab):
    """A manifest that promises longer histories than the graph reads fails with a typed
    error at inference, not an onnxruntime exception."""
    manifest = json.loads((previous / "manifest.json").read_text(encoding="utf-8"))
    manifest["max_len"] = 30
    (previous / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    rt = seqrec_runtime.load(previous)
    history = [vocab[i % 40] for i in range(25)]
    with pytest.raises(ArtifactError, match="re-export"):
        rt.recommend_online(history, top_k=3)
    with pytest.raises(ArtifactError, match="model.onnx"):
        rt.score_items({"USER_ID": [1] * 25, "ITEM_ID": history, "TIMESTAMP": range(25)})


# ---------------------------------------------------------------- trainer checkpoints
@pytest.fixture
def saved(tiny_trainer, tmp_path) -> Path:
    return tiny_trainer.save(tmp_path / "model")


def test_checkpoint_load_faults(saved):
    (saved / "config.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ArtifactError, match="JSON object"):
        SequentialRecommender.load(saved)


def test_truncated_weights_with_a_matching_checksum(saved):
    blob = (saved / "weights.pt").read_bytes()
    (saved / "weights.pt").write_bytes(blob[: len(blob) // 2])
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    config["sha256"]["weights.pt"] = sha256_file(saved / "weights.pt")
    (saved / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ArtifactError, match="not a loadable seqrec model"):
        SequentialRecommender.load(saved)


@pytest.mark.parametrize("path", [None, 7])
def test_checkpoint_paths_of_the_wrong_type(tiny_trainer, path):
    with pytest.raises(InvalidParameterTypeError):
        SequentialRecommender.load(path)
    with pytest.raises(InvalidParameterTypeError):
        tiny_trainer.save(path)
    with pytest.raises(InvalidParameterTypeError):
        export_api.export_onnx(path, "unused")
