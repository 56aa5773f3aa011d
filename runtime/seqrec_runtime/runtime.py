"""``SeqrecRuntime``: score and recommend with a seqrec ONNX artifact (numpy + onnxruntime)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import providers as _providers
from .artifact import Artifact, check_session_io, read_artifact
from .batch import iter_chunks, recommend_all, resolve_top_k, score_all
from .errors import ArtifactError, InvalidParameterError, InvalidParameterTypeError
from .histories import ColdUserWarning, read_histories
from .inference import Graphs
from .ranking import check_flag, check_temperature, make_rng, rank
from .sequences import Sequences, distinct_history, left_pad
from .table import ITEM_ID, normalize_ids
from .vocabulary import ItemVocabulary
from .warn import warn


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral):
        raise InvalidParameterTypeError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


def _rng(random_state: Any, temperature: float) -> np.random.Generator | None:
    """A generator when sampling; otherwise only validate ``random_state`` (cheaply)."""
    if temperature > 0.0 or random_state is not None:
        rng = make_rng(random_state)
        return rng if temperature > 0.0 else None
    return None


_ONE_USER = np.zeros(1, dtype=np.int64)
_ONE_USER.flags.writeable = False


def _one_user(known: np.ndarray, max_len: int) -> Sequences:
    """Sequences of one user from their known item indices (oldest first)."""
    length = min(len(known), max_len)
    return Sequences(
        user_ids=_ONE_USER,
        lengths=np.array([length], dtype=np.int64),
        aligned={},
        history_ptr=np.array([0, len(known)], dtype=np.int64),
        history_items=known,
        max_len=max_len,
    )


def _open_session(graph_path: Path, providers, options) -> Any:
    try:
        return _providers.create_session(str(graph_path), providers, options)
    except Exception as exc:  # onnxruntime raises its own (pybind) exception types
        raise ArtifactError(
            f"onnxruntime cannot load {graph_path.name!r} from {str(graph_path.parent)!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


class SeqrecRuntime:
    """A loaded, verified seqrec artifact. Thread-safe: share one instance across threads.

    Use :func:`seqrec_runtime.load` (same parameters) to create one.

    Parameters
    ----------
    artifact_dir
        Directory holding ``manifest.json`` and the ONNX graph(s) it lists.
    providers
        onnxruntime execution providers in priority order (names or ``(name, options)``
        tuples); ``None`` = CUDA then CPU when available, else CPU.
    intra_op_num_threads
        Threads per onnxruntime call; ``None`` = onnxruntime default (physical cores).
        Use 1 when serving many concurrent requests from one process.
    strict_providers
        Raise :class:`ProviderError` instead of warning when a requested provider is not
        available or not used.
    batch_size
        Users per model call in :meth:`score_items` and :meth:`recommend`. Each chunk is
        trimmed to its longest history, so smaller chunks waste less padding
        (``bench/inference.py`` compares chunk sizes). Results do not depend on it.

    Attributes
    ----------
    item_ids_ : numpy.ndarray
        The item vocabulary (int64 or str), ascending; column ``j`` of every score matrix.
    manifest : dict
        The parsed ``manifest.json``.
    max_len, n_items : int
        Items of history the model reads; number of items it scores.
    providers : list of str
        Execution providers the onnxruntime sessions actually use.
    batch_size : int
    """

    def __init__(
        self,
        artifact_dir: str | Path,
        providers: _providers.ProviderSpec | Sequence[_providers.ProviderSpec] | None = None,
        intra_op_num_threads: int | None = None,
        strict_providers: bool = False,
        batch_size: int = 64,
    ) -> None:
        self.batch_size = _check_batch_size(batch_size)
        strict = check_flag(strict_providers, "strict_providers")
        requested = _providers.resolve_providers(providers, strict=strict)
        options = _providers.session_options(intra_op_num_threads)
        artifact: Artifact = read_artifact(artifact_dir)
        sessions, by_path = {}, {}
        for name, graph in artifact.graphs.items():
            if graph.path not in by_path:  # one session for a file holding both graphs
                by_path[graph.path] = _open_session(graph.path, requested, options)
            session = by_path[graph.path]
            check_session_io(session, graph, artifact.n_items)
            sessions[name] = session
        self.providers = _providers.check_session_providers(sessions["scores"], requested, strict)
        for session in sessions.values():  # every graph, without repeating the same warning
            if list(session.get_providers()) != self.providers:
                _providers.check_session_providers(session, requested, strict)
        self.path = artifact.path
        self.manifest = artifact.manifest
        self.max_len = artifact.max_len
        self.n_items = artifact.n_items
        self._vocab = artifact.vocabulary
        self.item_ids_ = artifact.vocabulary.ids
        self.item_ids_.flags.writeable = False
        self._graphs = Graphs(artifact, sessions["scores"], sessions["topk"])

    @property
    def vocabulary(self) -> ItemVocabulary:
        """The artifact's item vocabulary (item id <-> model index), for engine adapters."""
        return self._vocab

    @property
    def graphs(self) -> Graphs:
        """The loaded ONNX graphs (low level: what the batch engines score with)."""
        return self._graphs

    def __repr__(self) -> str:
        return (
            f"SeqrecRuntime({str(self.path)!r}, n_items={self.n_items}, max_len={self.max_len}, "
            f"providers={self.providers})"
        )

    # ------------------------------------------------------------------ batch API
    def score_items(
        self, interactions: Any, return_user_ids: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Score every item for every user of ``interactions``.

        Parameters
        ----------
        interactions
            dict / pandas DataFrame / pyarrow Table with USER_ID, ITEM_ID, TIMESTAMP.
            Items unknown to the model are skipped.
        return_user_ids
            Also return the users (row order).

        Returns
        -------
        numpy.ndarray or (user_ids, scores)
            float32 ``(n_users, n_items)``; rows are users in ascending USER_ID order,
            columns follow :attr:`item_ids_`. Users without a known item ("cold") get
            the popularity fallback scores (and a :class:`ColdUserWarning`).
        """
        return_user_ids = check_flag(return_user_ids, "return_user_ids")
        seqs = read_histories(interactions, self._vocab, self.max_len)
        graphs = self._graphs
        scores = score_all(seqs, graphs.scores, graphs.fallback, self.batch_size,
                           with_history=graphs.with_history)
        return (seqs.user_ids, scores) if return_user_ids else scores

    def recommend(
        self,
        interactions: Any,
        top_k: int = 10,
        sampling_temperature: float = 0.0,
        exclude_seen: bool = True,
        random_state: Any = None,
        return_user_ids: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Recommend ``top_k`` items per user.

        Parameters
        ----------
        interactions
            dict / pandas DataFrame / pyarrow Table with USER_ID, ITEM_ID, TIMESTAMP.
        top_k
            Items per user; clipped with a warning to ``n_items`` and, with
            ``exclude_seen``, to the fewest items any user has left.
        sampling_temperature
            0 = deterministic top-k (ties: lower column first); > 0 samples ``top_k``
            distinct items from ``softmax(scores / temperature)`` (Gumbel-top-k).
        exclude_seen
            Never recommend an item anywhere in the user's given history (not only the
            last ``max_len``). Default True (a movie or product catalogue); pass False for
            a re-consumption catalogue (music, groceries) where seen items are expected.
        random_state
            None, an int >= 0 or a ``numpy.random.Generator``; noise is drawn row-major
            over users in output order, so results do not depend on ``batch_size``.
        return_user_ids
            Also return the users (row order).

        Returns
        -------
        numpy.ndarray or (user_ids, items)
            ``(n_users, top_k)`` original item ids (dtype of :attr:`item_ids_`), best first,
            rows in ascending USER_ID order.
        """
        temperature = check_temperature(sampling_temperature)
        rng = _rng(random_state, temperature)
        exclude_seen = check_flag(exclude_seen, "exclude_seen")
        return_user_ids = check_flag(return_user_ids, "return_user_ids")
        seqs = read_histories(interactions, self._vocab, self.max_len)
        top_k = resolve_top_k(top_k, seqs, self.n_items, exclude_seen)
        columns = self._rank(seqs, top_k, temperature, rng, exclude_seen)
        items = self._vocab.decode(columns)
        return (seqs.user_ids, items) if return_user_ids else items

    def _rank(
        self,
        seqs: Sequences,
        top_k: int,
        temperature: float,
        rng: np.random.Generator | None,
        exclude_seen: bool,
    ) -> np.ndarray:
        """Column indices per row: the top-k graph when it can answer, else numpy ranking."""
        graphs = self._graphs
        if temperature > 0.0 or top_k > graphs.k:
            return recommend_all(
                seqs, graphs.scores, graphs.fallback, top_k, temperature, rng, exclude_seen,
                self.batch_size, with_history=graphs.with_history,
            )
        columns = np.empty((len(seqs.user_ids), top_k), dtype=np.int64)
        for start, stop, items in iter_chunks(seqs, self.batch_size):
            seen = None
            if exclude_seen or graphs.with_history:
                seen = distinct_history(seqs, start, stop, self.n_items)
            exclude = seen if exclude_seen else None
            top = graphs.top_indices(items, exclude, seen)[:, :top_k]
            cold = seqs.lengths[start:stop] == 0
            top[cold] = graphs.fallback_order[:top_k]
            columns[start:stop] = top
        return columns

    # ------------------------------------------------------------------ online API
    def recommend_online(
        self,
        item_ids: Any,
        top_k: int = 10,
        sampling_temperature: float = 0.0,
        exclude_seen: bool = True,
        random_state: Any = None,
    ) -> np.ndarray:
        """Recommend for ONE user from their ordered history (low-latency path).

        Parameters
        ----------
        item_ids
            The user's item ids, oldest first (list or 1-D array). Unknown ids are
            skipped; an empty or all-unknown history gets the popularity fallback and a
            :class:`ColdUserWarning`.
        top_k, sampling_temperature, exclude_seen, random_state
            As in :meth:`recommend`.

        Returns
        -------
        numpy.ndarray
            1-D, ``top_k`` original item ids, best first. Equal to the user's row of
            :meth:`recommend` on the same history (with timestamps in list order).
        """
        temperature = check_temperature(sampling_temperature)
        rng = _rng(random_state, temperature)
        exclude_seen = check_flag(exclude_seen, "exclude_seen")
        known = self._encode_history(item_ids)
        known = known[known != 0]
        seqs = _one_user(known, self.max_len)
        cold = len(known) == 0
        if cold:
            warn(
                "the history has no item known to the model; returning the popularity "
                "fallback",
                ColdUserWarning,
            )
        top_k = resolve_top_k(top_k, seqs, self.n_items, exclude_seen)
        graphs = self._graphs
        if cold:  # nothing to exclude; skip the model
            if temperature == 0.0:
                columns = graphs.fallback_order[:top_k]
            else:
                columns = rank(graphs.fallback[None, :], top_k, temperature, rng)[0]
        elif temperature == 0.0 and top_k <= graphs.k:
            seen = np.unique(known).reshape(1, -1) if exclude_seen or graphs.with_history else None
            exclude = seen if exclude_seen else None
            columns = graphs.top_indices(left_pad(known, self.max_len), exclude, seen)[0, :top_k]
        else:
            columns = recommend_all(
                seqs, graphs.scores, graphs.fallback, top_k, temperature, rng, exclude_seen, 1,
                with_history=graphs.with_history,
            )[0]
        return self.item_ids_[columns]

    def _encode_history(self, item_ids: Any) -> np.ndarray:
        """Model indices (0 = unknown) of one user's ids, in order."""
        if isinstance(item_ids, np.ndarray):
            if item_ids.ndim != 1:
                raise InvalidParameterTypeError(
                    f"item_ids must be 1-D (the user's ids, oldest first), got shape "
                    f"{item_ids.shape}"
                )
            if not isinstance(item_ids, np.ma.MaskedArray) and (
                item_ids.dtype == np.int64 or item_ids.dtype.kind == "U"
            ):  # already normalised: fast path (masked arrays are checked below)
                return self._vocab.encode(item_ids)
        elif isinstance(
            item_ids, (str, bytes, bytearray, memoryview, set, frozenset, dict)
        ) or not hasattr(
            item_ids, "__len__"
        ):  # one id, or a container without an order
            raise InvalidParameterTypeError(
                "item_ids must be a list or 1-D array of the user's item ids (oldest first), "
                f"got {type(item_ids).__name__}"
            )
        return self._vocab.encode(normalize_ids(item_ids, ITEM_ID))


def load(
    artifact_dir: str | Path,
    providers: _providers.ProviderSpec | Sequence[_providers.ProviderSpec] | None = None,
    intra_op_num_threads: int | None = None,
    strict_providers: bool = False,
    batch_size: int = 64,
) -> SeqrecRuntime:
    """Load and verify a seqrec artifact; see :class:`SeqrecRuntime` for the parameters.

    Raises
    ------
    ArtifactError
        Missing directory or file, malformed manifest, pickle files in the directory,
        a model onnxruntime cannot load, or I/O names that differ from the manifest.
    ArtifactIntegrityError
        A file whose sha256 differs from the manifest.
    UnsupportedFormatError
        Not a seqrec artifact, or a newer ``format_version`` (upgrade seqrec-runtime).
    ProviderError
        Unknown provider name; unavailable/unused provider with ``strict_providers``.
    """
    return SeqrecRuntime(
        artifact_dir,
        providers=providers,
        intra_op_num_threads=intra_op_num_threads,
        strict_providers=strict_providers,
        batch_size=batch_size,
    )
