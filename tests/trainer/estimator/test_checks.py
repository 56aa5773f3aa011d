"""The estimator's parameter table covers its constructor."""

from __future__ import annotations


def test_every_estimator_parameter_has_a_rule_or_a_reason():
    from seqrec_trainer import SASRecClassifierEstimator, SASRecRegressorEstimator
    from seqrec_trainer.estimator.checks import ESTIMATOR_PARAMS

    # device: resolved against the machine at fit time; loss_fn_name: per class;
    # restore_best_weights: any truth value
    free = {"device", "loss_fn_name", "restore_best_weights"}
    for cls in (SASRecClassifierEstimator, SASRecRegressorEstimator):
        assert set(cls._param_names()) - set(ESTIMATOR_PARAMS) == free
