"""Typed errors shared by the runtime and the trainer.

Every error raised for bad input is a subclass of :class:`SeqrecError` *and* of the
builtin ``ValueError`` or ``TypeError`` it specialises, so callers can catch either.
"""

from __future__ import annotations


class SeqrecError(Exception):
    """Base class of every error seqrec raises on purpose."""


class SchemaError(SeqrecError, ValueError):
    """A required column is missing, or a column has the wrong shape or length."""


class MissingValueError(SeqrecError, ValueError):
    """A column holds NaN, None, NaT or an infinite value where a value is required."""


class IdTypeError(SeqrecError, TypeError):
    """Ids of mixed or ambiguous types (e.g. ``3`` next to ``"3"``, or ``3.5``)."""


class TimestampTypeError(SeqrecError, TypeError):
    """A TIMESTAMP column that cannot be ordered numerically (e.g. text)."""


class EmptyInputError(SeqrecError, ValueError):
    """An interactions table with no rows where at least one is required."""


class InvalidParameterError(SeqrecError, ValueError):
    """An argument outside its documented range (``top_k <= 0``, negative temperature, ...)."""


class InvalidParameterTypeError(SeqrecError, TypeError):
    """An argument of the wrong type (e.g. ``random_state="7"``)."""


class ArtifactError(SeqrecError, ValueError):
    """An artifact directory that cannot be loaded: missing file, bad manifest, bad model."""


class ArtifactIntegrityError(ArtifactError):
    """A file in an artifact does not match the sha256 recorded in its manifest."""


class UnsupportedFormatError(ArtifactError):
    """An artifact or checkpoint in a format (or format version) this release cannot read."""


class ProviderError(SeqrecError, ValueError):
    """An onnxruntime execution provider that is unknown or unavailable."""
