"""Atomic directory writes, hashing and JSON helpers (shared by save and export)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from seqrec_runtime.errors import InvalidParameterError, InvalidParameterTypeError


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ids_to_json(ids: np.ndarray) -> dict[str, Any]:
    """Language-neutral encoding of a normalised id array."""
    if ids.dtype.kind == "U":
        return {"dtype": "string", "values": ids.tolist()}
    return {"dtype": "int64", "values": [int(v) for v in ids]}


def ids_from_json(doc: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`ids_to_json`."""
    if doc["dtype"] == "string":
        return np.array(doc["values"], dtype=str)
    return np.array(doc["values"], dtype=np.int64)


def write_json(path: str | Path, doc: Any) -> None:
    """Write ``doc`` as UTF-8 JSON."""
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")


def check_replaceable(path: Any, marker: str, fmt: str, kind: str, what: str) -> None:
    """Refuse to let :func:`atomic_directory` replace something that is not a ``kind``.

    ``path`` may be new, an empty directory, or a directory whose ``marker`` JSON file has
    ``"format": fmt`` (a previous saved model / artifact). A file, or a non-empty directory
    without that marker, would be deleted by the swap, so it is refused.

    Raises
    ------
    InvalidParameterError
        ``path`` is a file or a non-empty directory that is not a ``kind``.
    """
    if not isinstance(path, (str, os.PathLike)):
        return  # atomic_directory raises the typed error
    target = Path(path)
    if not target.exists():
        return
    if not target.is_dir():
        raise InvalidParameterError(
            f"{what} {path} exists and is not a directory; refusing to replace it. Choose "
            "another path"
        )
    if not any(target.iterdir()):
        return
    try:
        doc = json.loads((target / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    if not (isinstance(doc, dict) and doc.get("format") == fmt):
        raise InvalidParameterError(
            f"{what} {path} exists and is not a {kind} (no {marker} with format {fmt!r}); "
            "writing it would delete its contents. Choose a new or empty directory, or "
            "remove it first"
        )


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces ``target`` only on success.

    If the body raises, the temporary directory is removed and an existing ``target`` is
    left untouched, so an interrupted save/export never leaves a half-written artifact.
    """
    if not isinstance(target, (str, os.PathLike)):
        raise InvalidParameterTypeError(
            f"the output directory must be a path (str or os.PathLike), got "
            f"{type(target).__name__}"
        )
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; give the usual directory mode
    try:
        yield tmp
        for child in tmp.iterdir():  # flush file contents before the rename
            if child.is_file():
                with open(child, "rb") as handle:
                    os.fsync(handle.fileno())
        backup = None
        if target.exists():  # a non-empty directory cannot be renamed over: swap in two
            backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            backup.rmdir()
            os.replace(target, backup)
        try:
            os.replace(tmp, target)
        except BaseException:  # interrupted between the two renames: put the old one back
            if backup is not None and not target.exists():
                os.replace(backup, target)
            raise
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
