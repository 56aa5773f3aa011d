"""Deprecated location: the command line moved to :mod:`seqrec_cli.flags`.

Importing this module still works (with a :class:`DeprecationWarning`); every name is
looked up in :mod:`seqrec_cli.flags`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

warnings.warn(
    "seqrec_trainer.cli_params moved to seqrec_cli.flags; import from there",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("seqrec_cli.flags"), name)
