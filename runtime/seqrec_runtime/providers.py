"""onnxruntime execution providers and session options (the only module that sets them).

Defaults
--------
* ``providers=None``: ``CUDAExecutionProvider`` then ``CPUExecutionProvider`` when the
  installed onnxruntime has CUDA (the ``onnxruntime-gpu`` wheel), else CPU only. TensorRT
  and the other accelerators are opt-in: name them explicitly.
* ``intra_op_num_threads=None``: onnxruntime's own default (one thread per physical core),
  best for one request at a time on big batches. A server answering many requests
  concurrently from one process should pass ``1`` (or ``cores // concurrent requests``)
  to avoid oversubscribing the CPU.
* Graph optimisation level ``ORT_ENABLE_ALL``, sequential execution, onnxruntime logging
  at *error* level (provider fall-backs are reported by this module as warnings instead).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import onnxruntime as ort

from .errors import InvalidParameterError, InvalidParameterTypeError, ProviderError
from .warn import warn

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

#: onnxruntime stores ``intra_op_num_threads`` as a C int
_MAX_THREADS = 2**31 - 1

#: A provider name, or ``(name, options)`` as onnxruntime accepts it.
ProviderSpec = str | tuple[str, Mapping[str, Any]]


#: The one install line for GPU serving. ``onnxruntime-gpu`` provides the same
#: ``onnxruntime`` module as the CPU wheel, so the two must never be installed together:
#: the CPU build is removed first (there is deliberately no ``seqrec-runtime[gpu]`` extra,
#: which would install both).
GPU_INSTALL = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"


class ProviderWarning(UserWarning):
    """A requested execution provider is not available or was not used by the session."""


def default_providers() -> list[str]:
    """CUDA then CPU when this onnxruntime build has CUDA, else CPU only."""
    return [CUDA, CPU] if CUDA in ort.get_available_providers() else [CPU]


def _available_text() -> str:
    return f"available in this onnxruntime ({ort.__version__}): {ort.get_available_providers()}"


def _split(spec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if (
        isinstance(spec, tuple)
        and len(spec) == 2
        and isinstance(spec[0], str)
        and isinstance(spec[1], Mapping)
    ):
        return spec[0], dict(spec[1])
    raise InvalidParameterTypeError(
        f"each provider must be a name such as {CPU!r} or a (name, options_dict) tuple; "
        f"got {spec!r}"
    )


def resolve_providers(
    providers: ProviderSpec | Sequence[ProviderSpec] | None, strict: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """Validate requested providers and keep the ones this onnxruntime can use.

    Parameters
    ----------
    providers
        ``None`` (see :func:`default_providers`), one provider, or a sequence of them in
        priority order. A provider is a name or a ``(name, options)`` tuple.
    strict
        Raise instead of warning when a known provider is not available.

    Returns
    -------
    list of (name, options)
        The available requested providers, in order; never empty (CPU when nothing else).

    Raises
    ------
    ProviderError
        Unknown provider name (always), or unavailable provider with ``strict=True``.
    """
    if providers is None:
        providers = default_providers()
    if isinstance(providers, str) or (
        isinstance(providers, tuple) and len(providers) == 2 and isinstance(providers[1], Mapping)
    ):  # one provider: a name or a (name, options) tuple; any other tuple lists providers
        providers = [providers]
    if not isinstance(providers, Sequence) or not providers:
        raise InvalidParameterTypeError(
            f"providers must be None or a non-empty list of provider names; got {providers!r}"
        )
    requested = [_split(p) for p in providers]
    known = set(ort.get_all_providers())
    available = ort.get_available_providers()
    unknown = [name for name, _ in requested if name not in known]
    if unknown:
        raise ProviderError(f"unknown execution provider(s) {unknown}; {_available_text()}")
    missing = [name for name, _ in requested if name not in available]
    if missing:
        message = (
            f"execution provider(s) {missing} are not available; {_available_text()}. "
            f"For CUDA, replace the CPU build of onnxruntime by the GPU build: {GPU_INSTALL}"
        )
        if strict:
            raise ProviderError(message)
        warn(message + "; falling back to the others", ProviderWarning)
    usable = [(name, opts) for name, opts in requested if name in available]
    return usable or [(CPU, {})]


def session_options(intra_op_num_threads: int | None = None) -> ort.SessionOptions:
    """Session options used for every seqrec graph (see the module docstring)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if intra_op_num_threads is not None:
        if isinstance(intra_op_num_threads, bool) or not isinstance(
            intra_op_num_threads, numbers.Integral
        ):
            raise InvalidParameterTypeError(
                f"intra_op_num_threads must be None or an int, got {intra_op_num_threads!r}"
            )
        if not 0 <= intra_op_num_threads <= _MAX_THREADS:
            raise InvalidParameterError(
                f"intra_op_num_threads must be between 0 (onnxruntime default) and "
                f"{_MAX_THREADS}, got {intra_op_num_threads}"
            )
        options.intra_op_num_threads = int(intra_op_num_threads)
    return options


def check_session_providers(
    session: Any, requested: list[tuple[str, dict[str, Any]]], strict: bool = False
) -> list[str]:
    """Compare the providers a session actually uses with the requested ones.

    Returns
    -------
    list of str
        ``session.get_providers()``.

    Raises
    ------
    ProviderError
        With ``strict=True`` when a requested provider is not in use (e.g. CUDA failed to
        initialise because the CUDA libraries are missing); otherwise a warning.
    """
    used = list(session.get_providers())
    dropped = [name for name, _ in requested if name not in used]
    if dropped:
        message = (
            f"onnxruntime did not enable execution provider(s) {dropped} (they failed to "
            f"initialise); the session uses {used}; {_available_text()}"
        )
        if strict:
            raise ProviderError(message)
        warn(message, ProviderWarning)
    return used


def create_session(
    model_path: str,
    providers: list[tuple[str, dict[str, Any]]],
    options: ort.SessionOptions,
) -> ort.InferenceSession:
    """Create an :class:`onnxruntime.InferenceSession` with resolved providers.

    onnxruntime's own exceptions propagate; :mod:`seqrec_runtime.artifact` turns them
    into :class:`~seqrec_runtime.errors.ArtifactError`.
    """
    names = [name for name, _ in providers]
    provider_options = [opts for _, opts in providers]
    return ort.InferenceSession(
        model_path, sess_options=options, providers=names, provider_options=provider_options
    )
