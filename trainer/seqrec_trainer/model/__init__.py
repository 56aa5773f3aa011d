"""PyTorch network blocks of SASRec."""

from .network import SASRecNetwork

__all__ = ["SASRecNetwork"]
