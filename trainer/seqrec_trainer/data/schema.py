"""YAML column schemas: the built-in ones and client schemas that validate and cast.

A schema file looks like::

    columns:
      - name: USER_ID          # column name seqrec uses
        source: customer_id    # optional: the client's column name (renamed to `name`)
        type: id               # id | int | str | float | timestamp | datetime
        required: true         # default true

``type`` casts: ``int`` -> int64 (fractions are an error), ``str`` -> text (integral floats
become "3", not "3.0"), ``id`` -> int or text as given (never mixed), ``float`` -> float32
(NaN is an error), ``timestamp`` -> numbers or datetime64, ``datetime`` -> ISO-8601 text or
datetime64 parsed to nanoseconds since the epoch (the way to use text timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from seqrec_runtime.errors import MissingValueError, SchemaError, TimestampTypeError
from seqrec_runtime.table import as_array, normalize_ids, normalize_timestamps

_TYPES = ("id", "int", "str", "float", "timestamp", "datetime")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a schema."""

    name: str
    type: str
    source: str | None = None
    required: bool = True


def load_schema(path: str | Path | None = None, builtin: str | None = None) -> list[ColumnSpec]:
    """Read a schema from ``path`` or a built-in schema file name."""
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    elif builtin is not None:
        text = resources.files("seqrec_trainer.schemas").joinpath(builtin).read_text("utf-8")
        where = f"built-in schema {builtin}"
    else:
        raise SchemaError("load_schema needs a schema path or a built-in schema name")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SchemaError(f"{where} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list):
        raise SchemaError(f"{where} must have a top-level 'columns:' list")
    specs = []
    for entry in doc["columns"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise SchemaError(f"{where}: every column needs a 'name', got {entry!r}")
        kind = entry.get("type", "id")
        if kind not in _TYPES:
            raise SchemaError(f"{where}: column {entry['name']!r} has type {kind!r}; use {_TYPES}")
        specs.append(
            ColumnSpec(
                str(entry["name"]), kind, entry.get("source"), bool(entry.get("required", True))
            )
        )
    return specs


def cast_column(values: Any, spec: ColumnSpec) -> np.ndarray:
    """Validate and cast one column according to ``spec``."""
    name = spec.name
    if spec.type == "id":
        return normalize_ids(values, name)
    if spec.type == "int":
        ids = normalize_ids(values, name)
        if ids.dtype.kind == "U":
            try:
                return ids.astype(np.int64)
            except ValueError as exc:
                raise SchemaError(
                    f"{name} is declared int but holds text such as {ids[0]!r}"
                ) from exc
        return ids
    if spec.type == "str":
        ids = normalize_ids(values, name)
        return ids if ids.dtype.kind == "U" else ids.astype(str)
    if spec.type == "float":
        return cast_float(values, name)
    if spec.type == "datetime":
        array = as_array(values, name)
        if array.dtype.kind in "USO":
            try:
                array = np.array(array, dtype="datetime64[ns]")
            except ValueError as exc:
                raise TimestampTypeError(
                    f"{name} has text that is not ISO-8601 (e.g. {array[0]!r}): {exc}"
                ) from exc
        return normalize_timestamps(array, name)
    return normalize_timestamps(values, name)


def cast_float(values: Any, name: str) -> np.ndarray:
    """Float32 column without NaN/inf (one NaN would turn every score into NaN)."""
    array = as_array(values, name)
    if array.dtype.kind == "c":
        raise SchemaError(f"{name} holds complex numbers; it must be real (float) values")
    try:
        array = array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{name} must be numeric: {exc}") from exc
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise MissingValueError(
            f"{name} has {len(rows)} NaN/inf value(s), first at row {int(rows[0])}; drop or "
            "fill them (e.g. df.OUTCOME.fillna(1.0)) — one NaN would make every score NaN"
        )
    with np.errstate(over="ignore"):
        out = array.astype(np.float32)
    overflow = ~np.isfinite(out)
    if overflow.any():
        rows = np.flatnonzero(overflow)
        raise SchemaError(
            f"{name} has {len(rows)} value(s) beyond the float32 range (|x| > 3.4e38), first "
            f"at row {int(rows[0])} ({array[rows[0]]!r}); they would train on inf. Rescale "
            "the column"
        )
    return out
