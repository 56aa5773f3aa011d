"""Training precision: ``"auto"`` picks bf16 only where it is native; slow bf16 warns."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from seqrec_runtime.errors import InvalidParameterError
from seqrec_trainer import (
    InteractionsDataset,
    SASRecClassifierEstimator,
    SequentialRecommender,
    SlowPrecisionWarning,
)
from seqrec_trainer.estimator import precision as precision_module
from seqrec_trainer.estimator.precision import autocast_dtype, native_bf16, resolve_precision
from seqrec_trainer.presets import PRESETS

CPU = torch.device("cpu")
PARAMS = {"hidden_units": 16, "num_blocks": 1, "max_len": 6, "epochs": 2, "batch_size": 16,
          "learning_rate": 0.05, "dropout_rate": 0.0, "loss_fn_name": "ce", "random_state": 3}


@pytest.fixture
def cpu_bf16(monkeypatch):
    """``cpu_bf16(flag)`` makes the CPU report (or deny) native bfloat16."""

    def set_flag(flag: bool) -> None:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: flag)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)

    return set_flag


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    return rng.integers(1, 21, size=(40, PARAMS["max_len"] + 1)).astype(np.int64)


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_picks_bf16_only_where_native(cpu_bf16, native, expected):
    cpu_bf16(native)
    assert native_bf16(CPU) is native
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision("auto", CPU) == expected


def test_amx_alone_counts_as_native(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert native_bf16(CPU)


def test_cuda_asks_torch_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"


def test_unknown_device_type_is_not_native():
    assert not native_bf16(torch.device("meta"))


def test_explicit_bf16_without_native_support_warns_and_names_the_fix(cpu_bf16):
    cpu_bf16(False)
    with pytest.warns(SlowPrecisionWarning, match=r"precision='auto' or 'fp32'"):
        assert resolve_precision("bf16", CPU) == "bf16"  # still trains as asked


@pytest.mark.parametrize(("precision", "native"), [("bf16", True), ("fp32", False),
                                                   ("fp32", True)])
def test_no_warning_when_the_choice_is_fine(cpu_bf16, precision, native):
    cpu_bf16(native)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision(precision, CPU) == precision


def test_autocast_dtypes():
    assert autocast_dtype("fp32") is None
    assert autocast_dtype("bf16") is torch.bfloat16


@pytest.mark.parametrize(("native", "same_as"), [(False, "fp32"), (True, "bf16")])
def test_auto_trains_exactly_like_the_precision_it_resolves_to(cpu_bf16, sequences, native,
                                                                same_as):
    cpu_bf16(native)
    auto = SASRecClassifierEstimator(**PARAMS, precision="auto").fit(sequences, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowPrecisionWarning)
        explicit = SASRecClassifierEstimator(**PARAMS, precision=same_as).fit(sequences, 20)
    assert auto.precision_ == explicit.precision_ == same_as
    assert auto.get_params()["precision"] == "auto"  # the parameter itself is kept
    assert [h["loss"] for h in auto.history_] == [h["loss"] for h in explicit.history_]


def test_fit_with_bf16_on_emulating_hardware_warns(cpu_bf16, sequences):
    cpu_bf16(False)
    with pytest.warns(SlowPrecisionWarning):
        SASRecClassifierEstimator(**PARAMS, precision="bf16").fit(sequences, 20)


def test_invalid_precision_lists_auto():
    with pytest.raises(InvalidParameterError, match=r"one of 'auto', 'fp32', 'bf16', got 'fp16'"):
        SASRecClassifierEstimator(**{**PARAMS, "precision": "fp16"}).fit(
            np.ones((2, 7), dtype=np.int64), 3)


def test_ml1m_preset_uses_auto():
    assert PRESETS["ml-1m"]["precision"] == "auto"
    assert precision_module.PRECISIONS == ("auto", "fp32", "bf16")


def test_resolved_precision_is_reported_and_survives_save_load(synthetic_table,
                                                              make_recommender, tmp_path):
    recommender = make_recommender(epochs=1, precision="auto")
    recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
    resolved = recommender.scorer.estimator.precision_
    assert resolved == ("bf16" if native_bf16(CPU) else "fp32")
    assert recommender.training_summary_["precision"] == resolved
    recommender.save(tmp_path / "model")
    loaded = SequentialRecommender.load(tmp_path / "model")
    assert loaded.scorer.estimator.precision_ == resolved
    assert loaded.scorer.estimator.get_params()["precision"] == "auto"
