"""Trainer errors (the shared family lives in :mod:`seqrec_runtime.errors`)."""

from __future__ import annotations

from seqrec_runtime.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    EmptyInputError,
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
    MissingValueError,
    SchemaError,
    SeqrecError,
    TimestampTypeError,
    UnsupportedFormatError,
)


class NotFittedError(SeqrecError, ValueError, AttributeError):
    """A model was used before ``train``/``fit`` (scikit-learn convention)."""


class DeviceFallbackWarning(UserWarning):
    """A model trained on a GPU was loaded onto the CPU because no GPU is available."""


class SlowPrecisionWarning(UserWarning):
    """``precision="bf16"`` was asked for on hardware that only emulates bfloat16."""


class NotEnoughDataError(SeqrecError, ValueError):
    """Training data without a single (history, next item) pair to learn from."""


__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "DeviceFallbackWarning",
    "EmptyInputError",
    "IdTypeError",
    "InvalidParameterError",
    "InvalidParameterTypeError",
    "MissingValueError",
    "NotEnoughDataError",
    "NotFittedError",
    "SchemaError",
    "SeqrecError",
    "SlowPrecisionWarning",
    "TimestampTypeError",
    "UnsupportedFormatError",
]
