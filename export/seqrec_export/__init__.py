"""seqrec export: a trained model -> self-describing, validated ONNX artifact."""

from .api import LARGE_ARTIFACT_BYTES, export_onnx
from .errors import (
    ExportValidationError,
    LargeArtifactWarning,
    OutputNamesMismatchError,
    ShapeMismatchError,
    ToleranceError,
    TopKMismatchError,
)

__all__ = [
    "LARGE_ARTIFACT_BYTES",
    "ExportValidationError",
    "LargeArtifactWarning",
    "OutputNamesMismatchError",
    "ShapeMismatchError",
    "ToleranceError",
    "TopKMismatchError",
    "export_onnx",
]
