"""Shared estimator logic of the SASRec classifier and regressor."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from seqrec_runtime.warn import warn

from ..errors import DeviceFallbackWarning, InvalidParameterError, NotFittedError
from ..model import SASRecNetwork
from ..model.item_prior import (
    check_prior_params,
    check_prior_size,
    fit_item_prior,
)
from ..training_log import resolve_verbosity
from .checks import AUTO_PATIENCE, DEFAULT_PATIENCE, check_estimator_params
from .losses import LossFn
from .params import ParamsMixin
from .precision import autocast_dtype, resolve_precision
from .training import LoopConfig, TrainingData, ValidationData, run_training

logger = logging.getLogger("seqrec")

#: ``callback(epoch, network, record)`` after every epoch (see ``fit``).
EpochCallback = Callable[[int, Any, dict], None]

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
_PRIOR_PARAMS = ("item_prior_weight", "item_prior_l2", "item_prior_kind", "item_prior_rank")


class SASRecEstimatorBase(ParamsMixin):
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
    item_prior_rank
        Width of the ``"low_rank"`` prior (default 256; capped at ``n_items``). Ignored
        by ``"ease"``.
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

    def _check_outcomes(self, outcomes: np.ndarray | None, valid: ValidationData | None) -> None:
        """Refuse OUTCOME values that the loss cannot learn from (before any training).

        ``outcomes`` holds the training rows' OUTCOME (padding left out).

        ``"bce"`` reads OUTCOME as a label in ``[0, 1]``; ``"ce"`` and ``"sampled_softmax"``
        as a weight ``>= 0``, not all zero. Outside those domains the loss has no minimum
        (it falls without bound) or no gradient, and training returns garbage. The
        regressor's ``"mse"`` takes any finite OUTCOME.

        Raises
        ------
        InvalidParameterError
            OUTCOME outside the domain of ``loss_fn_name``.
        """
        if self._kind != "classifier":
            return
        for where, values in (("training", outcomes),
                              ("validation", valid.outcomes if valid is not None else None)):
            if values is None or np.size(values) == 0:
                continue
            low, high = float(np.min(values)), float(np.max(values))
            if self.loss_fn_name == "bce" and (low < 0.0 or high > 1.0):
                raise InvalidParameterError(
                    f"loss_fn_name='bce' reads OUTCOME as a label in [0, 1], but the {where} "
                    f"OUTCOME spans [{low:.6g}, {high:.6g}]; rescale it (e.g. rating / 5), "
                    "drop the OUTCOME column, or use loss_fn_name='ce' (OUTCOME as a weight "
                    ">= 0)"
                )
            if self.loss_fn_name != "bce" and low < 0.0:
                raise InvalidParameterError(
                    f"loss_fn_name={self.loss_fn_name!r} weights targets by OUTCOME, which "
                    f"must be >= 0, but the {where} OUTCOME spans [{low:.6g}, {high:.6g}]; "
                    "drop or rescale the negative rows (a negative weight makes the loss "
                    "fall without bound)"
                )
            if where == "training" and self.loss_fn_name != "bce" and high <= 0.0:
                raise InvalidParameterError(
                    f"loss_fn_name={self.loss_fn_name!r} weights targets by OUTCOME, which is "
                    "0 for every training row: there is nothing to learn; drop the OUTCOME "
                    "column for unweighted training"
                )

    def _check_prior_params(self) -> None:
        check_prior_params(self.item_prior_weight, self.item_prior_l2, self.item_prior_kind,
                           self.item_prior_rank)
        if self.item_prior_weight and self._kind != "classifier":
            raise InvalidParameterError(
                f"item_prior_weight={self.item_prior_weight!r}: the item prior adds to "
                "next-item logits and is only available for SASRecClassifierEstimator; "
                "use item_prior_weight=0"
            )

    def _check_prior_size(self, n_items: int) -> None:
        if self.uses_item_prior and self.item_prior_kind == "ease":
            check_prior_size(n_items)

    def _resolve_device(self) -> torch.device:
        if self.device in (None, "cpu"):
            return torch.device("cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise InvalidParameterError(
                f"device={self.device!r} is not a torch device; use None/'cpu', 'cuda' or "
                f"'cuda:N' ({exc})"
            ) from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidParameterError(
                f"device={self.device!r} was requested but CUDA is not available in this torch "
                "build; use device=None (CPU) or install a CUDA build of torch"
            )
        return device

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
        )

    @property
    def uses_item_prior(self) -> bool:
        """Whether scores include the item-item prior (``item_prior_weight > 0``)."""
        return float(self.item_prior_weight) > 0

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
            self._check_outcomes(
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

    def refit_item_prior(
        self, prior_histories: tuple[np.ndarray, np.ndarray], **params: Any
    ) -> SASRecEstimatorBase:
        """Refit only the item prior of a fitted estimator; the trained network is kept.

        The prior never changes training, so this gives the model that ``fit`` with these
        prior parameters would have given, without training the network again (e.g. to
        tune ``item_prior_weight`` / ``item_prior_l2`` on validation data).

        Parameters
        ----------
        prior_histories
            ``(row_codes, item_indices)`` of the training interactions (as in ``fit``).
        **params
            New values of ``item_prior_weight``, ``item_prior_l2``, ``item_prior_kind``,
            ``item_prior_rank``; the others keep their values. ``item_prior_weight=0``
            removes the prior.

        Returns
        -------
        self

        Raises
        ------
        NotFittedError, InvalidParameterError
            Unknown or bad parameters are refused before anything changes.
        """
        self.check_is_fitted()
        unknown = sorted(set(params) - set(_PRIOR_PARAMS))
        if unknown:
            raise InvalidParameterError(
                f"refit_item_prior only changes {', '.join(_PRIOR_PARAMS)}; got {unknown} "
                "(other parameters need a new fit)"
            )
        previous = {name: getattr(self, name) for name in _PRIOR_PARAMS}
        self.set_params(**params)
        try:
            self._check_prior_params()
            self._check_prior_size(self.n_items_)
            network = self.build_network(self.n_items_).to(self.device_)
            state = {k: v for k, v in self.network_.state_dict().items()
                     if not k.startswith("item_prior_")}
            missing, unexpected = network.load_state_dict(state, strict=False)
            if unexpected or any(not k.startswith("item_prior_") for k in missing):
                raise RuntimeError(f"trained weights do not fit the rebuilt network: "
                                   f"missing {missing}, unexpected {unexpected}")
            network.eval()
            if self.uses_item_prior:
                self._fit_item_prior(network, None, self.n_items_, prior_histories)
        except BaseException:
            self.set_params(**previous)
            raise
        self.network_ = network
        return self

    def _fit_item_prior(
        self, network: SASRecNetwork, sequences: np.ndarray | None, n_items: int,
        prior_histories: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        """Fill the network's prior buffers (see :func:`~..model.item_prior.fit_item_prior`)."""
        if prior_histories is None:
            sequences = np.asarray(sequences)
            rows = np.repeat(np.arange(len(sequences)), sequences.shape[1])
            prior_histories = (rows, sequences.reshape(-1))
        fit_item_prior(
            network, prior_histories, n_items, kind=self.item_prior_kind,
            weight=float(self.item_prior_weight), l2=float(self.item_prior_l2),
            seed=0 if self.random_state is None else int(self.random_state),
        )

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

    # ------------------------------------------------------------------ fitted state
    def fitted_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """What fitting added to the parameters: JSON-able metadata and CPU weights."""
        self.check_is_fitted()
        meta = {"n_items": self.n_items_, "best_epoch": self.best_epoch_,
                "precision": self.precision_, "history": self.history_}
        weights = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
        return meta, weights

    def restore_fitted_state(
        self, meta: dict[str, Any], weights: dict[str, torch.Tensor]
    ) -> SASRecEstimatorBase:
        """Rebuild the fitted network from :meth:`fitted_state`'s output, on the CPU.

        Raises
        ------
        KeyError, TypeError, ValueError, RuntimeError
            Metadata or weights that do not describe a network of these parameters.
        """
        n_items = int(meta["n_items"])
        network = self.build_network(n_items)
        network.load_state_dict(weights)
        self.network_ = network.eval()
        self.n_items_ = n_items
        self.history_ = meta.get("history", [])
        self.best_epoch_ = meta.get("best_epoch")
        saved_precision: Any = meta.get("precision")  # None in models saved before it existed
        self.precision_ = saved_precision
        self.device_ = torch.device("cpu")
        return self

    def move_to_device(self, device: str | None, source: str = "the model") -> SASRecEstimatorBase:
        """Move a fitted network to ``device``, or (``None``) to the device it was trained on.

        A model trained on a GPU goes to the CPU, with a :class:`DeviceFallbackWarning`,
        when no GPU is available here.
        """
        self.check_is_fitted()
        saved = self.device
        if device is not None:
            self.set_params(device=device)
            target = self._resolve_device()
        elif isinstance(saved, str) and saved.startswith("cuda") \
                and not torch.cuda.is_available():
            warn(
                f"{source} was trained with device={saved!r} but CUDA is not available here; "
                "loaded onto the CPU (pass device='cpu' to load() to silence this)",
                DeviceFallbackWarning,
            )
            target = torch.device("cpu")
        else:
            target = self._resolve_device()
        self.network_ = self.network_.to(target).eval()
        self.device_ = target
        return self

    # ------------------------------------------------------------------ inference
    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has run."""
        if not hasattr(self, "network_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call train()/fit() first"
            )

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
