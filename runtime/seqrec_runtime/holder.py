"""``ModelHolder``: swap the served artifact while requests keep flowing.

A service keeps one :class:`ModelHolder`. Each request takes ONE snapshot with
:meth:`ModelHolder.current` and uses only that :class:`LoadedModel` (its runtime, version and
sha256) until it answers, so a request never mixes two models. :meth:`ModelHolder.swap`
loads and checks a new artifact beside the serving one and replaces the snapshot in one
reference assignment; requests already running finish on the old model, which is freed
when the last of them drops it. A new artifact that fails to load or to pass the checks is
refused and the old one keeps serving.

>>> holder = ModelHolder(providers=["CPUExecutionProvider"])     # doctest: +SKIP
>>> holder.swap("artifact_v2/")                                   # doctest: +SKIP
>>> model = holder.current()                                      # doctest: +SKIP
>>> model.runtime.recommend_online([12, 7], top_k=10, exclude_seen=True)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import MANIFEST
from .errors import ArtifactError, ArtifactIntegrityError, InvalidParameterTypeError
from .runtime import SeqrecRuntime

__all__ = ["LoadedModel", "ModelHolder", "NoModelError", "artifact_sha256"]


class NoModelError(ArtifactError):
    """No artifact has been loaded into the holder yet (the service is not ready)."""


def artifact_sha256(artifact_dir: str | Path) -> str:
    """The artifact's identity: sha256 of its ``manifest.json`` bytes.

    The manifest records the sha256 of every other file of the artifact, so this one hash
    identifies the whole artifact (graphs, vocabulary and fallback scores).

    Raises
    ------
    ArtifactError
        When ``manifest.json`` cannot be read.
    """
    if not isinstance(artifact_dir, (str, bytes, os.PathLike)):
        raise InvalidParameterTypeError(
            f"artifact_dir must be a path (str or os.PathLike), got {type(artifact_dir).__name__}"
        )
    path = Path(os.fsdecode(artifact_dir)) / MANIFEST
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ArtifactError(f"cannot read {str(path)!r}: {exc}") from exc


@dataclass(frozen=True)
class LoadedModel:
    """One loaded artifact and its labels; immutable, shared by every request using it.

    Attributes
    ----------
    runtime : SeqrecRuntime
    sha256 : str
        sha256 of the artifact's ``manifest.json`` (see :func:`artifact_sha256`).
    version : str
        The manifest's ``created_at`` (UTC export time), or ``"unknown"`` without one.
    path : pathlib.Path
    loaded_at : float
        ``time.time()`` when the swap made it the served model.
    """

    runtime: SeqrecRuntime
    sha256: str
    version: str
    path: Path
    loaded_at: float


def smoke_check(runtime: SeqrecRuntime) -> None:
    """One real call through both graphs of a freshly loaded runtime.

    Recommends for a one-item history with the top-k graph and scores the same history
    with the scores graph; the items must be distinct ids of the vocabulary and every
    score finite.

    Raises
    ------
    ArtifactError
        When either call fails or returns something a working model cannot return.
    """
    history = runtime.item_ids_[:1]
    top_k = min(10, runtime.n_items)
    try:  # a known item: no ColdUserWarning
        items = runtime.recommend_online(history, top_k=top_k, exclude_seen=False)
        scores = runtime.score_items(
            {"USER_ID": np.zeros(1, np.int64), "ITEM_ID": history,
             "TIMESTAMP": np.zeros(1, np.int64)}
        )
    except ArtifactError:
        raise
    except Exception as exc:  # any failure of a fresh model is a refused artifact
        raise ArtifactError(
            f"smoke call on {str(runtime.path)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if len(items) != top_k or len(np.unique(items)) != top_k or not np.isin(
        items, runtime.item_ids_
    ).all():
        raise ArtifactError(
            f"smoke call on {str(runtime.path)!r} returned {items!r}: not {top_k} distinct "
            "items of the artifact's vocabulary"
        )
    scores = np.asarray(scores)  # score_items without return_user_ids: one array
    if scores.shape != (1, runtime.n_items) or not np.isfinite(scores).all():
        raise ArtifactError(
            f"smoke call on {str(runtime.path)!r}: the scores graph returned non-finite "
            f"scores or shape {scores.shape} (expected (1, {runtime.n_items}))"
        )


class ModelHolder:
    """The currently served :class:`LoadedModel`, swappable atomically.

    Thread-safe: any number of threads may call :meth:`current` while one calls
    :meth:`swap` (concurrent swaps run one after the other).

    Parameters
    ----------
    **load_options
        Passed to :class:`SeqrecRuntime` for every artifact (``providers``,
        ``intra_op_num_threads``, ``strict_providers``, ``batch_size``).
    """

    def __init__(self, **load_options: Any) -> None:
        self._load_options = load_options
        self._current: LoadedModel | None = None
        self._swap_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """Whether a model is loaded (and so :meth:`current` returns one)."""
        return self._current is not None

    def current(self) -> LoadedModel:
        """The served model. Take it once per request and use only that snapshot.

        Raises
        ------
        NoModelError
            When no artifact has been loaded yet.
        """
        model = self._current  # one reference read: atomic
        if model is None:
            raise NoModelError(
                "no model is loaded yet; wait until the service is ready (GET /readyz) "
                "or load an artifact with ModelHolder.swap"
            )
        return model

    def swap(self, artifact_dir: str | Path, expected_sha256: str | None = None) -> LoadedModel:
        """Load, check and serve a new artifact; the old one serves until this returns.

        Parameters
        ----------
        artifact_dir
            The new artifact directory (loaded beside the serving one: memory for both
            is needed during the swap).
        expected_sha256
            When given, the sha256 of the new ``manifest.json`` must equal it (as published
            by the pipeline that exported the artifact).

        Returns
        -------
        LoadedModel
            The model now served.

        Raises
        ------
        ArtifactError
            (or a subclass: ``ArtifactIntegrityError``, ``UnsupportedFormatError``) when the
            artifact cannot be loaded, a file's or the manifest's sha256 does not match,
            the manifest changed while loading, or the smoke call fails. The served model
            is then unchanged.
        """
        if expected_sha256 is not None and not isinstance(expected_sha256, str):
            raise InvalidParameterTypeError(
                f"expected_sha256 must be a hex string or None, got "
                f"{type(expected_sha256).__name__}"
            )
        with self._swap_lock:
            before = artifact_sha256(artifact_dir)
            if expected_sha256 is not None and before != expected_sha256.lower():
                raise ArtifactIntegrityError(
                    f"manifest.json of {str(artifact_dir)!r} has sha256 {before}, expected "
                    f"{expected_sha256}; refusing to serve a different artifact"
                )
            runtime = SeqrecRuntime(artifact_dir, **self._load_options)
            smoke_check(runtime)
            if artifact_sha256(artifact_dir) != before:
                raise ArtifactError(
                    f"manifest.json of {str(artifact_dir)!r} changed while it was loading; "
                    "write a new artifact into a new directory and swap to that"
                )
            model = LoadedModel(
                runtime=runtime,
                sha256=before,
                version=str(runtime.manifest.get("created_at") or "unknown"),
                path=runtime.path,
                loaded_at=time.time(),
            )
            self._current = model  # the atomic swap
            return model
