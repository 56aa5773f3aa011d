"""Fast readers for common interaction file formats (numpy + pyarrow, gzip or plain).

Each reader returns a table: a dict of column -> numpy array with USER_ID, ITEM_ID,
TIMESTAMP and, where the format has one, OUTCOME. Files are parsed by pyarrow's CSV
reader; only when that fails is the text scanned line by line to report the first bad
line in a :class:`DataFileError`.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from seqrec_runtime.errors import SeqrecError
from seqrec_runtime.table import (
    ITEM_ID,
    OUTCOME,
    TIMESTAMP,
    USER_ID,
    get_columns,
    normalize_ids,
    normalize_timestamps,
)

Table = dict[str, np.ndarray]
PathLike = str | Path

_INT_RE = re.compile(rb"[+-]?\d+")
_INT64_LIMIT = 2**63
_BOM = b"\xef\xbb\xbf"
_TRAILING_BLANKS = re.compile(rb"[ \t]+(?=\r?$)", re.MULTILINE)
_MOVIELENS_CSV_HEADER = "userId,movieId,rating,timestamp"
_ML_NAMES = [USER_ID, ITEM_ID, OUTCOME, TIMESTAMP]  # MovieLens column order (rating = OUTCOME)


class DataFileError(SeqrecError, ValueError):
    """An interaction file that cannot be read: bad line, bad header, no rows."""


def read_bytes(path: PathLike) -> bytes:
    """Whole file content, gunzipped when the file starts with the gzip magic bytes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"interaction file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFileError(f"{path}: corrupt gzip file ({exc})") from exc
    return raw


def _without_trailing_blanks(raw: bytes) -> bytes:
    """``raw`` with spaces/tabs at the end of each line removed (as SASRec's reader does)."""
    ends = (b" \n", b"\t\n", b" \r\n", b"\t\r\n")
    if any(end in raw for end in ends) or raw.endswith((b" ", b"\t", b" \r", b"\t\r")):
        return _TRAILING_BLANKS.sub(b"", raw)
    return raw


