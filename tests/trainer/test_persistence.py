"""save / load of a trained SequentialRecommender."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from seqrec_runtime.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    SeqrecError,
    UnsupportedFormatError,
)
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SASRecRegressorEstimator,
    SequentialRecommender,
)
from seqrec_trainer.io import sha256_file


@pytest.fixture(scope="module")
def string_id_table(synthetic_table):
    return {**synthetic_table,
            "USER_ID": np.char.add("user-", synthetic_table["USER_ID"].astype(str)),
            "ITEM_ID": np.char.add("é-", synthetic_table["ITEM_ID"].astype(str))}


@pytest.fixture(scope="module", params=["classifier-int", "classifier-str", "regressor"])
def model_and_data(request, trained_recommender, synthetic_table, string_id_table,
                   make_recommender):
    if request.param == "classifier-int":
        return trained_recommender, synthetic_table
    if request.param == "classifier-str":
        recommender = make_recommender(loss_fn_name="bce", dropout_rate=0.1)
        recommender.train(interactions_ds=InteractionsDataset(string_id_table))
        return recommender, string_id_table
    recommender = make_recommender(SASRecRegressorEstimator, loss_fn_name="mse", max_len=5)
    order = np.lexsort((synthetic_table["TIMESTAMP"], synthetic_table["USER_ID"]))
    last_rows = np.flatnonzero(np.diff(synthetic_table["USER_ID"][order], append=-1) != 0)
    valid = {k: v[order][last_rows - 1] for k, v in synthetic_table.items()}  # second-to-last
    recommender.train(interactions_ds=InteractionsDataset(synthetic_table),
                      valid_interactions_ds=InteractionsDataset(valid))
    return recommender, synthetic_table


@pytest.fixture
def saved(trained_recommender, tmp_path) -> Path:
    return trained_recommender.save(tmp_path / "model")


def _edit_config(path: Path, **changes) -> None:
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")


def test_save_load_gives_identical_scores_and_recommendations(model_and_data, tmp_path):
    recommender, data = model_and_data
    path = recommender.save(tmp_path / "nested" / "model")
    assert path == tmp_path / "nested" / "model"
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "training_curve.csv", "training_curve.png", "vocabulary.json",
        "weights.pt"]
    loaded = SequentialRecommender.load(path)
    np.testing.assert_array_equal(loaded.score_items(data), recommender.score_items(data))
    np.testing.assert_array_equal(loaded.item_ids_, recommender.item_ids_)
    assert loaded.item_ids_.dtype.kind == recommender.item_ids_.dtype.kind
    for kwargs in ({}, {"sampling_temperature": 0.7, "random_state": 3, "exclude_seen": True}):
        np.testing.assert_array_equal(loaded.recommend(data, top_k=5, **kwargs),
                                      recommender.recommend(data, top_k=5, **kwargs))
    original, restored = recommender.scorer.estimator, loaded.scorer.estimator
    assert type(restored) is type(original)
    assert restored.get_params() == original.get_params()
    assert restored.history_ == original.history_  # JSON keeps floats exactly
    assert restored.best_epoch_ == original.best_epoch_
    assert loaded.max_len == recommender.max_len
    assert loaded.training_summary_ == recommender.training_summary_
    np.testing.assert_array_equal(loaded.scorer.popularity_, recommender.scorer.popularity_)


def test_a_loaded_model_refits_to_the_same_model(saved, trained_recommender, synthetic_table):
    """Contract: estimator params + random_state fully determine training."""
    from seqrec_trainer import ItemsDataset

    loaded = SequentialRecommender.load(saved)
    params = loaded.scorer.estimator.get_params()
    clone = SequentialRecommender(
        type(loaded.scorer)(SASRecClassifierEstimator(**params)), max_len=loaded.max_len)
    clone.train(items_ds=ItemsDataset({"ITEM_ID": trained_recommender.item_ids_}),
                interactions_ds=InteractionsDataset(synthetic_table))
    np.testing.assert_array_equal(clone.score_items(synthetic_table),
                                  trained_recommender.score_items(synthetic_table))


def test_load_uses_weights_only(saved, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    SequentialRecommender.load(saved)
    assert calls and all(kwargs.get("weights_only") is True for kwargs in calls)


class _Payload:
    """Pickles as a call to os.mkdir: only a full (unsafe) unpickler would run it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_code_in_weights_is_never_run(saved, tmp_path):
    marker = tmp_path / "payload-ran"
    torch.save({"item_embedding.weight": _Payload(str(marker))}, saved / "weights.pt")
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    digest = sha256_file(saved / "weights.pt")
    _edit_config(saved, sha256={**config["sha256"], "weights.pt": digest})
    with pytest.raises(Exception):  # noqa: B017 - the point is that it fails safely
        SequentialRecommender.load(saved)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["weights.pt", "vocabulary.json"])
def test_tampered_file_is_an_integrity_error(saved, name):
    blob = bytearray((saved / name).read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (saved / name).write_bytes(bytes(blob))
    with pytest.raises(ArtifactIntegrityError, match=name) as excinfo:
        SequentialRecommender.load(saved)
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, SeqrecError)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"format_version": 2}, id="newer-format-version"),
        pytest.param({"format": "something-else"}, id="other-format"),
        pytest.param({"estimator_class": "SASRecPlusPlus"}, id="unknown-estimator"),
    ],
)
def test_unsupported_format(saved, changes):
    _edit_config(saved, **changes)
    with pytest.raises(UnsupportedFormatError) as excinfo:
        SequentialRecommender.load(saved)
    assert isinstance(excinfo.value, ArtifactError)


