"""seqrec trainer: SASRec sequential recommendation in PyTorch, scikit-rec style API."""

from .data import InteractionsDataset, ItemsDataset
from .errors import DeviceFallbackWarning, NotFittedError, SeqrecError, SlowPrecisionWarning
from .estimator import SASRecClassifierEstimator, SASRecRegressorEstimator
from .recommender import SequentialRecommender
from .scorer import SequentialScorer

__version__ = "0.1.0"

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
