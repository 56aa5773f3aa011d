"""The fitted state of an estimator: what it saves, restores and moves between devices.

Persistence (:mod:`..persistence`) only reads and writes files; the estimator itself turns
its fitted network into JSON metadata and weights and back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from seqrec_runtime.warn import warn

from ..errors import DeviceFallbackWarning, InvalidParameterError, NotFittedError

if TYPE_CHECKING:
    from ..model import SASRecNetwork


class FittedStateMixin:
    """Device and fitted-state methods of :class:`~.base.SASRecEstimatorBase`."""

    if TYPE_CHECKING:  # provided by the estimator
        device: str | None
        network_: SASRecNetwork
        n_items_: int
        history_: list[dict[str, float]]
        best_epoch_: int | None
        precision_: str
        device_: torch.device

        def build_network(self, n_items: int) -> SASRecNetwork: ...
        def set_params(self, **params: Any) -> Any: ...

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

    def fitted_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """What fitting added to the parameters: JSON-able metadata and CPU weights."""
        self.check_is_fitted()
        meta = {"n_items": self.n_items_, "best_epoch": self.best_epoch_,
                "precision": self.precision_, "history": self.history_}
        weights = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
        return meta, weights

    def restore_fitted_state(
        self, meta: dict[str, Any], weights: dict[str, torch.Tensor]
    ) -> FittedStateMixin:
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

    def move_to_device(self, device: str | None, source: str = "the model") -> FittedStateMixin:
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

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has run."""
        if not hasattr(self, "network_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call train()/fit() first"
            )
