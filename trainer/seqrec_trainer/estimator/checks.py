"""The estimator's parameters as one declarative table, checked by one function.

Each constructor parameter has a spec (:mod:`seqrec_runtime.param_checks`); the few rules
that tie parameters together (heads dividing the width, a monitor only classifiers have,
patience needing validation data) follow the table in :func:`check_estimator_params`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from seqrec_runtime.param_checks import Choice, Flag, Int, Real, Spec, check_params

from ..data.windows import HISTORY_WINDOWS
from ..errors import InvalidParameterError
from ..model.item_prior import PRIOR_PARAMS
from .precision import PRECISIONS

if TYPE_CHECKING:
    from .training import ValidationData

OPTIMIZER_NAMES = ("adam", "adamw", "sgd")
MONITORS = ("val_loss", "val_ndcg@10", "val_hr@10")
LR_SCHEDULES = ("constant", "cosine")
#: ``early_stopping_patience="auto"``: this many epochs when validation data is given.
AUTO_PATIENCE, DEFAULT_PATIENCE = "auto", 5

#: Every constructor parameter with a value rule. ``loss_fn_name`` depends on the class
#: (classifier or regressor) and is checked against its ``_losses`` below.
ESTIMATOR_PARAMS: dict[str, Spec] = {
    "hidden_units": Int(low=1),
    "num_blocks": Int(low=1),
    "num_heads": Int(low=1),
    "num_negatives": Int(low=1),
    "max_len": Int(low=1),
    "epochs": Int(low=1),
    "batch_size": Int(low=1),
    "dropout_rate": Real(low=0.0, high=1.0, high_open=True),
    "learning_rate": Real(low=0.0, low_open=True),
    "weight_decay": Real(low=0.0),
    "label_smoothing": Real(low=0.0, high=1.0),
    "warmup_epochs": Real(low=0.0),
    "max_grad_norm": Real(low=0.0, none=True),
    "verbose": Int(none=True),
    "random_state": Int(low=0, none=True),
    "optimizer_name": Choice(choices=OPTIMIZER_NAMES),
    "monitor": Choice(choices=MONITORS),
    "precision": Choice(choices=PRECISIONS),
    "pack_sequences": Flag(),
    "history_windows": Choice(choices=tuple(HISTORY_WINDOWS)),
    "lr_schedule": Choice(choices=LR_SCHEDULES),
    "early_stopping_patience": Int(low=1, none=True, also=(AUTO_PATIENCE,)),
    **PRIOR_PARAMS,
}


def check_estimator_params(estimator: Any, has_validation: bool) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter that cannot train.

    Parameters
    ----------
    estimator
        A SASRec estimator (its parameters are its attributes).
    has_validation
        Whether validation data was given (early stopping needs it).
    """
    params = estimator.get_params()
    check_params(params, ESTIMATOR_PARAMS)
    kind = estimator.estimator_kind
    losses = estimator.loss_names
    if estimator.loss_fn_name not in losses:
        raise InvalidParameterError(
            f"loss_fn_name={estimator.loss_fn_name!r} is not one of {losses} for "
            f"{type(estimator).__name__}"
        )
    if estimator.hidden_units % estimator.num_heads:
        raise InvalidParameterError(
            f"hidden_units={estimator.hidden_units} must be divisible by "
            f"num_heads={estimator.num_heads}"
        )
    if estimator.monitor != "val_loss" and kind != "classifier":
        raise InvalidParameterError(
            f"monitor={estimator.monitor!r} must be 'val_loss' or (classifiers) "
            "'val_ndcg@10' / 'val_hr@10'"
        )
    if estimator.item_prior_weight and kind != "classifier":
        raise InvalidParameterError(
            f"item_prior_weight={estimator.item_prior_weight!r}: the item prior adds to "
            "next-item logits and is only available for SASRecClassifierEstimator; "
            "use item_prior_weight=0"
        )
    if estimator.early_stopping_patience not in (None, AUTO_PATIENCE) and not has_validation:
        raise InvalidParameterError(
            "early_stopping_patience is set but no validation data was given; pass "
            "valid_interactions_ds to SequentialRecommender.train (e.g. each user's "
            "second-to-last interaction) or set early_stopping_patience=None"
        )


def check_outcomes(
estimator: Any, outcomes: np.ndarray | None, valid: ValidationData | None
) -> None:
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
    if estimator.estimator_kind != "classifier":
        return
    for where, values in (("training", outcomes),
                          ("validation", valid.outcomes if valid is not None else None)):
        if values is None or np.size(values) == 0:
            continue
        low, high = float(np.min(values)), float(np.max(values))
        if estimator.loss_fn_name == "bce" and (low < 0.0 or high > 1.0):
            raise InvalidParameterError(
                f"loss_fn_name='bce' reads OUTCOME as a label in [0, 1], but the {where} "
                f"OUTCOME spans [{low:.6g}, {high:.6g}]; rescale it (e.g. rating / 5), "
                "drop the OUTCOME column, or use loss_fn_name='ce' (OUTCOME as a weight "
                ">= 0)"
            )
        if estimator.loss_fn_name != "bce" and low < 0.0:
            raise InvalidParameterError(
                f"loss_fn_name={estimator.loss_fn_name!r} weights targets by OUTCOME, which "
                f"must be >= 0, but the {where} OUTCOME spans [{low:.6g}, {high:.6g}]; "
                "drop or rescale the negative rows (a negative weight makes the loss "
                "fall without bound)"
            )
        if where == "training" and estimator.loss_fn_name != "bce" and high <= 0.0:
            raise InvalidParameterError(
                f"loss_fn_name={estimator.loss_fn_name!r} weights targets by OUTCOME, which is "
                "0 for every training row: there is nothing to learn; drop the OUTCOME "
                "column for unweighted training"
            )
