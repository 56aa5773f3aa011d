"""InteractionsDataset and ItemsDataset: read, validate and cast tables."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
from seqrec_runtime.errors import EmptyInputError, SchemaError
from seqrec_runtime.table import (
    OUTCOME,
    TIMESTAMP,
    CodedIds,
    column_names,
    get_columns,
    normalize_ids,
)

from .schema import ColumnSpec, cast_column, load_schema

#: Id columns of the built-in schemas: read from CSV as text (see :func:`read_table`).
ID_COLUMNS = ("USER_ID", "ITEM_ID")


#: Public interaction-file formats :class:`InteractionsDataset` reads with the evaluation
#: loaders (``seqrec_trainer.data.formats``), recognised by name and header.
INTERACTION_FILE_FORMATS = ("sasrec", "movielens-dat", "movielens-csv")

#: Formats whose explicit rating is read as implicit feedback: every rating is one
#: interaction and the rating is kept as this column, not as OUTCOME (a client schema
#: with ``{name: OUTCOME, source: RATING, type: float}`` weights or regresses by it).
RATING_FORMATS, RATING = ("movielens-dat", "movielens-csv"), "RATING"


def read_table(
    data_location: Any,
    id_columns: tuple[str, ...] = ID_COLUMNS,
    text_columns: tuple[str, ...] = (),
    interaction_formats: bool = False,
) -> Any:
    """Load a CSV/Parquet path with pyarrow, or return an in-memory table unchanged.

    CSV id columns (``id_columns``) are read as text first, so that pyarrow's type guess
    cannot merge distinct ids (``"07"`` and ``"7"`` would both become the integer 7). A
    column whose every value is written as a plain integer (``7``, ``-3``, no leading zero
    or sign) then becomes int64, as before; any other keeps its text, every id distinct.
    ``text_columns`` (a schema's ``str`` columns) are read as text and stay text.

    With ``interaction_formats``, a SASRec ``user item`` file (``*.txt[.gz]``), a MovieLens
    ``ratings.dat`` (``*.dat[.gz]``) or a MovieLens CSV (header ``userId,movieId,rating,
    timestamp``) is read by its loader into USER_ID, ITEM_ID, TIMESTAMP (and, for the
    MovieLens files, RATING: the rating, not OUTCOME, see :data:`RATING_FORMATS`).
    """
    if isinstance(data_location, (str, Path)):
        path = Path(data_location)
        if not path.exists():
            raise FileNotFoundError(f"no such data file: {path}")
        if interaction_formats:
            table = _read_interaction_file(path)
            if table is not None:
                return table
        suffixes = "".join(path.suffixes).lower()
        if ".parquet" in suffixes or ".pq" in suffixes:
            import pyarrow.parquet as pq

            return _read_file(path, pq.read_table)
        if ".csv" in suffixes or ".tsv" in suffixes:
            import pyarrow as pa
            import pyarrow.csv as pcsv

            parse = pcsv.ParseOptions(delimiter="\t" if ".tsv" in suffixes else ",")
            convert = pcsv.ConvertOptions(
                column_types={name: pa.string() for name in (*id_columns, *text_columns)},
                strings_can_be_null=True,  # an empty cell stays missing, never the id ""
            )
            table = _read_file(
                path, lambda p: pcsv.read_csv(p, parse_options=parse, convert_options=convert)
            )
            return _ids_as_integers_where_exact(table, id_columns)
        formats = (" (or, for interactions, a SASRec .txt or MovieLens .dat file)"
                   if interaction_formats else "")
        raise SchemaError(f"{path}: unsupported file type; use .csv, .tsv or .parquet{formats}")
    column_names(data_location)  # raises a clear error for unsupported objects
    return data_location


def _read_interaction_file(path: Path) -> dict[str, np.ndarray] | None:
    """The table of a file in one of :data:`INTERACTION_FILE_FORMATS`, else None."""
    from .formats import LOADERS, DataFileError, detect_format

    if not path.is_file():
        return None
    try:
        fmt = detect_format(path)
    except DataFileError:  # a name the loaders do not know: read_table's own rules apply
        return None
    if fmt not in INTERACTION_FILE_FORMATS:
        return None
    table = LOADERS[fmt](path)
    if fmt in RATING_FORMATS and OUTCOME in table:
        table[RATING] = table.pop(OUTCOME)
    return table


#: An integer written the plain way: no leading zero, no "+", no spaces.
_CANONICAL_INT = r"^(0|-?[1-9][0-9]*)$"


def _ids_as_integers_where_exact(table: Any, id_columns: tuple[str, ...]) -> Any:
    """Cast text id columns to int64 where every value is a canonical integer."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in id_columns:
        if name not in table.column_names or table.schema.field(name).type != pa.string():
            continue
        column = table.column(name)
        valid = column.drop_null()
        if len(valid) == 0 or not pc.all(pc.match_substring_regex(valid, _CANONICAL_INT)).as_py():
            continue
        try:
            integers = pc.cast(column, pa.int64())
        except pa.ArrowInvalid:  # beyond int64: keep the text
            continue
        table = table.set_column(table.column_names.index(name), name, integers)
    return table


def _read_file(path: Path, reader: Any) -> Any:
    """Run a pyarrow ``reader`` on ``path``; its parse errors become typed errors naming the file.

    Raises
    ------
    EmptyInputError
        The file is empty (not even a header).
    SchemaError
        pyarrow cannot parse it (a row with too many fields, a corrupt Parquet file...).
    """
    import pyarrow as pa

    if path.is_file() and path.stat().st_size == 0:
        raise EmptyInputError(f"{path} is empty: it has no header and no rows")
    try:
        return reader(path)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"{path} cannot be read as a table: {exc}") from exc


