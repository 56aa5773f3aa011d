"""seqrec export: trained model -> self-describing ONNX artifact."""
