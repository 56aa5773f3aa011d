"""The release of seqrec-runtime and of seqrec, read from the one file that holds it.

``VERSION`` beside this module is the project's only version source: both
``pyproject.toml`` files read it at build time, and ``seqrec_trainer.__version__`` is this
value.
"""

from pathlib import Path

__version__ = Path(__file__).with_name("VERSION").read_text(encoding="ascii").strip()
