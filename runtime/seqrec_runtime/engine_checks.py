"""Checks the engines run where a job is defined, before any task starts.

Parameters are validated with the runtime's own checks; the artifact is loaded once (a
missing or corrupt artifact fails here); column types are checked from the schema, so a
missing column, float or boolean ids, ids of the wrong type for the artifact or text
timestamps are refused with the runtime's error classes instead of failing in a worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import IdTypeError, InvalidParameterError, SchemaError, TimestampTypeError
from .ranking import check_flag, check_temperature, check_top_k, make_rng
from .runtime import SeqrecRuntime, load
from .runtime_cache import artifact_sha256
from .user_batches import ScoringRequest

#: kinds of column types, as :func:`check_columns` receives them from an engine's schema
INTEGER, TEXT, FLOAT, TIME, OTHER = "integer", "text", "float", "time", "other"
OUTPUTS = ("arrays", "long")


def load_artifact(artifact: str | Path) -> tuple[SeqrecRuntime, str]:
    """Load (and so verify) the artifact here; return it and its :func:`artifact_sha256`."""
    sha256 = artifact_sha256(artifact)
    runtime = load(artifact, providers=["CPUExecutionProvider"], intra_op_num_threads=1)
    return runtime, sha256


def resolve_seed(random_state: Any, temperature: float) -> int:
    """The int seed every worker uses (fresh entropy, drawn once here, for ``None``)."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    rng = make_rng(random_state)  # validates
    if random_state is None:
        return int(rng.integers(0, 2**63)) if temperature > 0 else 0
    return int(random_state)


def make_request(
    runtime: SeqrecRuntime,
    top_k: Any,
    exclude_seen: Any,
    sampling_temperature: Any,
    random_state: Any,
    user_col: str,
    item_col: str,
    time_col: str,
) -> ScoringRequest:
    """Validated :class:`ScoringRequest` (``top_k`` clipped to the catalogue, with a warning)."""
    temperature = check_temperature(0.0 if sampling_temperature is None else sampling_temperature)
    for name, value in (("user_col", user_col), ("item_col", item_col), ("time_col", time_col)):
        if not isinstance(value, str) or not value:
            raise InvalidParameterError(f"{name} must be a column name, got {value!r}")
    if len({user_col, item_col, time_col}) != 3:
        raise InvalidParameterError(
            f"user_col, item_col and time_col must differ, got {user_col!r}, {item_col!r}, "
            f"{time_col!r}"
        )
    return ScoringRequest(
        user_col=user_col,
        item_col=item_col,
        time_col=time_col,
        top_k=check_top_k(top_k, runtime.n_items),
        exclude_seen=check_flag(exclude_seen, "exclude_seen"),
        temperature=temperature,
        seed=resolve_seed(random_state, temperature),
    )


def check_output(output: Any) -> str:
    if output not in OUTPUTS:
        raise InvalidParameterError(f"output must be 'arrays' or 'long', got {output!r}")
    return output


def check_columns(
    kinds: dict[str, str], request: ScoringRequest, runtime: SeqrecRuntime
) -> None:
    """Refuse what the schema already shows: missing columns, bad id or timestamp types.

    ``kinds`` maps every column name to one of :data:`INTEGER`, :data:`TEXT`,
    :data:`FLOAT`, :data:`TIME` or :data:`OTHER`.
    """
    wanted = {"user_col": request.user_col, "item_col": request.item_col,
              "time_col": request.time_col}
    missing = [f"{name}={col!r}" for name, col in wanted.items() if col not in kinds]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}; the input has {sorted(kinds)}. Pass "
            "the names with user_col=, item_col=, time_col= (CLI: --user-col, ...)"
        )
    for col in (request.user_col, request.item_col):
        if kinds[col] not in (INTEGER, TEXT):
            raise IdTypeError(
                f"column {col!r} is {kinds[col]}; ids must be integers or text. Cast it "
                f"(e.g. F.col({col!r}).cast('long') when every value is whole)"
            )
    item_kind = INTEGER if runtime.item_ids_.dtype.kind == "i" else TEXT
    if kinds[request.item_col] != item_kind:
        raise IdTypeError(
            f"column {request.item_col!r} is {kinds[request.item_col]} but the model's item "
            f"ids are {item_kind}; cast it (F.col({request.item_col!r}).cast("
            f"{'long' if item_kind == INTEGER else 'string'!r})) so that 3 and '3' are not "
            "silently different items"
        )
    if kinds[request.time_col] not in (INTEGER, FLOAT, TIME):
        raise TimestampTypeError(
            f"column {request.time_col!r} is {kinds[request.time_col]}; timestamps must be "
            "numeric or timestamps (text would sort as text). Parse it, e.g. "
            f"F.to_timestamp({request.time_col!r})"
        )
