"""Deprecated location: moved to :mod:`seqrec_cli.main`; it still imports, with a warning."""

from __future__ import annotations

from .moved import moved_module

__getattr__ = moved_module(__name__, "seqrec_cli.main")

if __name__ == "__main__":
    raise SystemExit(__getattr__("main")())