def _first_line(path: PathLike) -> bytes:
    """First line of a (possibly gzipped) file, without reading the whole file."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        return handle.readline(65536).removeprefix(_BOM).strip()


def _is_int(field: bytes) -> bool:
    return bool(_INT_RE.fullmatch(field.strip())) and abs(int(field)) < _INT64_LIMIT


def _is_float(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _find_bad_line(
    raw: bytes,
    delimiter: bytes,
    checks: Sequence[Callable[[bytes], bool]],
    names: list[str],
    first_line: int,
) -> str | None:
    """Describe the first line that does not have ``len(checks)`` valid fields."""
    for number, line in enumerate(raw.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if number < first_line or not line:
            continue
        fields = line.split(delimiter)
        text = line.decode("utf-8", "replace")[:200]
        if len(fields) != len(checks):
            return f"line {number}: expected {len(checks)} fields, got {len(fields)}: {text!r}"
        for name, check, value in zip(names, checks, fields, strict=True):
            if not check(value):
                return f"line {number}: bad {name} value {value.decode('utf-8', 'replace')!r}"
    return None


def _parse(
    path: PathLike,
    raw: bytes,
    names: list[str],
    types: dict[str, pa.DataType],
    delimiter: bytes,
    original_delimiter: bytes | None = None,
    skip_rows: int = 0,
) -> dict[str, np.ndarray]:
    """Parse delimited ``raw`` with pyarrow into numpy columns; precise errors on failure."""
    parts = raw.split(b"\n", skip_rows)
    if len(parts) <= skip_rows or not parts[skip_rows].strip():
        raise DataFileError(f"{path}: the file has no interaction rows")
    try:
        table = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip_rows),
            parse_options=pacsv.ParseOptions(delimiter=delimiter.decode(), quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        checks = [_is_int if pa.types.is_integer(types[n]) else _is_float for n in names]
        shown = original_delimiter or delimiter
        source = raw if original_delimiter is None else raw.replace(delimiter, shown)
        where = _find_bad_line(source, shown, checks, names, skip_rows + 1)
        raise DataFileError(f"{path}: {where or exc}") from exc
    if table.num_rows == 0:
        raise DataFileError(f"{path}: the file has no interaction rows")
    return {n: table.column(n).to_numpy() for n in names}


def positions_within_user(users: np.ndarray) -> np.ndarray:
    """``0, 1, 2, ...`` per user in row order (vectorised; users need not be contiguous)."""
    if len(users) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    starts = np.r_[True, sorted_users[1:] != sorted_users[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(users)), 0))
    positions = np.empty(len(users), dtype=np.int64)
    positions[order] = np.arange(len(users)) - group_start
    return positions


def load_sasrec_txt(path: PathLike) -> Table:
    """Read a SASRec ``user item`` file (one interaction per line, integer ids).

    Lines of each user are in chronological order; TIMESTAMP is the 0-based position of
    the line among that user's lines. Fields are separated by one space or one tab;
    blanks at the end of a line are ignored.

    Raises
    ------
    FileNotFoundError, DataFileError
    """
    raw = _without_trailing_blanks(read_bytes(path))
    delimiter = b"\t" if b"\t" in raw[:4096] and b" " not in raw[:4096] else b" "
    cols = _parse(
        path, raw, [USER_ID, ITEM_ID], dict.fromkeys([USER_ID, ITEM_ID], pa.int64()), delimiter
    )
    cols[TIMESTAMP] = positions_within_user(cols[USER_ID])
    return cols


def load_movielens_dat(path: PathLike) -> Table:
    """Read MovieLens ``UserID::MovieID::Rating::Timestamp`` (ratings.dat; OUTCOME = rating).

    Blanks at the end of a line are ignored.

    Raises
    ------
    FileNotFoundError, DataFileError
    """
    raw = _without_trailing_blanks(read_bytes(path))
    if b"\t" in raw:
        raise DataFileError(f"{path}: unexpected tab character; expected '::' separators")
    return _parse(
        path,
        raw.replace(b"::", b"\t"),
        _ML_NAMES,
        dict.fromkeys(_ML_NAMES, pa.int64()),
        b"\t",
        original_delimiter=b"::",
    )


def load_movielens_csv(path: PathLike) -> Table:
    """Read MovieLens ``userId,movieId,rating,timestamp`` CSV (with header; OUTCOME = rating).

    A UTF-8 byte order mark and blanks at the end of a line are ignored.

    Raises
    ------
    FileNotFoundError, DataFileError
    """
    raw = _without_trailing_blanks(read_bytes(path)).removeprefix(_BOM)
    header = raw.split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    expected = _MOVIELENS_CSV_HEADER
    if header.replace(" ", "") != expected:
        raise DataFileError(f"{path}: line 1: expected the header {expected!r}, got {header!r}")
    types = {**dict.fromkeys(_ML_NAMES, pa.int64()), OUTCOME: pa.float64()}
    return _parse(path, raw, _ML_NAMES, types, b",", skip_rows=1)


def _normalized(path: PathLike, data: Any, first_data_line: int | None) -> Table:
    try:
        cols = get_columns(data, [USER_ID, ITEM_ID, TIMESTAMP], [OUTCOME])
        table = {
            USER_ID: normalize_ids(cols[USER_ID], USER_ID),
            ITEM_ID: normalize_ids(cols[ITEM_ID], ITEM_ID),
            TIMESTAMP: normalize_timestamps(cols[TIMESTAMP], TIMESTAMP),
        }
    except SeqrecError as exc:
        hint = f" (row r is line r+{first_data_line} of the file)" if first_data_line else ""
        raise DataFileError(f"{path}: {exc}{hint}") from exc
    if OUTCOME in cols:
        table[OUTCOME] = cols[OUTCOME]
    if len(table[USER_ID]) == 0:
        raise DataFileError(f"{path}: the file has no interaction rows")
    return table


def load_interactions_csv(path: PathLike) -> Table:
    """Read a CSV with a header naming USER_ID, ITEM_ID, TIMESTAMP (OUTCOME optional).

    Column types are inferred; extra columns are ignored.
    """
    raw = read_bytes(path)
    try:
        table = pacsv.read_csv(pa.BufferReader(raw))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataFileError(f"{path}: {exc}") from exc
    return _normalized(path, table, 2)


def load_interactions_parquet(path: PathLike) -> Table:
    """Read a Parquet file with USER_ID, ITEM_ID, TIMESTAMP columns (OUTCOME optional)."""
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        raise FileNotFoundError(f"interaction file not found: {path}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    return _normalized(path, table, None)


LOADERS: dict[str, Callable[[PathLike], Table]] = {
    "sasrec": load_sasrec_txt,
    "movielens-dat": load_movielens_dat,
    "movielens-csv": load_movielens_csv,
    "csv": load_interactions_csv,
    "parquet": load_interactions_parquet,
}


def detect_format(path: PathLike) -> str:
    """Guess the format from the file name (and, for CSV, the header).

    ``*.txt[.gz]`` -> ``sasrec``, ``*.dat[.gz]`` -> ``movielens-dat``, ``*.parquet`` ->
    ``parquet``, ``*.csv[.gz]`` -> ``movielens-csv`` when the header is exactly
    MovieLens' ``userId,movieId,rating,timestamp``, else ``csv`` (so a file of another
    layout, e.g. ``userId,movieId,timestamp``, is read by its header and column names).
    """
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".txt"):
        return "sasrec"
    if name.endswith(".dat"):
        return "movielens-dat"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        header = _first_line(path)
        exact = header.replace(b" ", b"") == _MOVIELENS_CSV_HEADER.encode()
        return "movielens-csv" if exact else "csv"
    raise DataFileError(
        f"{path}: cannot tell the format from the file name; pass one of {sorted(LOADERS)}"
    )


def load_interactions(path: PathLike, format: str | None = None) -> Table:
    """Read an interaction file in ``format`` (see :data:`LOADERS`), guessed when ``None``."""
    fmt = format or detect_format(path)
    if fmt not in LOADERS:
        raise DataFileError(f"unknown format {fmt!r}; use one of {sorted(LOADERS)}")
    return LOADERS[fmt](path)
