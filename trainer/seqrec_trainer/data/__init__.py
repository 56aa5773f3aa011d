"""Data preparation: schemas, datasets and training sequences."""

from .datasets import InteractionsDataset, ItemsDataset

__all__ = ["InteractionsDataset", "ItemsDataset"]