def _holds_datetimes(array: np.ndarray) -> bool:
    """Whether a raw timestamp column (from ``get_columns``) holds datetimes, not numbers."""
    if array.dtype.kind == "M":
        return True
    return array.dtype.kind == "O" and array.size > 0 and isinstance(
        array.flat[0], (datetime.date, np.datetime64)
    )


class _Dataset:
    """Base: a validated table held as a dict of column -> numpy array.

    Long pandas/pyarrow text id columns are held grouped by their own library (distinct
    ids and one code per row, :class:`~seqrec_runtime.table.CodedIds`): training reads
    that form, and :meth:`fetch_data` expands it to one id per row on first use. At 10M
    rows this keeps about 0.5 GB per id column out of memory and skips seconds of copying.
    """

    _builtin_schema = ""
    _interaction_formats = False

    def __init__(self, data_location: Any, client_schema_path: str | Path | None = None) -> None:
        self.data_location = data_location
        self.client_schema_path = client_schema_path
        self.schema: list[ColumnSpec] = load_schema(client_schema_path, self._builtin_schema)
        table = read_table(
            data_location,
            id_columns=tuple(s.source or s.name for s in self.schema if s.type == "id"),
            text_columns=tuple(s.source or s.name for s in self.schema if s.type == "str"),
            interaction_formats=self._interaction_formats,
        )
        self._columns: dict[str, Any] = self._validate(table)
        self._expanded: dict[str, np.ndarray] | None = None

    def _validate(self, table: Any) -> dict[str, Any]:
        available = column_names(table)
        renames = {s.source: s.name for s in self.schema if s.source}
        required = [s.source or s.name for s in self.schema if s.required]
        optional = [s.source or s.name for s in self.schema if not s.required]
        raw = get_columns(table, required, [c for c in optional if c in available],
                          coded_ids=True)
        out: dict[str, Any] = {}
        self.datetime_columns: frozenset[str] = frozenset()
        for spec in self.schema:
            key = spec.source or spec.name
            if key not in raw:
                continue
            name = renames.get(key, key)
            values = raw[key]
            if isinstance(values, CodedIds):
                if spec.type == "id":  # keep the grouped form; check its distinct ids
                    out[name] = CodedIds(normalize_ids(values.distinct, name), values.codes)
                    continue
                values = values.expand()
            out[name] = cast_column(values, spec)
            if spec.type == "datetime" or (spec.type == "timestamp" and _holds_datetimes(values)):
                self.datetime_columns |= {name}
        if not out or len(next(iter(out.values()))) == 0:
            raise EmptyInputError(f"{type(self).__name__} has no rows")
        return out

    @property
    def data(self) -> dict[str, np.ndarray]:
        """The validated columns (dict of column -> numpy array, one value per row)."""
        if self._expanded is None:
            self._expanded = {
                name: values.expand() if isinstance(values, CodedIds) else values
                for name, values in self._columns.items()
            }
        return self._expanded

    def fetch_data(self) -> dict[str, np.ndarray]:
        """The validated columns (dict of column -> numpy array)."""
        return self.data

    def fetch_grouped(self) -> dict[str, Any]:
        """The validated columns with long text id columns still grouped (:class:`CodedIds`):
        what training reads (``vocabulary_and_index``, ``prepare`` accept both forms)."""
        return self._columns

    def __len__(self) -> int:
        return len(next(iter(self._columns.values())))


class InteractionsDataset(_Dataset):
    """User-item interactions: USER_ID, ITEM_ID, TIMESTAMP and optional OUTCOME.

    Parameters
    ----------
    data_location
        A CSV/Parquet path (read with pyarrow), a pandas DataFrame, a pyarrow Table or a
        dict of column -> array. Public formats are read too: a SASRec ``user item`` file
        (``*.txt[.gz]``; TIMESTAMP = position of the line within the user), a MovieLens
        ``ratings.dat`` (``*.dat[.gz]``) or a MovieLens CSV (header ``userId,movieId,
        rating,timestamp``). A MovieLens file is read as implicit feedback: every rating
        is one interaction (as in the SASRec paper), so every loss takes it as it comes;
        to weight targets by the rating (``"ce"``) or regress it, map it with a client
        schema: ``{name: OUTCOME, source: RATING, type: float}``.
    client_schema_path
        Optional YAML schema (see :mod:`seqrec_trainer.data.schema`) to rename, validate
        and cast columns; the built-in training schema is used otherwise.
    """

    _builtin_schema = "interactions_schema_with_timestamp_training.yaml"
    _interaction_formats = True

    @property
    def timestamp_is_datetime(self) -> bool:
        """Whether TIMESTAMP was given as datetimes (held as ns since the epoch) or numbers.

        Both become int64 after validation, so only this tells nanoseconds from, e.g.,
        unix seconds: training and validation timestamps must be of the same kind.
        """
        return TIMESTAMP in self.datetime_columns


class ItemsDataset(_Dataset):
    """The item catalogue: ITEM_ID (items without interactions still get an embedding)."""

    _builtin_schema = "items_schema.yaml"
