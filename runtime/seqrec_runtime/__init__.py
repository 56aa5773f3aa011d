"""seqrec-runtime: serve seqrec ONNX artifacts with numpy and onnxruntime only.

>>> import seqrec_runtime
>>> rt = seqrec_runtime.load("artifact/")                      # doctest: +SKIP
>>> rt.recommend(interactions, top_k=10, exclude_seen=True)     # doctest: +SKIP
>>> rt.recommend_online([17, 4, 99], top_k=10)                  # doctest: +SKIP
"""

from ._version import __version__
from .errors import (
    ArtifactError,
    ArtifactIntegrityError,
    EmptyInputError,
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
    MissingValueError,
    ProviderError,
    SchemaError,
    SeqrecError,
    TimestampTypeError,
    UnsupportedFormatError,
)
from .histories import ColdUserWarning
from .holder import LoadedModel, ModelHolder, NoModelError, artifact_sha256
from .providers import ProviderWarning
from .runtime import SeqrecRuntime, load

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "ColdUserWarning",
    "EmptyInputError",
    "IdTypeError",
    "InvalidParameterError",
    "InvalidParameterTypeError",
    "LoadedModel",
    "MissingValueError",
    "ModelHolder",
    "NoModelError",
    "ProviderError",
    "ProviderWarning",
    "SchemaError",
    "SeqrecError",
    "SeqrecRuntime",
    "TimestampTypeError",
    "UnsupportedFormatError",
    "__version__",
    "artifact_sha256",
    "load",
]
