"""The training loop's batching: random batches and ``batch_by_length`` batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqrec_runtime.errors import InvalidParameterTypeError
from seqrec_trainer import SASRecClassifierEstimator
from seqrec_trainer.estimator.training import LENGTH_CHUNK_BATCHES, epoch_batches


def _generator(seed: int = 0) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _padded_positions(batches: list[torch.Tensor], lengths: torch.Tensor) -> int:
    return int(sum(int(lengths[b].max()) * len(b) for b in batches))


@pytest.mark.parametrize("n", [1, 127, 128, 1000, 128 * LENGTH_CHUNK_BATCHES + 5])
@pytest.mark.parametrize("by_length", [False, True])
def test_every_row_is_in_exactly_one_batch(n, by_length):
    lengths = torch.randint(1, 201, (n,), generator=_generator(1)) if by_length else None
    batches = epoch_batches(n, 128, _generator(), lengths)
    assert len(batches) == -(-n // 128)  # as many batches either way
    assert sorted(torch.cat(batches).tolist()) == list(range(n))
    assert all(0 < len(b) <= 128 for b in batches)


def test_random_batches_are_the_permutation_cut_in_order():
    """batch_by_length=False keeps the original stream: same model as before the option."""
    expected = torch.randperm(300, generator=_generator(3))
    batches = epoch_batches(300, 64, _generator(3))
    torch.testing.assert_close(torch.cat(batches), expected)


def test_batches_by_length_compute_less_padding_and_differ_between_epochs():
    lengths = torch.randint(1, 201, (20_000,), generator=_generator(1))
    generator = _generator()
    by_length = epoch_batches(len(lengths), 128, generator, lengths)
    random = epoch_batches(len(lengths), 128, _generator(), None)
    assert _padded_positions(by_length, lengths) < 0.6 * _padded_positions(random, lengths)
    again = epoch_batches(len(lengths), 128, generator, lengths)
    assert not all(torch.equal(a, b) for a, b in zip(by_length, again, strict=True))
    # Batch order is shuffled: long and short batches are interleaved, not ascending.
    maxima = np.array([int(lengths[b].max()) for b in by_length])
    assert (np.diff(maxima) < 0).sum() > len(maxima) // 4


def test_batch_by_length_trains_reproducibly(synthetic_interactions):
    from seqrec_trainer import InteractionsDataset, SequentialRecommender, SequentialScorer

    def fit():
        estimator = SASRecClassifierEstimator(hidden_units=16, max_len=20, epochs=2,
                                              batch_by_length=True, random_state=0)
        recommender = SequentialRecommender(SequentialScorer(estimator), max_len=20)
        recommender.train(interactions_ds=InteractionsDataset(synthetic_interactions))
        return recommender.score_items(synthetic_interactions)

    first = fit()
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, fit())


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_batch_by_length_must_be_a_bool(synthetic_interactions, value):
    from seqrec_trainer import InteractionsDataset, SequentialRecommender, SequentialScorer

    estimator = SASRecClassifierEstimator(hidden_units=16, max_len=20, epochs=1,
                                          batch_by_length=value)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=20)
    with pytest.raises(InvalidParameterTypeError, match="batch_by_length must be True or False"):
        recommender.train(interactions_ds=InteractionsDataset(synthetic_interactions))
