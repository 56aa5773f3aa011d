"""Warnings that point at the caller's line, however deep inside seqrec they are raised."""

from __future__ import annotations

import re
import sys
import warnings

#: Source files of seqrec's own packages (runtime, trainer, export).
_LIBRARY_FILE = re.compile(r"[/\\]seqrec_(runtime|trainer|export)[/\\]")


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` made by this module's caller that names the
    first frame outside seqrec (the user's line), like pandas' ``find_stack_level``."""
    frame = sys._getframe(1)  # the function that is about to call warnings.warn
    level = 1
    while frame.f_back is not None and _LIBRARY_FILE.search(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the user's calling line."""
    warnings.warn(message, category, stacklevel=user_stacklevel())
