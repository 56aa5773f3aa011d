"""Name the interaction columns of a file: ``--user-col/--item-col/--time-col/--outcome-col``.

Every ``seqrec`` command that reads interactions (train, refit-prior, recommend, evaluate)
takes the same flags; they rename the file's columns to USER_ID, ITEM_ID, TIMESTAMP and
OUTCOME before the rows are validated. A client schema file (``--schema``) does the same
and can also cast types (see :mod:`seqrec_trainer.data.schema`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seqrec_runtime.errors import InvalidParameterError, SchemaError
from seqrec_runtime.table import ITEM_ID, OUTCOME, TIMESTAMP, USER_ID, column_names

#: Command-line flag (argparse dest) -> the column seqrec reads.
COLUMN_FLAGS = {"user_col": USER_ID, "item_col": ITEM_ID, "time_col": TIMESTAMP,
                "outcome_col": OUTCOME}

#: What to add to a "missing required column" error raised while reading a command's input.
MAPPING_HINT = (
    "Name your file's columns on the command line, e.g. --user-col userId --item-col movieId "
    "--time-col timestamp (and --outcome-col for OUTCOME), or pass a schema file with "
    "--schema (docs/errors.md shows both)"
)


def add_column_flags(parser: argparse.ArgumentParser, what: str = "--interactions") -> None:
    """Add ``--schema`` and the column flags to a sub-command parser."""
    group = parser.add_argument_group(
        "column names", f"how to read {what} when its columns are not named USER_ID, "
        "ITEM_ID, TIMESTAMP[, OUTCOME] (use either the flags or --schema)")
    group.add_argument("--schema", default=None, metavar="YAML",
                       help="client schema file that renames, validates and casts columns "
                       "(default: none)")
    for dest, column in COLUMN_FLAGS.items():
        group.add_argument("--" + dest.replace("_", "-"), dest=dest, default=None,
                           metavar="NAME",
                           help=f"the column holding {column} (default: {column})")


def column_mapping(args: argparse.Namespace) -> dict[str, str]:
    """``{file column: seqrec column}`` from the parsed flags (only those given).

    Raises
    ------
    InvalidParameterError
        Both ``--schema`` and column flags were given, or two flags name one column.
    """
    mapping: dict[str, str] = {}
    for dest, column in COLUMN_FLAGS.items():
        source = getattr(args, dest, None)
        if source is None:
            continue
        if source in mapping:
            raise InvalidParameterError(
                f"--{dest.replace('_', '-')} {source}: the column {source!r} is already "
                f"named as {mapping[source]}; give each column once"
            )
        mapping[source] = column
    if mapping and getattr(args, "schema", None):
        raise InvalidParameterError(
            "use either --schema or the column flags (--user-col ...), not both: a schema "
            "file can rename columns itself (source: ...)"
        )
    return mapping


def rename_columns(table: Any, mapping: dict[str, str], where: str) -> Any:
    """The columns of ``table`` (a pyarrow Table or dict) with ``mapping`` applied.

    Raises
    ------
    SchemaError
        A named column is not in the table, or the table already has a column with the
        new name.
    """
    available = column_names(table)
    missing = [source for source in mapping if source not in available]
    if missing:
        raise SchemaError(
            f"{where} has no column {missing[0]!r}; its columns are {available}. Check the "
            "spelling (names are case-sensitive)"
        )
    clashes = [target for source, target in mapping.items()
               if target in available and target != source]
    if clashes:
        raise SchemaError(
            f"{where} already has a column {clashes[0]!r} besides the one named by the flags; "
            "rename or drop one of them"
        )
    if hasattr(table, "rename_columns"):  # a pyarrow Table
        return table.rename_columns([mapping.get(name, name) for name in table.column_names])
    return {mapping.get(name, name): table[name] for name in available}


def read_interactions(path: str | Path, args: argparse.Namespace) -> Any:
    """The :class:`InteractionsDataset` of ``path`` read as the command's flags say.

    Without column flags this is ``InteractionsDataset(path, args.schema)`` (public
    formats recognised by name and exact header); with them, the file is read as a plain
    CSV/Parquet table, its columns renamed, then validated.
    """
    from .datasets import InteractionsDataset, read_table

    mapping = column_mapping(args)
    if not mapping:
        return InteractionsDataset(path, getattr(args, "schema", None))
    ids = tuple(source for source, column in mapping.items() if column in (USER_ID, ITEM_ID))
    table = read_table(path, id_columns=(*ids, USER_ID, ITEM_ID))
    return InteractionsDataset(rename_columns(table, mapping, str(path)))
