"""Split, train and evaluate in one call, with baselines beside the model.

:func:`train_and_evaluate` is what ``seqrec evaluate --train`` runs: a leave-one-out split
of one interaction table, a model trained on the training rows with the validation item
for early stopping (and, under the ``auto`` recipe, the item prior's kind and weight), then
the test item ranked by the model and by the baselines of :mod:`.baselines` (popularity,
item-item, transitions) fitted on the same training rows. :func:`compare_with_baselines`
words the verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import InvalidParameterError
from .baselines import fit_baselines
from .protocols import evaluate_many
from .split import LeaveOneOutSplit

RECIPES = ("auto", "ml-1m", "sasrec-paper", "plain")


def build_estimator(recipe: str, train: Any, overrides: dict[str, Any] | None = None):
    """The estimator of ``recipe`` for the training rows ``train``, and its auto recipe.

    ``"auto"`` reads ``train`` (:func:`~seqrec_trainer.auto_recipe.auto_recipe`); a preset
    name uses that preset; ``"plain"`` the constructor's defaults. ``overrides`` win.
    """
    from ..auto_recipe import auto_recipe
    from ..estimator import SASRecClassifierEstimator

    overrides = dict(overrides or {})
    if recipe not in RECIPES:
        raise InvalidParameterError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if recipe == "auto":
        chosen = auto_recipe(train)
        for name, value in overrides.items():
            if name in chosen.params and chosen.params[name] != value:
                chosen.reasons[name] = (f"set by the caller (the recipe chose "
                                        f"{chosen.params[name]!r})")
            chosen.params[name] = value
        return SASRecClassifierEstimator(**chosen.params), chosen
    if recipe == "plain":
        return SASRecClassifierEstimator(**overrides), None
    return SASRecClassifierEstimator.from_preset(recipe, **overrides), None


def compare_with_baselines(results: dict[str, dict[str, Any]], metric: str = "NDCG@10",
                           model: str = "model") -> list[str]:
    """Plain sentences: does ``model`` beat every other row of ``results`` on ``metric``?

    ``results`` maps a name to an :func:`~seqrec_trainer.evaluation.evaluate` result.
    """
    mine = results[model][metric]
    lines = []
    for name, res in results.items():
        if name == model:
            continue
        other = res[metric]
        if mine > other:
            lines.append(f"the model beats {name} on {metric}: {mine:.4f} > {other:.4f}")
        else:
            lines.append(f"WARNING: the model does NOT beat {name} on {metric}: {mine:.4f} "
                         f"<= {other:.4f}; prefer {name}, or tune the model on validation "
                         "data")
    return lines


def evaluate_with_baselines(
    model: Any, split: LeaveOneOutSplit, stage: str = "test",
    protocols: Iterable[str] = ("full", "sampled"), ks: Iterable[int] = (10,),
    baselines: list | None = None, random_state: int = 0, n_negatives: int = 100,
    batch_size: int = 1024,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{name: {protocol: result}}`` for ``model`` and the baselines on one split stage.

    Baselines are fitted on ``split.train`` (the rows a model evaluated on this split must
    have been trained on) unless given. ``stage`` is ``"test"`` (input: train + validation
    rows) or ``"valid"`` (input: train rows).
    """
    if stage not in ("test", "valid"):
        raise InvalidParameterError(f"stage must be 'test' or 'valid', got {stage!r}")
    inputs, targets = ((split.test_input, split.test) if stage == "test"
                       else (split.valid_input, split.valid))
    protocols, ks = tuple(protocols), tuple(ks)
    models = {"model": model}
    for baseline in baselines if baselines is not None else fit_baselines(split.train):
        models[baseline.name] = baseline
    return {name: evaluate_many(m, inputs, targets, protocols, ks, n_negatives, random_state,
                                batch_size)
            for name, m in models.items()}


def train_and_evaluate(
    split: LeaveOneOutSplit, recipe: str = "auto", overrides: dict[str, Any] | None = None,
    ks: Iterable[int] = (10,), protocols: Iterable[str] = ("full", "sampled"),
    epoch_callback: Callable | None = None, verbose: int = 0, baselines: list | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` on ``split.train`` (validation: ``split.valid``) and evaluate it.

    ``baselines`` (default: :func:`~.baselines.fit_baselines` on ``split.train``) are
    evaluated beside the model.

    Returns
    -------
    dict
        ``recommender`` (the trained model), ``recipe`` (the auto recipe or ``None``),
        ``train_seconds`` (training, prior-weight choice included), ``valid`` and ``test``
        (``{name: {protocol: result}}`` for the model and the baselines) and ``verdict``
        (sentences comparing the model with the baselines on the test item's full-ranking
        NDCG@10).
    """
    from ..recommender import SequentialRecommender
    from ..scorer import SequentialScorer

    overrides = {"random_state": 0, "verbose": verbose, **(overrides or {})}
    estimator, auto = build_estimator(recipe, split.train, overrides)
    if auto is not None:
        print(auto.to_text(), flush=True)
    callbacks = [] if epoch_callback is None else [epoch_callback]
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=estimator.max_len)
    started = time.perf_counter()
    recommender.train(interactions_ds=split.train, valid_interactions_ds=split.valid,
                      callbacks=callbacks)
    if auto is not None and auto.tune_prior_weight:
        from ..auto_recipe import choose_prior_weight

        choose_prior_weight(recommender, split.train, split.valid_input, split.valid, auto)
        print(f"item_prior_kind = {estimator.item_prior_kind!r}, item_prior_weight = "
              f"{auto.chosen['item_prior_weight']} (validation NDCG@10 by kind and weight: "
              f"{auto.chosen['validation_ndcg@10_by_prior_weight']})", flush=True)
    train_seconds = time.perf_counter() - started
    if baselines is None:
        baselines = fit_baselines(split.train)
    valid = evaluate_with_baselines(recommender, split, "valid", protocols, ks, baselines)
    test = evaluate_with_baselines(recommender, split, "test", protocols, ks, baselines)
    verdict = compare_with_baselines({name: r["full"] for name, r in test.items()}) \
        if "full" in test["model"] else []
    return {"recommender": recommender, "recipe": auto, "train_seconds": train_seconds,
            "valid": valid, "test": test, "verdict": verdict,
            "baselines": {b.name: b.description for b in baselines}}
