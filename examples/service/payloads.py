"""Request bodies of the recommendation service: parse, check, answer (no web framework here).

Everything in this module runs in a worker thread, never on the event loop: JSON parsing,
the onnxruntime calls and JSON encoding are CPU work.
"""

from __future__ import annotations

import json
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from seqrec_runtime import (
    ColdUserWarning,
    EmptyInputError,
    InvalidParameterError,
    InvalidParameterTypeError,
    LoadedModel,
    SeqrecError,
    SeqrecRuntime,
)

UNKNOWN_POLICIES = ("error", "skip")
SINGLE_FIELDS = {"history", "top_k", "exclude_seen", "unknown_items"}
BATCH_FIELDS = {"histories", "top_k", "exclude_seen", "unknown_items"}


class MalformedRequestError(InvalidParameterError):
    """The body is not a JSON object (answered with 400)."""


class RequestTooLargeError(InvalidParameterError):
    """The body is larger than the service accepts (answered with 413)."""


class UnknownItemsError(InvalidParameterError):
    """The history holds ids the model does not know, and ``unknown_items`` is ``"error"``."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for.

    Attributes
    ----------
    max_top_k : int
        Largest ``top_k`` (further capped by the model's number of items).
    max_batch_users : int
        Most histories in one ``POST /recommend/batch``.
    """

    max_top_k: int = 1000
    max_batch_users: int = 256


@dataclass(frozen=True)
class Options:
    """The per-request options shared by both recommend endpoints."""

    top_k: Any
    exclude_seen: Any
    unknown_items: str


def parse_object(body: bytes, fields: set[str]) -> dict[str, Any]:
    """Parse a JSON object body and refuse fields the endpoint does not know.

    Raises
    ------
    MalformedRequestError
        Invalid JSON or UTF-8, or a body that is not a JSON object.
    InvalidParameterError
        An unknown field (a typo such as ``"topk"`` would otherwise be ignored silently).
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedRequestError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedRequestError(
            f"the body must be a JSON object, got {type(payload).__name__}"
        )
    unknown = sorted(set(payload) - fields)
    if unknown:
        raise InvalidParameterError(
            f"unknown field(s) {unknown}; this endpoint accepts {sorted(fields)}"
        )
    return payload


def parse_options(payload: dict[str, Any], runtime: SeqrecRuntime, limits: Limits) -> Options:
    """``top_k`` (default 10), ``exclude_seen`` (default true), ``unknown_items`` ("error").

    Types are left to the runtime's own checks (same messages as in Python); only the
    service's own bounds are checked here.
    """
    top_k = payload.get("top_k", 10)
    limit = min(limits.max_top_k, runtime.n_items)
    if isinstance(top_k, numbers.Integral) and not isinstance(top_k, bool) and top_k > limit:
        raise InvalidParameterError(
            f"top_k={top_k} is above this service's limit of {limit} (the smaller of "
            f"--max-top-k={limits.max_top_k} and the model's {runtime.n_items} items); "
            "ask for fewer items"
        )
    unknown_items = payload.get("unknown_items", "error")
    if unknown_items not in UNKNOWN_POLICIES:
        raise InvalidParameterError(
            f"unknown_items must be one of {list(UNKNOWN_POLICIES)}, got {unknown_items!r}"
        )
    exclude_seen = payload.get("exclude_seen", True)
    # The runtime's own checks of top_k and exclude_seen: an empty history takes the
    # popularity fallback, so this runs no model.
    runtime.recommend_online([], top_k=top_k, exclude_seen=exclude_seen)
    return Options(top_k, exclude_seen, unknown_items)


def quiet_runtime_warnings() -> None:
    """Silence the runtime warnings whose news the answers carry themselves.

    ``ColdUserWarning`` (answered with ``skipped_unknown``) and the top-k clipping of
    ``exclude_seen`` (answered with fewer items). Process-wide: call it once at start-up.
    """
    warnings.filterwarnings("ignore", category=ColdUserWarning)
    warnings.filterwarnings("ignore", message="exclude_seen leaves only", category=UserWarning)


def _history(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise InvalidParameterTypeError(
            f"{where} must be a JSON array of the user's item ids, oldest first; got "
            f"{type(value).__name__}"
        )
    if not value:
        raise EmptyInputError(
            f"{where} is empty; send at least one item id (this service does not guess "
            "for users without history)"
        )
    return value


def _as_vocabulary_ids(history: list, runtime: SeqrecRuntime) -> np.ndarray:
    """The history as an array of the vocabulary's dtype (types already checked by the runtime)."""
    if runtime.item_ids_.dtype.kind == "U":
        return np.array(history, dtype=str)
    return np.array([int(v) for v in history], dtype=np.int64)


