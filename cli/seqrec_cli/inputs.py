"""Input files and directories named on the command line: one error for every command."""

from __future__ import annotations

from pathlib import Path

from seqrec_trainer.errors import SeqrecError

#: The file formats every ``--interactions`` / ``--data`` flag also accepts.
FORMATS = " or a SASRec .txt / MovieLens .dat / MovieLens ratings.csv file"


class InputNotFoundError(SeqrecError, FileNotFoundError):
    """An input file or directory named on the command line does not exist."""


def require_file(path: str | None, flag: str) -> None:
    """Raise the same error in every command for a missing input file."""
    if path is None:
        return
    if not Path(path).exists():
        raise InputNotFoundError(f"no such file: {path} ({flag})")
    if Path(path).is_dir():
        raise InputNotFoundError(f"{path} is a directory, expected a file ({flag})")


def require_directory(path: str, what: str) -> None:
    """Raise the same error in every command for a missing model / artifact directory."""
    if not Path(path).exists():
        raise InputNotFoundError(f"no such directory: {path} ({what})")
    if not Path(path).is_dir():
        raise InputNotFoundError(f"{path} is a file, expected a directory ({what})")
