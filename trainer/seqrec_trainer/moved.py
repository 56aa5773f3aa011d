"""Old module paths that still import after a move, with a :class:`DeprecationWarning`."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved_module(old: str, new: str) -> Callable[[str], Any]:
    """Warn that ``old`` moved to ``new``; return a module ``__getattr__`` reading ``new``.

    Usage in the old module: ``__getattr__ = moved_module(__name__, "new.module")``.
    """
    warnings.warn(f"{old} moved to {new}; import from there", DeprecationWarning,
                  stacklevel=3)

    def __getattr__(name: str) -> Any:
        return getattr(importlib.import_module(new), name)

    return __getattr__
