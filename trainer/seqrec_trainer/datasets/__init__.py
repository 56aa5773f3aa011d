"""Embedded example data."""

from .synthetic import make_sequential_interactions

__all__ = ["make_sequential_interactions"]
