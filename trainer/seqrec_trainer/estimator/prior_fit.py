"""The item prior's part of the estimator: its parameter checks, fit and refit.

The prior (an item-item model added to the logits, see :mod:`..model.item_prior`) never
changes training, so it can be fitted after the network and refitted alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import InvalidParameterError
from ..model.item_prior import check_prior_params, check_prior_size, fit_item_prior

if TYPE_CHECKING:
    import torch

    from ..model import SASRecNetwork

#: The parameters :meth:`ItemPriorMixin.refit_item_prior` may change.
PRIOR_PARAMS = ("item_prior_weight", "item_prior_l2", "item_prior_kind", "item_prior_rank")


class ItemPriorMixin:
    """Item-prior methods of :class:`~.base.SASRecEstimatorBase`."""

    if TYPE_CHECKING:  # provided by the estimator
        item_prior_weight: float
        item_prior_l2: float
        item_prior_kind: str
        item_prior_rank: int
        random_state: int | None
        _kind: ClassVar[str]
        n_items_: int
        network_: SASRecNetwork
        device_: torch.device

        def build_network(self, n_items: int) -> SASRecNetwork: ...
        def check_is_fitted(self) -> None: ...
        def set_params(self, **params: Any) -> Any: ...

    @property
    def uses_item_prior(self) -> bool:
        """Whether scores include the item-item prior (``item_prior_weight > 0``)."""
        return float(self.item_prior_weight) > 0

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

    def refit_item_prior(
        self, prior_histories: tuple[np.ndarray, np.ndarray], **params: Any
    ) -> ItemPriorMixin:
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
        unknown = sorted(set(params) - set(PRIOR_PARAMS))
        if unknown:
            raise InvalidParameterError(
                f"refit_item_prior only changes {', '.join(PRIOR_PARAMS)}; got {unknown} "
                "(other parameters need a new fit)"
            )
        previous = {name: getattr(self, name) for name in PRIOR_PARAMS}
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
