"""SASRec estimators (scikit-learn conventions)."""

from .sasrec import SASRecClassifierEstimator, SASRecRegressorEstimator
from .training import ValidationData

__all__ = ["SASRecClassifierEstimator", "SASRecRegressorEstimator", "ValidationData"]
