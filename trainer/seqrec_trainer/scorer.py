"""SequentialScorer: owns the item vocabulary, popularity fallback and item subset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from seqrec_runtime.batch import score_all
from seqrec_runtime.errors import IdTypeError, InvalidParameterError
from seqrec_runtime.sequences import Sequences
from seqrec_runtime.table import ITEM_ID, normalize_ids
from seqrec_runtime.vocabulary import ItemVocabulary

from .data.training import PreparedData
from .errors import NotFittedError
from .estimator.base import SASRecEstimatorBase


class SequentialScorer:
    """Scores every item (or a subset) for users' sequences with a SASRec estimator.

    Parameters
    ----------
    estimator
        A :class:`SASRecClassifierEstimator` or :class:`SASRecRegressorEstimator`.
    batch_size
        Users scored per forward pass at inference.
    """

    def __init__(self, estimator: SASRecEstimatorBase, batch_size: int = 512) -> None:
        self.estimator = estimator
        self.batch_size = batch_size

    def fit(
        self, prepared: PreparedData, vocabulary: ItemVocabulary, callbacks: Sequence = ()
    ) -> SequentialScorer:
        """Train the estimator on prepared sequences; remember vocabulary and popularity.

        ``callbacks`` go to the estimator's ``fit`` (called after every epoch).
        """
        self.estimator.fit(
            prepared.train.sequences,
            len(vocabulary),
            outcomes=prepared.train.outcomes,
            valid=prepared.valid,
            prior_histories=prepared.histories,
            callbacks=callbacks,
        )
        self.vocabulary_ = vocabulary
        self.popularity_ = prepared.popularity
        self.subset_columns_: np.ndarray | None = None
        return self

    def restore_fitted_state(
        self, vocabulary: ItemVocabulary, popularity: np.ndarray
    ) -> SequentialScorer:
        """Set what :meth:`fit` learns (a saved model's vocabulary and popularity).

        Raises
        ------
        ValueError
            When they do not match the estimator's number of items.
        """
        n_items = self.estimator.n_items_
        popularity = np.asarray(popularity, dtype=np.float32)
        if len(vocabulary) != n_items or popularity.shape != (n_items,):
            raise ValueError(f"vocabulary has {len(vocabulary)} items and popularity "
                             f"{popularity.shape}, the network {n_items}")
        self.vocabulary_ = vocabulary
        self.popularity_ = popularity
        self.subset_columns_ = None
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocabulary_"):
            raise NotFittedError("the scorer is not fitted yet; call train() first")

    @property
    def item_ids_(self) -> np.ndarray:
        """Item ids of the score columns (the subset when one is set)."""
        self._check_fitted()
        ids = self.vocabulary_.ids
        return ids if self.subset_columns_ is None else ids[self.subset_columns_]

    def set_item_subset(self, item_ids) -> SequentialScorer:
        """Restrict scores and recommendations to ``item_ids`` (all must be known)."""
        self._check_fitted()
        if isinstance(item_ids, (set, frozenset)):  # order does not matter for a subset
            item_ids = list(item_ids)
        ids = normalize_ids(item_ids, ITEM_ID)
        if len(ids) == 0:
            raise InvalidParameterError(
                "item subset is empty; pass at least one item id (or call clear_item_subset)"
            )
        index = self.vocabulary_.encode(ids)
        if (index == 0).any():
            raise IdTypeError(
                f"item subset has ids unknown to the model, e.g. {ids[np.argmax(index == 0)]!r}"
            )
        self.subset_columns_ = np.unique(index - 1)
        return self

    def clear_item_subset(self) -> SequentialScorer:
        """Score the whole catalogue again."""
        self._check_fitted()
        self.subset_columns_ = None
        return self

    def score_sequences(self, seqs: Sequences) -> np.ndarray:
        """Float32 scores ``(n_users, n_columns)`` in ``item_ids_`` column order."""
        self._check_fitted()
        return score_all(
            seqs, self.estimator.predict_scores, self.popularity_, self.batch_size,
            self.subset_columns_, with_history=self.estimator.uses_item_prior,
        )
