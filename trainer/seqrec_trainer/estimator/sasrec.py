"""The public SASRec estimators."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from .base import SASRecEstimatorBase
from .losses import CLASSIFIER_LOSSES, REGRESSOR_LOSSES, LossFn


class SASRecClassifierEstimator(SASRecEstimatorBase):
    """SASRec for implicit feedback: next-item prediction.

    Losses: ``"bce"`` (paper: sampled negatives, OUTCOME as soft label), ``"ce"`` (full
    softmax over all items, the "SASRec+" recipe; OUTCOME weights targets) and
    ``"sampled_softmax"`` (for large catalogues). See :class:`SASRecEstimatorBase` for
    every parameter.
    """

    _losses: ClassVar[dict[str, LossFn]] = CLASSIFIER_LOSSES
    _kind: ClassVar[str] = "classifier"

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SASRecClassifierEstimator:
        """An estimator with the parameters of preset ``name`` (see :mod:`~.presets`)."""
        from ..presets import get_preset

        return cls(**{**get_preset(name), **overrides})


class SASRecRegressorEstimator(SASRecEstimatorBase):
    """SASRec that regresses OUTCOME (e.g. a rating) of the next item (``loss_fn_name="mse"``).

    Same parameters as :class:`SASRecClassifierEstimator`.
    """

    _losses: ClassVar[dict[str, LossFn]] = REGRESSOR_LOSSES
    _kind: ClassVar[str] = "regressor"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = _REGRESSOR_SIGNATURE.bind(self, *args, **kwargs)
        bound.apply_defaults()
        params = dict(bound.arguments)
        params.pop("self")
        super().__init__(**params)


def _with_default(func: Any, name: str, default: Any) -> inspect.Signature:
    signature = inspect.signature(func)
    params = [p.replace(default=default) if p.name == name else p
              for p in signature.parameters.values()]
    return signature.replace(parameters=params)


_REGRESSOR_SIGNATURE = _with_default(SASRecEstimatorBase.__init__, "loss_fn_name", "mse")
SASRecRegressorEstimator.__init__.__signature__ = _REGRESSOR_SIGNATURE  # type: ignore[attr-defined]
