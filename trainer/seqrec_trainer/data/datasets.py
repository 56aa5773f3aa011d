"""InteractionsDataset and ItemsDataset: read, validate and cast tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from seqrec_runtime.errors import EmptyInputError, SchemaError
from seqrec_runtime.table import column_names, get_columns

from .schema import ColumnSpec, cast_column, load_schema


def read_table(data_location: Any) -> Any:
    """Load a CSV/Parquet path with pyarrow, or return an in-memory table unchanged."""
    if isinstance(data_location, (str, Path)):
        path = Path(data_location)
        if not path.exists():
            raise FileNotFoundError(f"no such data file: {path}")
        suffixes = "".join(path.suffixes).lower()
        if ".parquet" in suffixes or ".pq" in suffixes:
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if ".csv" in suffixes or ".tsv" in suffixes:
            import pyarrow.csv as pcsv

            parse = pcsv.ParseOptions(delimiter="\t" if ".tsv" in suffixes else ",")
            return pcsv.read_csv(path, parse_options=parse)
        raise SchemaError(f"{path}: unsupported file type; use .csv, .tsv or .parquet")
    column_names(data_location)  # raises a clear error for unsupported objects
    return data_location


class _Dataset:
    """Base: a validated table held as a dict of column -> numpy array."""

    _builtin_schema = ""

    def __init__(self, data_location: Any, client_schema_path: str | Path | None = None) -> None:
        self.data_location = data_location
        self.client_schema_path = client_schema_path
        self.schema: list[ColumnSpec] = load_schema(client_schema_path, self._builtin_schema)
        table = read_table(data_location)
        self.data: dict[str, np.ndarray] = self._validate(table)

    def _validate(self, table: Any) -> dict[str, np.ndarray]:
        available = column_names(table)
        renames = {s.source: s.name for s in self.schema if s.source}
        required = [s.source or s.name for s in self.schema if s.required]
        optional = [s.source or s.name for s in self.schema if not s.required]
        raw = get_columns(table, required, [c for c in optional if c in available])
        out = {}
        for spec in self.schema:
            key = spec.source or spec.name
            if key in raw:
                out[renames.get(key, key)] = cast_column(raw[key], spec)
        if not out or len(next(iter(out.values()))) == 0:
            raise EmptyInputError(f"{type(self).__name__} has no rows")
        return out

    def fetch_data(self) -> dict[str, np.ndarray]:
        """The validated columns (dict of column -> numpy array)."""
        return self.data

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))


class InteractionsDataset(_Dataset):
    """User-item interactions: USER_ID, ITEM_ID, TIMESTAMP and optional OUTCOME.

    Parameters
    ----------
    data_location
        A CSV/Parquet path (read with pyarrow), a pandas DataFrame, a pyarrow Table or a
        dict of column -> array.
    client_schema_path
        Optional YAML schema (see :mod:`seqrec_trainer.data.schema`) to rename, validate
        and cast columns; the built-in training schema is used otherwise.
    """

    _builtin_schema = "interactions_schema_with_timestamp_training.yaml"


class ItemsDataset(_Dataset):
    """The item catalogue: ITEM_ID (items without interactions still get an embedding)."""

    _builtin_schema = "items_schema.yaml"
