"""SequentialRecommender: the business layer (train, score, recommend, save/load)."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from seqrec_runtime.batch import recommend_all, resolve_top_k
from seqrec_runtime.histories import ColdUserWarning, read_histories
from seqrec_runtime.ranking import check_flag, check_temperature, make_rng
from seqrec_runtime.sequences import Sequences
from seqrec_runtime.table import OUTCOME, TIMESTAMP

from .data.datasets import InteractionsDataset, ItemsDataset
from .data.training import prepare, vocabulary_and_index
from .distributed import agreed_input_checks, is_main_process, share_prepared_data
from .errors import InvalidParameterError, NotFittedError, SchemaError, TimestampTypeError
from .scorer import SequentialScorer

logger = logging.getLogger("seqrec")


def _as_dataset(data: Any, name: str) -> InteractionsDataset:
    if isinstance(data, InteractionsDataset):
        return data
    if data is None:
        raise InvalidParameterError(f"{name} is required")
    return InteractionsDataset(data)


_DAY_NS = 86_400 * 10**9


def _check_same_timestamp_kind(train: InteractionsDataset, valid: InteractionsDataset) -> None:
    """Refuse datetimes on one side and numbers that are not nanoseconds on the other.

    Datetimes become nanoseconds since the epoch, so next to, e.g., unix seconds every
    validation item would fall before (or after) all training rows: validated users would
    lose their whole training history, or validation targets would be trained on. Numbers
    within the datetimes' period (widened by its span, at least a day) are taken as the
    nanoseconds they are, e.g. the TIMESTAMP of a leave-one-out split of datetime rows.
    """
    if train.timestamp_is_datetime == valid.timestamp_is_datetime:
        return
    dated, numeric = (train, valid) if train.timestamp_is_datetime else (valid, train)
    ns = dated.fetch_grouped()[TIMESTAMP]
    values = numeric.fetch_grouped()[TIMESTAMP]
    low, high = int(ns.min()), int(ns.max())
    margin = max(high - low, _DAY_NS)
    if low - margin <= float(values.min()) and float(values.max()) <= high + margin:
        return
    kinds = ["datetimes" if ds.timestamp_is_datetime else "numbers" for ds in (train, valid)]
    raise TimestampTypeError(
        f"interactions_ds TIMESTAMP holds {kinds[0]} but valid_interactions_ds TIMESTAMP "
        f"holds {kinds[1]} that are not nanoseconds of the same period; they cannot be "
        "compared (datetimes count nanoseconds since 1970). Give both the same kind, e.g. "
        "pandas.to_datetime(df.TIMESTAMP, unit='s') on the numeric one"
    )


def _check_regression_target(
    estimator: Any, interactions: dict[str, np.ndarray], valid: dict[str, np.ndarray] | None
) -> None:
    """A regressor learns OUTCOME: refuse tables without it (it would regress 1.0)."""
    if getattr(estimator, "_kind", "classifier") == "classifier":
        return
    name = type(estimator).__name__
    if OUTCOME not in interactions:
        raise SchemaError(
            f"{name} regresses OUTCOME but interactions_ds has no OUTCOME column, so it would "
            "learn the constant 1.0; add OUTCOME (e.g. the rating; a MovieLens file's rating "
            "is the column RATING: map it with a client schema entry {name: OUTCOME, source: "
            "RATING, type: float}) or use SASRecClassifierEstimator for implicit feedback"
        )
    if valid is not None and OUTCOME not in valid:
        raise SchemaError(
            f"{name} regresses OUTCOME but valid_interactions_ds has no OUTCOME column, so "
            "its validation loss (early stopping, best epoch) would be measured against 1.0; "
            "add OUTCOME to the validation rows"
        )


def _check_finite_weights(scorer: SequentialScorer, interactions: dict[str, np.ndarray]) -> None:
    """Refuse a model whose training diverged (NaN/inf weights score every item NaN)."""
    network = scorer.estimator.network_
    if all(bool(torch.isfinite(p).all()) for p in network.parameters()):
        return
    del scorer.vocabulary_  # not fitted: using it raises NotFittedError, never NaN scores
    outcome = interactions.get(OUTCOME)
    scale = (f" OUTCOME spans [{outcome.min():.3g}, {outcome.max():.3g}]; rescale it to a few "
             "units (classifier losses use it as a weight >= 0, bce as a label in [0, 1])."
             if outcome is not None and len(outcome) else "")
    raise InvalidParameterError(
        "training diverged: the model has NaN/inf weights." + scale +
        " Otherwise lower learning_rate or set max_grad_norm."
    )


class SequentialRecommender:
    """Next-item recommender on SASRec (scikit-rec style).

    Parameters
    ----------
    scorer
        A :class:`SequentialScorer` wrapping a SASRec estimator.
    max_len
        Number of most recent interactions a user's history is truncated to. It wins over
        the estimator's ``max_len`` (synced with a warning when they differ).

    Notes
    -----
    Sequences: rows are sorted stably by (USER_ID, TIMESTAMP); rows with equal user and
    timestamp keep their input order. At inference, items unknown to the model are
    skipped; users with no known item get the training popularity as scores.
    """

    def __init__(self, scorer: SequentialScorer, max_len: int = 50) -> None:
        self.scorer = scorer
        self.max_len = max_len

    # ------------------------------------------------------------------ training
    def train(
        self,
        items_ds: ItemsDataset | Any = None,
        interactions_ds: InteractionsDataset | Any = None,
        valid_interactions_ds: InteractionsDataset | Any = None,
        callbacks: Sequence[Callable[[int, Any, dict], None]] = (),
    ) -> SequentialRecommender:
        """Build sequences and fit the scorer's estimator.

        Parameters
        ----------
        items_ds
            Optional catalogue; items without interactions are scorable too.
        interactions_ds
            Training interactions (USER_ID, ITEM_ID, TIMESTAMP, optional OUTCOME).
        valid_interactions_ds
            Optional held-out interactions, at most one per user (e.g. each user's
            second-to-last). A validated user's training rows stop before their validation
            interaction, so no validation target is ever a training target, even when the
            validation rows are also present in ``interactions_ds``.
        callbacks
            Called after every epoch as ``callback(epoch, network, record)`` (see the
            estimator's ``fit``).

        Returns
        -------
        self
        """
        if isinstance(self.max_len, bool) or not isinstance(self.max_len, (int, np.integer)) \
                or self.max_len < 1:
            raise InvalidParameterError(f"max_len must be a positive int, got {self.max_len!r}")
        train_ds = _as_dataset(interactions_ds, "interactions_ds")
        interactions = train_ds.fetch_grouped()  # text ids stay grouped (CodedIds)
        valid = None
        if valid_interactions_ds is not None:
            valid_ds = _as_dataset(valid_interactions_ds, "valid_interactions_ds")
            _check_same_timestamp_kind(train_ds, valid_ds)
            valid = valid_ds.fetch_data()
        items = None
        if items_ds is not None:
            items = items_ds.fetch_data() if isinstance(items_ds, ItemsDataset) else \
                ItemsDataset(items_ds).fetch_data()
        estimator = self.scorer.estimator
        _check_regression_target(estimator, interactions, valid)
        if estimator.max_len != self.max_len:
            logger.warning(
                "SequentialRecommender.max_len=%s differs from the estimator's max_len=%s; "
                "using %s for both", self.max_len, estimator.max_len, self.max_len,
            )
            estimator.set_params(max_len=int(self.max_len))
        started = time.perf_counter()
        with agreed_input_checks():  # in a process group: all ranks raise if one rank's fails
            vocabulary, item_index = vocabulary_and_index(interactions, items)
            prepared = prepare(
                interactions, valid, vocabulary, int(self.max_len),
                getattr(estimator, "history_windows", "last"), item_index,
            )
        share_prepared_data(vocabulary, prepared)  # same vocabulary on every rank
        self.scorer.fit(prepared, vocabulary, callbacks=callbacks)
        _check_finite_weights(self.scorer, interactions)
        self.training_summary_ = {
            **prepared.summary,
            "epochs_run": len(estimator.history_),
            "best_epoch": estimator.best_epoch_,
            "precision": estimator.precision_,
            "train_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    def refit_item_prior(self, interactions_ds: Any, **params: Any) -> SequentialRecommender:
        """Refit only the item prior on ``interactions_ds``; the trained network is kept.

        Equivalent to training again with the new prior parameters (the prior never
        changes training) at the cost of the prior's closed-form fit: tune
        ``item_prior_weight`` / ``item_prior_l2`` on validation data, switch
        ``item_prior_kind``, or remove the prior with ``item_prior_weight=0``.

        Parameters
        ----------
        interactions_ds
            The training interactions (the same rows as ``train``; leave out the
            validation and test items). Rows with items unknown to the model are ignored.
        **params
            ``item_prior_weight``, ``item_prior_l2``, ``item_prior_kind``,
            ``item_prior_rank``; unspecified ones keep their values.

        Returns
        -------
        self
        """
        if not hasattr(self.scorer, "vocabulary_"):
            raise NotFittedError("this SequentialRecommender is not trained yet; call train()")
        # long text ids stay grouped (CodedIds): read_histories takes them as they are
        interactions = _as_dataset(interactions_ds, "interactions_ds").fetch_grouped()
        with warnings.catch_warnings():  # users without known items add no co-occurrence
            warnings.simplefilter("ignore", ColdUserWarning)
            histories = read_histories(interactions, self.scorer.vocabulary_, 1)
        counts = np.diff(histories.history_ptr)
        rows = np.repeat(np.arange(len(counts)), counts)
        self.scorer.estimator.refit_item_prior((rows, histories.history_items), **params)
        return self

    # ------------------------------------------------------------------ inference
    @property
    def item_ids_(self) -> np.ndarray:
        """Item ids in score-column order."""
        return self.scorer.item_ids_

    def _histories(self, interactions: Any) -> Sequences:
        if not hasattr(self.scorer, "vocabulary_"):
            raise NotFittedError("this SequentialRecommender is not trained yet; call train()")
        trained = self.scorer.estimator.network_.max_len
        if not 1 <= int(self.max_len) <= trained:
            raise InvalidParameterError(
                f"max_len={self.max_len} but the model was trained with max_len={trained}; use "
                f"a value in 1..{trained} at inference (retrain for longer histories)"
            )
        if isinstance(interactions, InteractionsDataset):  # long text ids stay grouped
            interactions = interactions.fetch_grouped()
        return read_histories(interactions, self.scorer.vocabulary_, int(self.max_len))

    def score_items(self, interactions: Any, return_user_ids: bool = False):
        """Score every item for every user in ``interactions``.

        Parameters
        ----------
        interactions
            USER_ID, ITEM_ID, TIMESTAMP rows (dict / DataFrame / pyarrow Table / dataset);
            the last ``max_len`` known items per user are used.
        return_user_ids
            Also return the user ids of the rows.

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, numpy.ndarray)
            float32 ``(n_users, n_items)``, rows in ascending USER_ID order, columns in
            ``item_ids_`` order; ``(user_ids, scores)`` with ``return_user_ids=True``.
        """
        return_user_ids = check_flag(return_user_ids, "return_user_ids")
        seqs = self._histories(interactions)
        scores = self.scorer.score_sequences(seqs)
        return (seqs.user_ids, scores) if return_user_ids else scores

    def recommend(
        self,
        interactions: Any,
        top_k: int = 10,
        sampling_temperature: float = 0.0,
        exclude_seen: bool = True,
        random_state: Any = None,
        return_user_ids: bool = False,
    ):
        """Top-k item ids per user (deterministic, or sampled with a temperature).

        Parameters
        ----------
        interactions
            USER_ID, ITEM_ID, TIMESTAMP rows.
        top_k
            Items per user; clipped with a warning to the candidates available.
        sampling_temperature
            0 = deterministic top-k (ties: lower column first). > 0 = sampling without
            replacement from ``softmax(scores / T)`` (Gumbel-top-k).
        exclude_seen
            Never recommend an item present anywhere in the user's given history. Default
            True; pass False for a re-consumption catalogue (music, groceries).
        random_state
            None, int seed or ``numpy.random.Generator`` for sampling.
        return_user_ids
            Also return the user ids of the rows.

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, numpy.ndarray)
            ``(n_users, top_k)`` original item ids, rows in ascending USER_ID order.
        """
        exclude_seen = check_flag(exclude_seen, "exclude_seen")
        return_user_ids = check_flag(return_user_ids, "return_user_ids")
        temperature = check_temperature(sampling_temperature)
        rng = make_rng(random_state)
        seqs = self._histories(interactions)
        scorer = self.scorer
        columns = scorer.subset_columns_
        k = resolve_top_k(top_k, seqs, len(scorer.vocabulary_), bool(exclude_seen), columns)
        picked = recommend_all(
            seqs, scorer.estimator.predict_scores, scorer.popularity_, k, temperature, rng,
            bool(exclude_seen), scorer.batch_size, columns,
            with_history=scorer.estimator.uses_item_prior,
        )
        recs = scorer.vocabulary_.ids[picked]
        return (seqs.user_ids, recs) if return_user_ids else recs

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to directory ``path`` (JSON config + vocabulary, state-dict weights).

        The training curve goes beside them (``training_curve.csv`` and ``.png``: loss and
        validation metrics per epoch); where is printed when the estimator's ``verbose``
        shows progress (see :mod:`.training_log`), else logged. In a ``torch.distributed``
        job only rank 0 writes (the other ranks hold the same model and return ``path``).
        """
        from .persistence import save_recommender
        from .training_log import CURVE_CSV, CURVE_PNG, resolve_verbosity

        if not hasattr(self.scorer, "vocabulary_"):
            raise NotFittedError("cannot save an untrained SequentialRecommender")
        if not is_main_process():  # DDP: rank 0 writes, the other ranks' models are equal
            _wait_for_rank_0()  # leaving the job while rank 0 still writes can abort gloo
            return Path(path)
        saved = save_recommender(self, path)
        _wait_for_rank_0()
        if (saved / CURVE_CSV).is_file():
            note = f"training curve: {saved / CURVE_CSV} and {saved / CURVE_PNG}"
            if resolve_verbosity(getattr(self.scorer.estimator, "verbose", None)) > 0:
                print(note, file=sys.stderr)
            else:
                logger.info(note)
        return saved

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> SequentialRecommender:
        """Load a recommender written by :meth:`save`.

        Parameters
        ----------
        path
            The directory given to :meth:`save`.
        device
            ``None``: the device it was trained on, or the CPU (with a
            ``DeviceFallbackWarning``) when that was a GPU and none is available here.
            Otherwise the device to load onto (``"cpu"``, ``"cuda"``...).
        """
        from .persistence import load_recommender

        return load_recommender(path, device=device)


def _wait_for_rank_0() -> None:
    """In a process group, every rank waits here until rank 0 has written the model."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
