"""Every rank reaches the same decision: input checks and the item vocabulary.

* :func:`agreed_input_checks` runs a block of input checks on every rank and then gathers
  their outcome: when any rank's input is bad, *every* rank raises (the same error type,
  naming the rank), instead of the healthy ranks waiting at their first all-reduce.
* :func:`share_prepared_data` proves that every rank built the same item vocabulary (by
  sha256 fingerprint; the vocabulary is deterministic given the same table, so it is
  checked rather than broadcast) and, when the ranks hold different parts of the data,
  sums the item popularity over the ranks so the cold-user fallback is the job's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..errors import InvalidParameterError, SeqrecError
from .context import collective_device, current_context
from .sharding import fingerprint, gather


class RankFailedError(SeqrecError, RuntimeError):
    """Another rank of the job failed before training started (its error is in the text)."""


@contextmanager
def agreed_input_checks() -> Iterator[None]:
    """Run the block's checks on every rank; if one rank fails, all ranks raise.

    A collective at the end of the block: call it on every rank. The failing rank raises
    its own exception; the others raise the same :class:`~seqrec_trainer.errors.SeqrecError`
    subclass (or :class:`RankFailedError` for other exceptions) with ``rank N: <message>``.
    Outside a process group it only runs the block.
    """
    context = current_context()
    if context is None:
        yield
        return
    failure: BaseException | None = None
    try:
        yield
    except Exception as exc:  # re-raised below, after every rank has reported
        failure = exc
    reports = gather(None if failure is None else (type(failure).__name__, str(failure)))
    if failure is not None:
        raise failure
    first = next(((rank, report) for rank, report in enumerate(reports) if report), None)
    if first is None:
        return
    rank, (name, message) = first
    raise _same_error(name, f"rank {rank}: {message}")


def _same_error(name: str, message: str) -> Exception:
    """An instance of the seqrec error class ``name`` (else :class:`RankFailedError`)."""
    from .. import errors

    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, SeqrecError):
        try:
            return cls(message)
        except TypeError:
            pass
    return RankFailedError(f"{name}: {message}")


def share_prepared_data(vocabulary: Any, prepared: Any) -> None:
    """Check the vocabulary is the same on every rank; pool popularity of sharded data.

    Collective (call on every rank after the data is prepared); a no-op outside a process
    group.

    Raises
    ------
    InvalidParameterError
        The ranks built different item vocabularies (on every rank, same message).
    """
    if current_context() is None:
        return
    train = prepared.train
    every = gather((fingerprint(np.asarray(vocabulary.ids)),
                    fingerprint(train.sequences, train.outcomes)))
    if len({entry[0] for entry in every}) > 1:
        raise InvalidParameterError(
            "the ranks of this job built different item vocabularies: give every rank the "
            "whole interactions table, or, when each rank reads its own part, the same full "
            "item catalogue as items_ds"
        )
    if len({entry[1] for entry in every}) > 1:  # sharded data: the job's popularity
        counts = torch.as_tensor(
            prepared.popularity.astype(np.float64) * prepared.summary["n_train_rows_used"],
            device=collective_device(),
        )
        dist.all_reduce(counts)
        pooled = counts.cpu().numpy()
        prepared.popularity = (pooled / max(pooled.sum(), 1.0)).astype(np.float32)
