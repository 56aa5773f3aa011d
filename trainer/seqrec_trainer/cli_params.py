"""Deprecated location: moved to :mod:`seqrec_cli.flags`; it still imports, with a warning."""

from __future__ import annotations

from .moved import moved_module

__getattr__ = moved_module(__name__, "seqrec_cli.flags")
