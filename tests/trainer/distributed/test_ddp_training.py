"""DDP training on 2 gloo ranks (torchrun) against one process: same updates, same model.

Each job runs in a subprocess killed after ``JOB_TIMEOUT_S`` (a hang fails the test).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
from ddp_support import max_abs_diff
from ddp_worker import TINY, random_windows, validation, window_outcomes
from seqrec_trainer import SASRecClassifierEstimator
from seqrec_trainer.errors import InvalidParameterError

#: Attention key biases get a gradient that is 0 in exact arithmetic (softmax is
#: shift-invariant), so Adam turns float rounding noise in it into +-lr steps; they change
#: no score. They are compared through the scores instead.
SHIFT_INVARIANT = ".attention.key.bias"


def one_process(sequences, outcomes=None, **params) -> SASRecClassifierEstimator:
    estimator = SASRecClassifierEstimator(**{**TINY, **params})
    return estimator.fit(sequences, 30, outcomes=outcomes)


def scores(state: dict[str, torch.Tensor], inputs: np.ndarray) -> np.ndarray:
    network = SASRecClassifierEstimator(**TINY).build_network(30)
    network.load_state_dict(state)
    network.eval()
    with torch.no_grad():
        return network(torch.as_tensor(inputs)).numpy()


@pytest.mark.parametrize(("name", "weighted"), [("one_step_ce", False),
                                                ("one_step_weighted", True)])
def test_one_step_on_two_ranks_equals_one_process_on_the_same_global_batch(
        trained_2ranks, name, weighted):
    windows = random_windows(37, seed=1)  # one global batch: 19 windows on rank 0, 18 on 1
    outcomes = window_outcomes(windows, 2) if weighted else None
    reference = one_process(windows, outcomes, optimizer_name="sgd", learning_rate=0.5,
                            epochs=1, batch_size=37, loss_fn_name="ce")
    expected = reference.network_.state_dict()
    initial = SASRecClassifierEstimator(**TINY).build_network(30)
    moved = max(float((expected[k] - v).abs().max()) for k, v in initial.state_dict().items())
    for rank in range(2):
        assert max_abs_diff(trained_2ranks.params(name, rank), expected) <= 1e-6
    assert moved > 1e-2  # the step is large: the comparison is not between two initial models
    history = trained_2ranks.record(name, 0)["history"]
    assert history[0]["loss"] == pytest.approx(reference.history_[0]["loss"], rel=1e-6)


def test_a_few_adam_epochs_on_two_ranks_match_one_rank(trained_2ranks, few_steps_1rank):
    """3 epochs x 5 steps of 16 windows with validation: parameters within 1e-6, scores
    within 1e-5, the same per-epoch loss and validation metrics."""
    two, one = trained_2ranks.params("few_steps", 0), few_steps_1rank.params("few_steps", 0)
    assert max_abs_diff({k: v for k, v in two.items() if SHIFT_INVARIANT not in k},
                        {k: v for k, v in one.items() if SHIFT_INVARIANT not in k}) <= 1e-6
    inputs = validation(4).inputs
    assert np.abs(scores(two, inputs) - scores(one, inputs)).max() <= 1e-5
    history_two = trained_2ranks.record("few_steps", 0)["history"]
    history_one = few_steps_1rank.record("few_steps", 0)["history"]
    assert len(history_two) == len(history_one) == 3
    for a, b in zip(history_two, history_one, strict=True):
        for key in ("loss", "val_loss", "val_ndcg@10", "val_hr@10"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", ["one_step_ce", "few_steps"])
def test_every_rank_ends_with_the_same_parameters(trained_2ranks, name):
    assert max_abs_diff(trained_2ranks.params(name, 0), trained_2ranks.params(name, 1)) == 0.0


@pytest.mark.parametrize("name", ["uneven", "single_user_rank", "bf16_autocast"])
def test_uneven_shards_and_a_single_user_rank_train_to_the_end(trained_2ranks, name):
    """33 windows in batches of 16 (rank 1 has nothing in the last step), sharded data
    where one rank holds 25 windows and the other a single user's one, and bfloat16
    autocast: no hang, 2 epochs, identical parameters and history on both ranks."""
    records = [trained_2ranks.record(name, rank) for rank in range(2)]
    assert [len(r["history"]) for r in records] == [2, 2]
    assert records[0]["history"][-1]["loss"] == records[1]["history"][-1]["loss"]
    assert np.isfinite(records[0]["history"][-1]["loss"])
    assert max_abs_diff(trained_2ranks.params(name, 0), trained_2ranks.params(name, 1)) == 0.0


def test_early_stopping_is_the_same_decision_on_every_rank(trained_2ranks):
    records = [trained_2ranks.record("early_stopping", rank) for rank in range(2)]
    assert records[0] == {**records[1], "history": records[0]["history"]}
    epochs = [[h["epoch"] for h in r["history"]] for r in records]
    assert epochs[0] == epochs[1] and len(epochs[0]) < 30  # stopped early, together
    assert [h["val_loss"] for h in records[0]["history"]] == \
        [h["val_loss"] for h in records[1]["history"]]
    assert records[0]["best_epoch"] == records[1]["best_epoch"] is not None


def test_bad_input_on_one_rank_raises_the_same_error_on_every_rank(trained_2ranks):
    own = trained_2ranks.record("bad_input_one_rank", 1)
    other = trained_2ranks.record("bad_input_one_rank", 0)
    assert own["error"] == other["error"] == "InvalidParameterError"
    assert "OUTCOME as a label in [0, 1]" in own["message"]
    assert other["message"] == f"rank 1: {own['message']}"


@pytest.mark.parametrize(("value", "message"), [("bf16", "needs the NCCL backend"),
                                                ("zstd", "is not one of")])
def test_gradient_compression_that_cannot_run_is_a_clear_error(tmp_path, monkeypatch, value,
                                                                message):
    monkeypatch.setenv("SEQREC_DDP_COMPRESSION", value)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        with pytest.raises(InvalidParameterError, match=message):
            one_process(random_windows(10, seed=15), loss_fn_name="ce", epochs=1)
    finally:
        dist.destroy_process_group()
