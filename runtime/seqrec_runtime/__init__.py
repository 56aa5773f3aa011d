"""seqrec-runtime: serve seqrec ONNX artifacts with numpy and onnxruntime only."""

__version__ = "0.1.0"
