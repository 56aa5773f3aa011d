"""The seqrec-runtime release (kept in one place; see runtime/pyproject.toml)."""

__version__ = "0.1.0"
