"""Deprecated location of the public-format readers: use :mod:`seqrec_trainer.data.formats`."""

from __future__ import annotations

import warnings

from ..data.formats import (  # noqa: F401 (re-exported for old imports)
    LOADERS,
    DataFileError,
    detect_format,
    load_interactions,
    load_movielens_csv,
    load_movielens_dat,
    load_sasrec_txt,
)

warnings.warn(
    "seqrec_trainer.evaluation.loaders moved to seqrec_trainer.data.formats; import from "
    "there (or from seqrec_trainer.evaluation)",
    DeprecationWarning,
    stacklevel=2,
)
