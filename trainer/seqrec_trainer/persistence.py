"""Save / load a trained recommender: JSON config + vocabulary, torch state dict weights.

No pickled Python objects: weights are a ``state_dict`` loaded with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from seqrec_runtime.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidParameterTypeError,
    UnsupportedFormatError,
)
from seqrec_runtime.vocabulary import ItemVocabulary

from .estimator import SASRecClassifierEstimator, SASRecRegressorEstimator
from .io import (
    atomic_directory,
    check_replaceable,
    ids_from_json,
    ids_to_json,
    sha256_file,
    write_json,
)
from .training_log import write_training_curve

if TYPE_CHECKING:
    from .recommender import SequentialRecommender

MODEL_FORMAT = "seqrec-model"
MODEL_FORMAT_VERSION = 1
ESTIMATORS = {cls.__name__: cls for cls in (SASRecClassifierEstimator, SASRecRegressorEstimator)}
FILES = ("config.json", "vocabulary.json", "weights.pt")


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters as JSON values (numpy scalars become Python scalars)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (int, float, str, bool, type(None))):
            raise TypeError(f"estimator parameter {key}={value!r} cannot be saved as JSON")
        out[key] = value
    return out


def check_model_output(path: Any, what: str = "the model directory") -> None:
    """Refuse to save over a file or a non-empty directory that is not a saved model.

    Raises
    ------
    InvalidParameterError
        See :func:`.io.check_replaceable`.
    """
    check_replaceable(path, "config.json", MODEL_FORMAT, "saved seqrec model", what)


def save_recommender(recommender: SequentialRecommender, path: str | Path) -> Path:
    """Write ``recommender`` to directory ``path`` atomically; return the path.

    ``path`` must be new, empty or a previous saved model (see :func:`check_model_output`).
    Beside the model files go ``training_curve.csv`` and ``training_curve.png`` (see
    :func:`.training_log.write_training_curve`); they are not needed to load the model.
    """
    check_model_output(path)
    scorer = recommender.scorer
    estimator = scorer.estimator
    meta, weights = estimator.fitted_state()
    with atomic_directory(path) as tmp:
        torch.save(weights, tmp / "weights.pt")
        write_json(
            tmp / "vocabulary.json",
            {
                "item_ids": ids_to_json(scorer.vocabulary_.ids),
                "popularity": [float(x) for x in scorer.popularity_],
            },
        )
        write_json(
            tmp / "config.json",
            {
                "format": MODEL_FORMAT,
                "format_version": MODEL_FORMAT_VERSION,
                "estimator_class": type(estimator).__name__,
                "estimator_params": _jsonable_params(estimator.get_params()),
                "recommender": {"max_len": int(recommender.max_len)},
                **meta,
                "training_summary": recommender.training_summary_,
                "sha256": {
                    "weights.pt": sha256_file(tmp / "weights.pt"),
                    "vocabulary.json": sha256_file(tmp / "vocabulary.json"),
                },
            },
        )
        write_training_curve(tmp, estimator.history_, estimator.best_epoch_)
    return Path(path)


def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterTypeError(
            f"path must be a directory path (str or os.PathLike), got {type(path).__name__}"
        )
    return Path(path)


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model directory."""
    path = _as_path(path)
    if not path.is_dir():
        raise ArtifactError(f"no such model directory: {path}" if not path.exists()
                            else f"{path} is a file, not a saved seqrec model directory")
    if (path / "manifest.json").is_file():
        raise UnsupportedFormatError(
            f"{path} is an exported ONNX artifact, not a saved model: serve it with "
            f"seqrec_runtime.load({str(path)!r}) (or seqrec recommend {path}); "
            "SequentialRecommender.load reads directories written by save() / seqrec train"
        )
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise ArtifactError(f"{path} is not a saved seqrec model: missing {missing}")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ArtifactError(f"{path / 'config.json'} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ArtifactError(f"{path / 'config.json'} must hold a JSON object")
    if config.get("format") != MODEL_FORMAT:
        raise UnsupportedFormatError(
            f"{path} holds format {config.get('format')!r}, not {MODEL_FORMAT!r}"
        )
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ArtifactError(f"{path / 'config.json'}: format_version must be an integer")
    if version > MODEL_FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"{path} was written by a newer seqrec (format_version {config['format_version']}); "
            "upgrade seqrec to load it"
        )
    if config.get("estimator_class") not in ESTIMATORS:
        raise UnsupportedFormatError(f"unknown estimator_class {config.get('estimator_class')!r}")
    hashes = config.get("sha256")
    if not isinstance(hashes, dict) or set(hashes) != {"weights.pt", "vocabulary.json"}:
        raise ArtifactIntegrityError(
            f"{path / 'config.json'} must record the sha256 of weights.pt and vocabulary.json"
        )
    for name, digest in hashes.items():
        if sha256_file(path / name) != digest:
            raise ArtifactIntegrityError(f"{path / name} does not match its recorded sha256")
    return config


def load_recommender(path: str | Path, device: str | None = None) -> SequentialRecommender:
    """Rebuild a :class:`SequentialRecommender` saved with :func:`save_recommender`.

    ``device=None`` loads onto the device the model was trained with, or onto the CPU with a
    :class:`DeviceFallbackWarning` when that was a GPU and none is available here. An
    explicit ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``...) replaces the saved one.
    """
    from .recommender import SequentialRecommender
    from .scorer import SequentialScorer

    path = _as_path(path)
    config = read_config(path)
    try:
        vocab_doc = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
        vocabulary = ItemVocabulary(ids_from_json(vocab_doc["item_ids"]))
        estimator = ESTIMATORS[config["estimator_class"]](**config["estimator_params"])
        max_len = int(config["recommender"]["max_len"])
        weights = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
        estimator.restore_fitted_state(config, weights)
        scorer = SequentialScorer(estimator).restore_fitted_state(
            vocabulary, vocab_doc["popularity"])
    except (KeyError, TypeError, ValueError, RuntimeError, OSError, EOFError,
            pickle.UnpicklingError) as exc:  # OSError: torch's reader on a truncated file
        raise ArtifactError(f"{path} is not a loadable seqrec model: {exc}") from exc
    estimator.move_to_device(device, source=str(path))
    recommender = SequentialRecommender(scorer, max_len=max_len)
    recommender.training_summary_ = config.get("training_summary", {})
    return recommender
