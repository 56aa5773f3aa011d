"""Deprecated location: the command line moved to :mod:`seqrec_cli.main`.

Importing this module still works (with a :class:`DeprecationWarning`); every name is
looked up in :mod:`seqrec_cli.main`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

warnings.warn(
    "seqrec_trainer.cli moved to seqrec_cli.main; import from there",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("seqrec_cli.main"), name)


if __name__ == "__main__":
    raise SystemExit(importlib.import_module("seqrec_cli.main").main())
