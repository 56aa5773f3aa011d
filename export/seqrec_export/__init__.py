"""seqrec export: a trained model -> self-describing, validated ONNX artifact."""

from .api import export_onnx
from .errors import (
    ExportValidationError,
    OutputNamesMismatchError,
    ShapeMismatchError,
    ToleranceError,
    TopKMismatchError,
)

__all__ = [
    "ExportValidationError",
    "OutputNamesMismatchError",
    "ShapeMismatchError",
    "ToleranceError",
    "TopKMismatchError",
    "export_onnx",
]
