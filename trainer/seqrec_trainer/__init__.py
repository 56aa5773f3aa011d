"""seqrec trainer: SASRec sequential recommendation in PyTorch, scikit-rec style API."""

from seqrec_runtime import __version__

from .data import InteractionsDataset, ItemsDataset
from .errors import DeviceFallbackWarning, NotFittedError, SeqrecError, SlowPrecisionWarning
from .estimator import SASRecClassifierEstimator, SASRecRegressorEstimator
from .recommender import SequentialRecommender
from .scorer import SequentialScorer

__all__ = [
    "DeviceFallbackWarning",
    "InteractionsDataset",
    "ItemsDataset",
    "NotFittedError",
    "SASRecClassifierEstimator",
    "SASRecRegressorEstimator",
    "SeqrecError",
    "SequentialRecommender",
    "SequentialScorer",
    "SlowPrecisionWarning",
    "__version__",
]
