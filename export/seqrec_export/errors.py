"""Named export validation errors (all :class:`ExportValidationError`)."""

from __future__ import annotations

from seqrec_runtime.errors import SeqrecError


class ExportValidationError(SeqrecError, ValueError):
    """The exported graph does not reproduce the torch model; nothing was written."""


class OutputNamesMismatchError(ExportValidationError):
    """The ONNX graph's input/output names differ from the export config."""


class ShapeMismatchError(ExportValidationError):
    """An ONNX output has a different shape than the torch output."""


class ToleranceError(ExportValidationError):
    """ONNX and torch scores differ by more than ``atol``."""


class TopKMismatchError(ExportValidationError):
    """The in-graph top-k returns other items than torch (beyond float ties)."""


class LargeArtifactWarning(UserWarning):
    """The artifact about to be written is larger than ``LARGE_ARTIFACT_BYTES``."""