@pytest.mark.parametrize("name", ["config.json", "vocabulary.json", "weights.pt"])
def test_missing_file(saved, name):
    (saved / name).unlink()
    with pytest.raises(ArtifactError, match=name):
        SequentialRecommender.load(saved)


def test_config_that_is_not_json(saved):
    (saved / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="JSON"):
        SequentialRecommender.load(saved)


def test_save_replaces_an_existing_directory_atomically(trained_recommender, tmp_path,
                                                        monkeypatch):
    path = tmp_path / "model"
    trained_recommender.save(path)
    (path / "stale.txt").write_text("old")
    trained_recommender.save(path)
    assert not (path / "stale.txt").exists()
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def failing_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        trained_recommender.save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary leftovers


# ------------------------------------------------------------------ known bugs
@pytest.mark.parametrize(
    "params",
    [{"hidden_units": np.int64(16)}, {"dropout_rate": np.float32(0.1)},
     {"random_state": np.int64(3)}],
    ids=["np.int64-hidden_units", "np.float32-dropout", "np.int64-random_state"],
)
def test_numpy_scalar_params_survive_save_load(make_recommender, synthetic_table, tmp_path,
                                               params):
    recommender = make_recommender(**params)
    recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
    loaded = SequentialRecommender.load(recommender.save(tmp_path / "model"))
    restored = loaded.scorer.estimator.get_params()
    for name, value in params.items():
        assert restored[name] == value
        assert type(restored[name]) is type(value.item())
    np.testing.assert_array_equal(loaded.score_items(synthetic_table),
                                  recommender.score_items(synthetic_table))


def test_numpy_int_recommender_max_len_can_be_saved(make_recommender, synthetic_table, tmp_path):
    recommender = make_recommender()
    recommender.max_len = np.int64(8)
    recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
    loaded = SequentialRecommender.load(recommender.save(tmp_path / "model"))
    assert loaded.max_len == 8


@pytest.mark.parametrize("corruption", ["not-a-state-dict", "wrong-n_items", "no-n_items",
                                        "text-format-version"])
def test_malformed_artifact_is_an_artifact_error(saved, corruption):
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    if corruption == "not-a-state-dict":
        torch.save({"weights": [1, 2, 3]}, saved / "weights.pt")
        config["sha256"]["weights.pt"] = sha256_file(saved / "weights.pt")
    elif corruption == "wrong-n_items":
        config["n_items"] = 5
    elif corruption == "no-n_items":
        del config["n_items"]
    else:
        config["format_version"] = "two"
    (saved / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ArtifactError):
        SequentialRecommender.load(saved)


def test_missing_checksums_are_an_integrity_error(saved):
    _edit_config(saved, sha256={})
    vocabulary = json.loads((saved / "vocabulary.json").read_text(encoding="utf-8"))
    vocabulary["item_ids"]["values"] = vocabulary["item_ids"]["values"][:2]
    vocabulary["popularity"] = [0.5, 0.5]
    (saved / "vocabulary.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    with pytest.raises(ArtifactError):
        SequentialRecommender.load(saved)


needs_cpu_only_torch = pytest.mark.skipif(torch.cuda.is_available(), reason="needs no GPU")


@needs_cpu_only_torch
@pytest.mark.parametrize("saved_device", ["cuda", "cuda:1"])
def test_gpu_trained_model_loads_on_the_cpu_with_a_warning(saved, trained_recommender,
                                                            synthetic_table, saved_device):
    from seqrec_trainer import DeviceFallbackWarning

    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    _edit_config(saved, estimator_params={**config["estimator_params"], "device": saved_device})
    with pytest.warns(DeviceFallbackWarning, match=f"device='{saved_device}'.*CPU"):
        loaded = SequentialRecommender.load(saved)
    assert loaded.scorer.estimator.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.score_items(synthetic_table),
                                  trained_recommender.score_items(synthetic_table))


@needs_cpu_only_torch
def test_explicit_load_device_replaces_the_saved_one(saved, synthetic_table, recwarn):
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    _edit_config(saved, estimator_params={**config["estimator_params"], "device": "cuda"})
    loaded = SequentialRecommender.load(saved, device="cpu")
    assert not recwarn.list
    assert loaded.scorer.estimator.get_params()["device"] == "cpu"
    assert loaded.score_items(synthetic_table).shape[0] > 0


@needs_cpu_only_torch
def test_load_onto_cuda_without_cuda_is_a_typed_error(saved):
    from seqrec_trainer.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="CUDA is not available"):
        SequentialRecommender.load(saved, device="cuda")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 3.5])
def test_unknown_device_names_the_value(saved, device):
    from seqrec_trainer.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="is not a torch device"):
        SequentialRecommender.load(saved, device=device)


def test_save_never_replaces_what_is_not_a_saved_model(trained_recommender, tmp_path):
    """The atomic swap deleted whatever sat at the path: a data file, an unrelated folder."""
    from seqrec_trainer.errors import InvalidParameterError

    data_file = tmp_path / "train.csv"
    data_file.write_text("USER_ID,ITEM_ID,TIMESTAMP\n")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    for path in (data_file, folder):
        with pytest.raises(InvalidParameterError, match="refusing to replace|not a saved"):
            trained_recommender.save(path)
    assert data_file.read_text() == "USER_ID,ITEM_ID,TIMESTAMP\n"
    assert (folder / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no stale swap
    empty = tmp_path / "empty"
    empty.mkdir()
    trained_recommender.save(empty)  # an empty directory is fine
    assert (empty / "config.json").exists()