def recommend_one(runtime: SeqrecRuntime, history: Any, options: Options, where: str) -> dict:
    """Items (``rt.recommend_online``) and their scores (``rt.score_items``) for one history.

    Raises
    ------
    SeqrecError
        The runtime's typed errors for bad ids, ``top_k`` or ``exclude_seen``; an
        :class:`UnknownItemsError` for unknown ids under ``unknown_items="error"``.
    """
    history = _history(history, where)
    try:
        items = runtime.recommend_online(
            history, top_k=options.top_k, exclude_seen=options.exclude_seen
        )
    except SeqrecError as exc:  # same type and message, naming the history
        raise type(exc)(f"{where}: {exc}") from exc
    ids = _as_vocabulary_ids(history, runtime)
    known = np.isin(ids, runtime.item_ids_)
    if options.unknown_items == "error" and not known.all():
        unknown = list(dict.fromkeys(ids[~known].tolist()))
        raise UnknownItemsError(
            f"{where} holds {len(unknown)} item id(s) this model does not know, e.g. "
            f"{unknown[:5]}; drop them, or send \"unknown_items\": \"skip\" to let the model "
            "ignore them"
        )
    scores = runtime.score_items(
        {"USER_ID": np.zeros(len(ids), np.int64), "ITEM_ID": ids,
         "TIMESTAMP": np.arange(len(ids), dtype=np.int64)}
    )[0]
    columns = np.searchsorted(runtime.item_ids_, items)
    return {
        "items": items.tolist(),
        "scores": scores[columns].astype(float).tolist(),
        "skipped_unknown": int((~known).sum()),
    }


def handle_single(model: LoadedModel, body: bytes, limits: Limits) -> bytes:
    """``POST /recommend``: ``{"history": [...], "top_k"?, "exclude_seen"?, "unknown_items"?}``."""
    payload = parse_object(body, SINGLE_FIELDS)
    if "history" not in payload:
        raise InvalidParameterError("missing field 'history' (the user's item ids, oldest first)")
    options = parse_options(payload, model.runtime, limits)
    result = recommend_one(model.runtime, payload["history"], options, "history")
    return json.dumps(result).encode()


def handle_batch(model: LoadedModel, body: bytes, limits: Limits) -> bytes:
    """``POST /recommend/batch``: ``{"histories": [[...], ...], ...}`` -> ``{"results": [...]}``.

    Each user is answered exactly as ``POST /recommend`` would; one bad history fails the
    whole request, naming its index.
    """
    payload = parse_object(body, BATCH_FIELDS)
    histories = payload.get("histories")
    if not isinstance(histories, list) or not histories:
        raise InvalidParameterError(
            "field 'histories' must be a non-empty JSON array of histories (arrays of item "
            f"ids, oldest first); got {type(histories).__name__}"
        )
    if len(histories) > limits.max_batch_users:
        raise InvalidParameterError(
            f"{len(histories)} histories in one request; this service takes at most "
            f"{limits.max_batch_users} (--max-batch-users): split the batch"
        )
    options = parse_options(payload, model.runtime, limits)
    results = [
        recommend_one(model.runtime, history, options, f"histories[{i}]")
        for i, history in enumerate(histories)
    ]
    return json.dumps({"results": results}).encode()
