"""Deprecated location: moved to :mod:`seqrec_cli.demo`; it still imports, with a warning."""

from __future__ import annotations

from .moved import moved_module

__getattr__ = moved_module(__name__, "seqrec_cli.demo")

if __name__ == "__main__":
    raise SystemExit(__getattr__("main")())
