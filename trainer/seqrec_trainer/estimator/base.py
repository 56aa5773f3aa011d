"""Shared estimator logic of the SASRec classifier and regressor."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..model import SASRecNetwork
from ..model.transition_prior import NEIGHBORS
from ..training_log import resolve_verbosity
from .checks import AUTO_PATIENCE, DEFAULT_PATIENCE, check_estimator_params, check_outcomes
from .losses import LossFn
from .params import ParamsMixin
from .precision import autocast_dtype, resolve_precision
from .prior_fit import ItemPriorMixin
from .state import FittedStateMixin
from .training import LoopConfig, TrainingData, ValidationData, run_training

logger = logging.getLogger("seqrec")

#: ``callback(epoch, network, record)`` after every epoch (see ``fit``).
EpochCallback = Callable[[int, Any, dict], None]

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


class SASRecEstimatorBase(ItemPriorMixin, FittedStateMixin, ParamsMixin):
    """SASRec estimator: ``__init__`` stores parameters; ``fit`` learns ``network_``.

    Parameters
    ----------
    hidden_units, num_blocks, num_heads, dropout_rate
        Architecture (``hidden_units`` must be divisible by ``num_heads``).
    num_negatives
        Negatives per target for ``"bce"``; negatives per batch for ``"sampled_softmax"``.
    max_len
        Longest history the model reads (synced from the recommender).
    learning_rate, epochs, batch_size, optimizer_name, weight_decay
        Optimisation (``optimizer_name`` in ``adam``, ``adamw``, ``sgd``).
    loss_fn_name
        Classifier: ``"bce"``, ``"ce"``, ``"sampled_softmax"``; regressor: ``"mse"``.
    early_stopping_patience
        Stop after this many epochs without improvement of ``monitor`` (needs validation).
        ``"auto"`` (default): 5 when validation data is given, no early stopping otherwise;
        ``None``: never stop early.
    restore_best_weights
        With validation data, end with the weights of the best epoch (patience or not).
    device
        ``None``/``"cpu"``, ``"cuda"``, ``"cuda:1"``... (CPU by default).
    random_state
        Seed for initialisation, shuffling, negatives and dropout; ``fit`` twice = same model.
    verbose
        ``None`` (default): a progress bar when standard error is a terminal or a Jupyter
        kernel, silent otherwise (logs, pipes, CI). 0 silent, 1 progress bar, 2 also logs
        every epoch (``seqrec`` logger, INFO). See :mod:`seqrec_trainer.training_log`.
    monitor
        ``"val_loss"`` (default) or ``"val_ndcg@10"`` / ``"val_hr@10"`` (full ranking of the
        validation target, seen items removed; classifiers only).
    label_smoothing
        Label smoothing of the ``"ce"`` loss.
    lr_schedule
        ``"constant"`` or ``"cosine"`` (decay to 0 over all steps).
    warmup_epochs
        Linear learning-rate warm-up length in epochs (may be fractional).
    max_grad_norm
        Gradient clipping norm, ``None`` for none.
    history_windows
        ``"last"`` (default): each user contributes their most recent ``max_len + 1``
        items. ``"all"``: long histories are also cut into earlier windows of ``max_len + 1``
        items, so every interaction is a training target once (more data per epoch, longer
        epochs). Used by ``SequentialRecommender.train``.
    precision
        ``"fp32"`` (default), ``"bf16"`` or ``"auto"``. ``"bf16"``: the transformer
        blocks' forward pass in bfloat16 autocast during training (weights, optimizer, loss
        head, validation and the exported model stay float32). It is faster only where the
        hardware computes bfloat16 natively (CPUs with AVX512-BF16/AMX, bf16-capable GPUs);
        elsewhere it is emulated and several times slower, and it warns
        (``SlowPrecisionWarning``). ``"auto"`` picks ``"bf16"`` where it is native and
        ``"fp32"`` elsewhere; the choice made is ``precision_`` after ``fit``.
        ``bench/train_throughput.py`` measures both on the machine it runs on.
    pack_sequences
        ``True`` (default): each training batch's windows are packed side by side into as
        few rows of ``max_len`` as fit, with attention kept inside each window, so the
        encoder skips most padding. Same batches, targets, loss and gradients as unpacked
        (only dropout's random draws differ); ``False`` runs the left-padded rows as they
        are. ``bench/train_throughput.py`` measures both. Packing is planned on the host
        (about 0.4 ms for 128 windows, 30 ms for 4,096 on this CPU); for very large GPU
        batches of nearly full windows ``False`` may be faster.
    item_prior_weight
        ``0`` (default): plain SASRec. ``> 0`` (classifiers only): after training, fit an
        item-item co-occurrence prior ``B`` (see :mod:`seqrec_trainer.model.item_prior`)
        on the training histories and add ``item_prior_weight * (h @ B)`` to the logits,
        ``h`` being the 0/1 indicator of the user's whole known history (not only the
        last ``max_len`` items). Training, validation and checkpoint choice are unchanged;
        scoring, recommendations and the exported graphs include it.
    item_prior_l2
        L2 regularisation ``lambda`` of the prior's fit (larger = smoother prior). The
        default 500 is the EASE paper's value for its MovieLens-20M and Netflix runs; the
        ``ml-1m`` preset uses 1000 (chosen on the validation item).
    item_prior_kind
        ``"ease"`` (default): the EASE matrix (Steck 2019), an ``n_items x n_items``
        float32 matrix in the model and in each exported graph, so at most 15,000 items.
        ``"low_rank"``: the ridge item autoencoder truncated to ``item_prior_rank``
        singular directions, ``n_items x item_prior_rank`` floats and no catalogue cap
        (for large catalogues or small artifacts; BENCHMARKS.md compares the two).
        ``"transitions"``: the items that sit near each other in users' histories,
        scored from the order of the user's last 8 items
        (:mod:`seqrec_trainer.model.transition_prior`); ``n_items x 50`` entries, no
        catalogue cap, ``item_prior_l2`` unused. Strong on short-history catalogues.
    item_prior_rank
        Width of the ``"low_rank"`` prior (default 256; capped at ``n_items``). Ignored
        by the other kinds.
    """

    _losses: ClassVar[dict[str, LossFn]] = {}
    _kind: ClassVar[str] = ""

    def __init__(
        self,
        hidden_units: int = 50,
        num_blocks: int = 2,
        num_heads: int = 1,
        dropout_rate: float = 0.2,
        num_negatives: int = 1,
        max_len: int = 50,
        learning_rate: float = 0.001,
        epochs: int = 200,
        batch_size: int = 128,
        optimizer_name: str = "adam",
        loss_fn_name: str = "bce",
        weight_decay: float = 0.0,
        early_stopping_patience: int | str | None = "auto",
        restore_best_weights: bool = True,
        device: str | None = None,
        random_state: int | None = None,
        verbose: int | None = None,
        monitor: str = "val_loss",
        label_smoothing: float = 0.0,
        lr_schedule: str = "constant",
        warmup_epochs: float = 0.0,
        max_grad_norm: float | None = None,
        history_windows: str = "last",
        precision: str = "fp32",
        pack_sequences: bool = True,
        item_prior_weight: float = 0.0,
        item_prior_l2: float = 500.0,
        item_prior_kind: str = "ease",
        item_prior_rank: int = 256,
    ) -> None:
        self.hidden_units = hidden_units
        self.num_blocks = num_blocks
        self.num_heads = num_heads
        self.dropout_rate = dropout_rate
        self.num_negatives = num_negatives
        self.max_len = max_len
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer_name = optimizer_name
        self.loss_fn_name = loss_fn_name
        self.weight_decay = weight_decay
        self.early_stopping_patience = early_stopping_patience
        self.restore_best_weights = restore_best_weights
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.monitor = monitor
        self.label_smoothing = label_smoothing
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.max_grad_norm = max_grad_norm
        self.history_windows = history_windows
        self.precision = precision
        self.pack_sequences = pack_sequences
        self.item_prior_weight = item_prior_weight
        self.item_prior_l2 = item_prior_l2
        self.item_prior_kind = item_prior_kind
        self.item_prior_rank = item_prior_rank

    @classmethod
    def from_data(cls, interactions: Any, **overrides: Any) -> SASRecEstimatorBase:
        """An estimator with the ``auto`` recipe's parameters for ``interactions``.

        The recipe (and why it chose each value) is ``estimator.auto_recipe_``; see
        :func:`seqrec_trainer.auto_recipe.auto_recipe`. ``overrides`` win.
        """
        from ..auto_recipe import auto_recipe

        recipe = auto_recipe(interactions)
        estimator = cls(**{**recipe.params, **overrides})
        estimator.auto_recipe_ = recipe  # type: ignore[attr-defined]  # a fitted-style record
        return estimator

    # ------------------------------------------------------------------ validation
    def _check_params(self, has_validation: bool) -> None:
        check_estimator_params(self, has_validation)

    def _resolved_patience(self, has_validation: bool) -> int | None:
        """``early_stopping_patience`` with ``"auto"`` resolved (5 with validation data)."""
        patience = self.early_stopping_patience
        if patience == AUTO_PATIENCE:
            return DEFAULT_PATIENCE if has_validation else None
        return None if patience is None else int(patience)

    # ------------------------------------------------------------------ fitting
    def build_network(self, n_items: int) -> SASRecNetwork:
        """A freshly initialised network for ``n_items`` items."""
        return SASRecNetwork(
            n_items=n_items,
            max_len=self.max_len,
            hidden_units=self.hidden_units,
            num_blocks=self.num_blocks,
            num_heads=self.num_heads,
            dropout_rate=self.dropout_rate,
            item_prior=self.uses_item_prior,
            item_prior_rank=(min(int(self.item_prior_rank), n_items)
                             if self.item_prior_kind == "low_rank" else None),
            item_prior_neighbors=(min(NEIGHBORS, n_items)
                                  if self.item_prior_kind == "transitions" else None),
        )

    def fit(
        self,
        sequences: np.ndarray,
        n_items: int,
        outcomes: np.ndarray | None = None,
        valid: ValidationData | None = None,
        prior_histories: tuple[np.ndarray, np.ndarray] | None = None,
        callbacks: Sequence[EpochCallback] = (),
    ) -> SASRecEstimatorBase:
        """Train on ``(n, max_len + 1)`` left-padded index sequences.

        Parameters
        ----------
        sequences
            Item indices (``1..n_items``, 0 = padding); every position with a real item
            and a real next item is a training target.
        n_items
            Catalogue size.
        outcomes
            OUTCOME aligned with ``sequences`` (soft labels / weights / regression
            targets); ``None`` means 1 everywhere.
        valid
            Held-out targets for validation loss, early stopping and best-epoch restore.
        prior_histories
            ``(row_codes, item_indices)`` of every training interaction (e.g. user code
            and item index per row), the co-occurrence rows of the item prior; ``None``
            uses the rows of ``sequences``. Ignored when ``item_prior_weight == 0``.
        callbacks
            Called after every epoch as ``callback(epoch, network, record)``, with the
            network in eval mode and ``record`` the epoch's loss and validation metrics
            (e.g. to report a test curve, or to stop a job by raising).

        Returns
        -------
        self
        """
        callbacks = tuple(callbacks) + self._attribute_callbacks()
        from ..distributed import agreed_input_checks, rank_device
        from ..distributed.sharding import layout_for_fit

        with agreed_input_checks():  # in a process group: all ranks raise if one rank's fails
            self._check_params(valid is not None)
            check_outcomes(
                self,
                None if outcomes is None else np.asarray(outcomes)[np.asarray(sequences) != 0],
                valid,
            )
            self._check_prior_size(int(n_items))
            device = rank_device(self._resolve_device())
        layout = layout_for_fit(self, sequences, outcomes, int(n_items))  # None: one process
        precision = resolve_precision(self.precision, device)
        seed = self.random_state
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if seed is not None:
                torch.manual_seed(int(seed))
            network = self.build_network(n_items).to(device)
            generator = torch.Generator(device=device)
            generator.manual_seed(int(seed) if seed is not None else int(torch.seed() % 2**62))
            optimizer = _OPTIMIZERS[self.optimizer_name](
                network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            n_windows = len(sequences) if layout is None else layout.n_windows
            steps_per_epoch = -(-n_windows // self.batch_size)
            scheduler = self._scheduler(optimizer, steps_per_epoch)
            config = LoopConfig(
                epochs=int(self.epochs),
                batch_size=int(self.batch_size),
                loss_fn=self._losses[self.loss_fn_name],
                loss_kwargs=self._loss_kwargs(generator, outcomes is not None),
                patience=self._resolved_patience(valid is not None),
                restore_best_weights=bool(self.restore_best_weights),
                monitor=self.monitor,
                max_grad_norm=self.max_grad_norm,
                compute_ranking_metrics=self._kind == "classifier",
                verbose=resolve_verbosity(self.verbose),
                epoch_callbacks=callbacks,
                autocast_dtype=autocast_dtype(precision),
                pack_sequences=bool(self.pack_sequences),
                layout=layout,
            )
            history, best_epoch = run_training(
                network,
                optimizer,
                scheduler,
                TrainingData(sequences, outcomes),
                valid,
                config,
                device,
                generator,
            )
        network.eval()
        if self.uses_item_prior:
            self._fit_item_prior(network, sequences, int(n_items), prior_histories)
        self.network_ = network
        self.n_items_ = int(n_items)
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.device_ = device
        self.precision_ = precision
        return self

    def _loss_kwargs(self, generator: torch.Generator, has_outcome: bool) -> dict[str, Any]:
        return {
            "num_negatives": int(self.num_negatives),
            "generator": generator,
            "label_smoothing": float(self.label_smoothing),
            "weighted": has_outcome,
        }

    def _scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        total = max(1, int(self.epochs) * steps_per_epoch)
        warmup = int(float(self.warmup_epochs) * steps_per_epoch)
        if self.lr_schedule == "constant" and warmup == 0:
            return None
        cosine = self.lr_schedule == "cosine"

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if not cosine:
                return 1.0
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + np.cos(np.pi * min(1.0, progress)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    @property
    def estimator_kind(self) -> str:
        """``"classifier"`` (next-item scores) or ``"regressor"`` (OUTCOME predictions)."""
        return self._kind

    @property
    def loss_names(self) -> list[str]:
        """The ``loss_fn_name`` values this estimator accepts."""
        return sorted(self._losses)

    def _attribute_callbacks(self) -> tuple[EpochCallback, ...]:
        """Callbacks set as the ``epoch_callbacks`` attribute (deprecated)."""
        legacy = tuple(getattr(self, "epoch_callbacks", ()))
        if legacy:
            warnings.warn(
                "setting estimator.epoch_callbacks is deprecated; pass callbacks=[...] to "
                "fit() / SequentialRecommender.train() instead",
                DeprecationWarning, stacklevel=3,
            )
        return legacy

    @torch.no_grad()
    def predict_scores(
        self, item_seq: np.ndarray, history_items: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores ``(n, n_items)`` float32 for left-padded index rows (one batch).

        ``history_items``: index rows of each user's whole history (0 = padding) for the
        item prior; ``None`` uses ``item_seq``. Ignored without a prior.
        """
        self.check_is_fitted()
        self.network_.eval()
        tensor = torch.as_tensor(item_seq, dtype=torch.long, device=self.device_)
        history = None
        if history_items is not None and self.network_.has_item_prior:
            history = torch.as_tensor(history_items, dtype=torch.long, device=self.device_)
        return self.network_(tensor, history).float().cpu().numpy()
