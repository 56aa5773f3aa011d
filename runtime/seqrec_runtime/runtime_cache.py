"""One loaded runtime per worker process, shared by every batch and task it scores.

Spark Python workers and Ray actors live for many batches; loading the artifact (reading
and hashing its files, building the onnxruntime sessions) once per batch would dominate
the job. :func:`cached_runtime` loads it once per process and key
``(artifact sha256, providers, intra-op threads, batch size)``.

Set the environment variable ``SEQREC_RUNTIME_LOAD_LOG`` to a file path to have every
load appended to it as one line ``pid<TAB>sha256<TAB>threads``: a cheap way for
operators (and the tests) to check that each worker process loaded a model once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from .errors import ArtifactError, ArtifactIntegrityError
from .runtime import SeqrecRuntime, load

LOAD_LOG_ENV = "SEQREC_RUNTIME_LOAD_LOG"
_MANIFEST = "manifest.json"

_lock = threading.Lock()
_cache: dict[tuple, SeqrecRuntime] = {}


def artifact_sha256(artifact_dir: str | Path) -> str:
    """Hex sha256 of the artifact's ``manifest.json``, which lists every file's sha256.

    Two artifacts with the same key therefore have identical files.

    Raises
    ------
    ArtifactError
        The directory or its manifest is missing.
    """
    manifest = Path(artifact_dir) / _MANIFEST
    try:
        data = manifest.read_bytes()
    except OSError as exc:
        raise ArtifactError(
            f"cannot read {str(manifest)!r}: {exc}; pass a seqrec artifact directory "
            "(written by `seqrec export`) that this process can read"
        ) from exc
    return hashlib.sha256(data).hexdigest()


def _providers_key(providers: Any) -> Any:
    if providers is None or isinstance(providers, str):
        return providers
    return tuple(
        (p[0], tuple(sorted(p[1].items()))) if isinstance(p, tuple) else p for p in providers
    )


def cached_runtime(
    artifact_dir: str | Path,
    sha256: str,
    providers: Any = None,
    intra_op_num_threads: int | None = None,
    batch_size: int = 64,
) -> SeqrecRuntime:
    """The process's runtime for this artifact, loading it on first use.

    Parameters
    ----------
    artifact_dir
        Where this process reads the artifact (a shared path or a ``SparkFiles`` copy).
    sha256
        :func:`artifact_sha256` as computed where the job was defined; the copy read here
        must have the same manifest.
    providers, intra_op_num_threads, batch_size
        As in :func:`seqrec_runtime.load`.

    Raises
    ------
    ArtifactIntegrityError
        The artifact read here is not the one the job was defined with.
    """
    key = (sha256, _providers_key(providers), intra_op_num_threads, batch_size)
    with _lock:
        runtime = _cache.get(key)
        if runtime is not None:
            return runtime
        found = artifact_sha256(artifact_dir)
        if found != sha256:
            raise ArtifactIntegrityError(
                f"the artifact at {str(artifact_dir)!r} on this worker has manifest sha256 "
                f"{found[:12]}..., not {sha256[:12]}... as where the job was defined; give "
                "every worker the same artifact (a shared path or SparkContext.addFile)"
            )
        runtime = load(
            artifact_dir,
            providers=providers,
            intra_op_num_threads=intra_op_num_threads,
            batch_size=batch_size,
        )
        _cache[key] = runtime
        _log_load(sha256, intra_op_num_threads)
        return runtime


def _log_load(sha256: str, threads: int | None) -> None:
    path = os.environ.get(LOAD_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\t{sha256}\t{threads}\n")


def clear_cache() -> None:
    """Forget every cached runtime of this process (their sessions are freed when unused)."""
    with _lock:
        _cache.clear()
