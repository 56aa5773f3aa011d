"""The ``auto`` recipe: SASRec hyperparameters read from the shape of the training table.

:func:`auto_recipe` measures users, items, rows and the history-length distribution and
returns an :class:`AutoRecipe`: estimator parameters plus, for every choice, the reason
(printable with :meth:`AutoRecipe.to_text`, savable with :meth:`AutoRecipe.save`).

The rules (documented with their validation evidence in ``docs/quality.md``):

* **Long histories over a few thousand items** (median history >= 50 items, at least
  1,000 users, at most 15,000 items): the ``ml-1m`` preset, unchanged. It was tuned on
  MovieLens-1M's validation item and nothing else in this recipe was.
* Otherwise a smaller network for smaller data:

  - ``max_len``: the 90th percentile of history length rounded up to a multiple of 10,
    between 50 and 200.
  - ``history_windows="all"`` when more than 10 % of the rows lie before the last window
    of ``max_len + 1`` items (they would never be targets otherwise).
  - width/depth: 64 units, 2 blocks below 500,000 rows; 128 units, 3 blocks above.
  - dropout: 0.5 for short histories (median < 20 items), 0.2 otherwise.
  - loss: full softmax ``"ce"`` while an epoch costs at most :data:`FULL_SOFTMAX_SCORES`
    target x item scores; beyond, ``"sampled_softmax"`` with :data:`SAMPLED_NEGATIVES`
    negatives per batch.
  - item prior: EASE up to 15,000 items (the low-rank form beyond) or ``"transitions"``;
    the kind and weight are chosen on the validation item after training
    (:func:`choose_prior_weight`).
  - batch 128; learning rate 0.002; AdamW, weight decay 0.1, warm-up + cosine decay as
    in the ``ml-1m`` preset.
  - epochs: about :data:`TRAINING_TARGETS` training targets in all, within 20..200;
    patience 5 (runs of <= 30 epochs) or 10 on validation NDCG@10.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmptyInputError
from .model.item_prior import MAX_PRIOR_ITEMS
from .presets import get_preset

#: Most (training target x item) scores per epoch trained with the full softmax; beyond
#: it the sampled softmax (an epoch's cost grows with targets times items).
FULL_SOFTMAX_SCORES = 20_000_000_000
#: Negatives per batch of the sampled softmax (beyond :data:`FULL_SOFTMAX_SCORES`).
SAMPLED_NEGATIVES = 2048
#: Training targets (positions with a next item) over all epochs; sets the epoch count.
TRAINING_TARGETS = 2_000_000
#: Validation users scored per prior weight (a fixed random draw beyond).
PRIOR_CHOICE_USERS = 5_000
#: Times the weight grid is extended (x 2.5 each) while its largest weight is the best.
MAX_GRID_EXTENSIONS = 6
#: Item-prior weights tried on the validation item (0 = no prior).
PRIOR_WEIGHT_GRID = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


@dataclass
class DataShape:
    """What the recipe reads from the training table."""

    n_rows: int
    n_users: int
    n_items: int
    median_history: float
    p90_history: float
    mean_history: float

    def share_before_window(self, window: int, lengths: np.ndarray) -> float:
        """Share of rows older than each user's last ``window`` rows."""
        return float(np.maximum(lengths - window, 0).sum() / max(self.n_rows, 1))


@dataclass
class AutoRecipe:
    """Estimator parameters chosen from the data, each with its reason.

    Attributes
    ----------
    params
        Keyword arguments of :class:`~seqrec_trainer.SASRecClassifierEstimator`.
    reasons
        ``parameter -> why`` for every choice.
    shape
        The measured :class:`DataShape`.
    tune_prior_weight
        Whether the item-prior weight should be chosen on validation data after training
        (:func:`choose_prior_weight`).
    """

    params: dict[str, Any]
    reasons: dict[str, str]
    shape: DataShape
    tune_prior_weight: bool = True
    chosen: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: data shape, parameters, reasons, choices made after training."""
        return {"recipe": "auto", "data": self.shape.__dict__, "params": self.params,
                "reasons": self.reasons, "tune_prior_weight": self.tune_prior_weight,
                "chosen_after_training": self.chosen}

    def to_text(self) -> str:
        """One line per choice: ``name = value  (why)``."""
        s = self.shape
        lines = [f"auto recipe for {s.n_rows:,} rows, {s.n_users:,} users, {s.n_items:,} "
                 f"items, history length median {s.median_history:g} / p90 "
                 f"{s.p90_history:g}:"]
        for name, why in self.reasons.items():
            value = self.params.get(name, self.chosen.get(name))
            lines.append(f"  {name} = {value!r}  ({why})")
        for name, value in self.chosen.items():
            if name not in self.reasons:
                lines.append(f"  {name} = {value!r}  (chosen on the validation item)")
        return "\n".join(lines)

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


def _history_lengths(interactions: Any) -> np.ndarray:
    from seqrec_runtime.table import USER_ID, get_columns, normalize_ids

    users = normalize_ids(get_columns(interactions, [USER_ID], [])[USER_ID], USER_ID)
    if len(users) == 0:
        raise EmptyInputError("interactions has no rows; the auto recipe needs training data")
    return np.unique(users, return_counts=True)[1]


def _n_items(interactions: Any) -> int:
    from seqrec_runtime.table import ITEM_ID, get_columns, normalize_ids

    items = normalize_ids(get_columns(interactions, [ITEM_ID], [])[ITEM_ID], ITEM_ID)
    return len(np.unique(items))


def measure(interactions: Any) -> tuple[DataShape, np.ndarray]:
    """The :class:`DataShape` of a USER_ID, ITEM_ID table, and each user's history length."""
    lengths = _history_lengths(interactions)
    shape = DataShape(
        n_rows=int(lengths.sum()), n_users=len(lengths), n_items=_n_items(interactions),
        median_history=float(np.median(lengths)),
        p90_history=float(np.percentile(lengths, 90)), mean_history=float(lengths.mean()),
    )
    return shape, lengths


def _targets_per_epoch(lengths: np.ndarray, max_len: int, history_windows: str) -> int:
    """Positions with a next item that one epoch trains on."""
    if history_windows == "all":
        return int(np.maximum(lengths - 1, 0).sum())
    return int(np.minimum(np.maximum(lengths - 1, 0), max_len).sum())


def _is_long_history(shape: DataShape) -> bool:
    return (shape.median_history >= 50 and shape.n_users >= 1000
            and shape.n_items <= MAX_PRIOR_ITEMS)


def auto_recipe(interactions: Any) -> AutoRecipe:
    """Choose SASRec parameters for ``interactions`` (its USER_ID and ITEM_ID columns).

    Parameters
    ----------
    interactions
        The training rows: a dict of arrays, pandas DataFrame or pyarrow Table with
        USER_ID and ITEM_ID (validation and test rows left out).

    Returns
    -------
    AutoRecipe
        Parameters with a reason for each.
    """
    shape, lengths = measure(interactions)
    params: dict[str, Any]
    reasons: dict[str, str]
    if _is_long_history(shape):
        params = get_preset("ml-1m")
        why = ("long histories (median >= 50) over at most 15,000 items and >= 1,000 users: "
               "the ml-1m preset, tuned on MovieLens-1M's validation item")
        reasons = {name: why for name in params}
        return AutoRecipe(params, reasons, shape, tune_prior_weight=False)
    params = {}
    reasons = {}

    def choose(name: str, value: Any, why: str) -> None:
        params[name] = value
        reasons[name] = why

    max_len = int(min(200, max(50, 10 * np.ceil(shape.p90_history / 10))))
    choose("max_len", max_len, f"90th percentile of history length ({shape.p90_history:g}) "
           "rounded up to 10s, kept within 50..200")
    before = shape.share_before_window(max_len + 1, lengths)
    choose("history_windows", "all" if before > 0.10 else "last",
           f"{before:.0%} of the rows lie before each user's last {max_len + 1} items "
           "(windows 'all' above 10 %)")
    small = shape.n_rows < 500_000
    choose("hidden_units", 64 if small else 128,
           f"{shape.n_rows:,} rows ({'<' if small else '>='} 500,000)")
    choose("num_blocks", 2 if small else 3, reasons["hidden_units"])
    choose("num_heads", 1, "one head, as in SASRec")
    short = shape.median_history < 20
    choose("dropout_rate", 0.5 if short else 0.2,
           f"median history {shape.median_history:g} items ({'<' if short else '>='} 20)")
    targets = _targets_per_epoch(lengths, max_len, params["history_windows"])
    scores = targets * shape.n_items
    if scores <= FULL_SOFTMAX_SCORES:
        choose("loss_fn_name", "ce", f"{targets:,} targets x {shape.n_items:,} items = "
               f"{scores:.2g} scores per epoch (<= {FULL_SOFTMAX_SCORES:.0e}): full softmax "
               "(SASRec+)")
    else:
        choose("loss_fn_name", "sampled_softmax",
               f"{targets:,} targets x {shape.n_items:,} items = {scores:.2g} scores per "
               f"epoch (> {FULL_SOFTMAX_SCORES:.0e}): sampled softmax")
        choose("num_negatives", SAMPLED_NEGATIVES, "negatives shared by each batch")
    ease = shape.n_items <= MAX_PRIOR_ITEMS
    choose("item_prior_kind", "ease" if ease else "low_rank",
           f"set after training: {'ease' if ease else 'low_rank'} ({shape.n_items:,} items "
           f"{'<=' if ease else '>'} {MAX_PRIOR_ITEMS:,}, EASE's cap) or 'transitions', "
           "whichever scores better on the validation item")
    choose("item_prior_l2", 500.0, "the EASE paper's lambda")
    choose("item_prior_weight", 0.0,
           "set after training: the best of "
           f"{list(PRIOR_WEIGHT_GRID)} on the validation item")
    choose("batch_size", 128, "the SASRec batch (larger batches learned slower on Beauty's "
           "validation item)")
    choose("learning_rate", 0.002, "AdamW step size (batch 1,024 at 0.004 learned slower on "
           "Beauty's validation item)")
    optimisation = "AdamW + warm-up + cosine decay, as in the ml-1m preset"
    for name, value in (("optimizer_name", "adamw"), ("weight_decay", 0.1),
                        ("warmup_epochs", 1.0), ("lr_schedule", "cosine"),
                        ("precision", "auto")):
        choose(name, value, optimisation)
    epochs = int(np.clip(round(TRAINING_TARGETS / max(targets, 1)), 20, 200))
    choose("epochs", epochs, f"about {TRAINING_TARGETS:,} training targets in all "
           f"({targets:,} per epoch), within 20..200; the cosine decay ends there")
    choose("early_stopping_patience", 5 if epochs <= 30 else 10,
           "epochs without a better validation NDCG@10 (a third of short runs, else 10)")
    choose("monitor", "val_ndcg@10", "checkpoint by validation NDCG@10")
    choose("restore_best_weights", True, "keep the best validation epoch")
    return AutoRecipe(params, reasons, shape, tune_prior_weight=True)


def _scale_prior(estimator: Any, factor: float) -> None:
    """Multiply the fitted prior term by ``factor`` (it is linear in the weight)."""
    import torch

    network = estimator.network_
    name = ("item_prior_matrix" if network.item_prior_matrix is not None else
            "item_prior_neighbor_weights" if network.item_prior_neighbor_weights is not None
            else "item_prior_scales")
    with torch.no_grad():
        getattr(network, name).mul_(factor)


def _subsample_users(valid_input: Any, valid: Any, max_users: int | None) -> tuple[Any, Any]:
    """At most ``max_users`` validation users (a fixed random draw), with their inputs."""
    from seqrec_runtime.table import ITEM_ID, TIMESTAMP, USER_ID, get_columns

    targets = get_columns(valid, [USER_ID, ITEM_ID], [])
    users = np.unique(targets[USER_ID])
    if max_users is None or len(users) <= max_users:
        return valid_input, valid
    kept = np.random.default_rng(0).choice(users, max_users, replace=False)
    inputs = get_columns(valid_input, [USER_ID, ITEM_ID, TIMESTAMP], [])
    pick = np.isin(inputs[USER_ID], kept)
    take = np.isin(targets[USER_ID], kept)
    return ({k: np.asarray(v)[pick] for k, v in inputs.items()},
            {k: np.asarray(v)[take] for k, v in targets.items()})


def choose_prior_weight(recommender: Any, train: Any, valid_input: Any, valid: Any,
                        recipe: AutoRecipe, grid: tuple[float, ...] = PRIOR_WEIGHT_GRID,
                        max_users: int | None = PRIOR_CHOICE_USERS,
                        kinds: tuple[str, ...] | None = None) -> dict[float, float]:
    """Set the item prior's kind and weight of a trained recommender to the best on validation.

    For each kind of ``kinds`` (default: the recipe's ``item_prior_kind`` and
    ``"transitions"``) the prior is fitted once on ``train`` (the network is kept); since
    its term is linear in the weight, each weight of ``grid`` is then scored by rescaling
    it, by full-ranking NDCG@10 of the validation targets ``valid`` from ``valid_input``
    (at most ``max_users`` of them, a fixed random draw, to bound the cost on large data).
    While the largest weight tried is the best, larger ones (x 2.5, at most
    :data:`MAX_GRID_EXTENSIONS` times) are tried too. The best kind and weight (the
    smaller weight on a tie; weight 0 = no prior) are kept and recorded in
    ``recipe.chosen``. Test items are never read.

    Returns
    -------
    dict
        weight -> validation NDCG@10 of the chosen kind.
    """
    from .evaluation import evaluate

    estimator = recommender.scorer.estimator
    valid_input, valid = _subsample_users(valid_input, valid, max_users)
    if kinds is None:
        kinds = tuple(dict.fromkeys((recipe.params["item_prior_kind"], "transitions")))

    def validation_ndcg() -> float:
        result = evaluate(recommender, valid_input, valid, protocol="full", ks=(10,))
        return round(float(result["NDCG@10"]), 5)

    by_kind: dict[str, dict[float, float]] = {}
    without = None
    if 0.0 in grid:
        recommender.refit_item_prior(train, item_prior_weight=0.0)
        without = validation_ndcg()
    for kind in kinds:
        scores = by_kind[kind] = {} if without is None else {0.0: without}
        recommender.refit_item_prior(train, item_prior_weight=1.0, item_prior_kind=kind)
        current = 1.0
        for weight in (w for w in grid if w != 0.0):
            _scale_prior(estimator, weight / current)
            current = weight
            scores[weight] = validation_ndcg()
        best = max(scores, key=lambda w: (scores[w], -w))
        for _ in range(MAX_GRID_EXTENSIONS):  # the best is the largest tried: try larger
            if best <= 0.0 or best != max(scores):
                break
            weight = best * 2.5
            _scale_prior(estimator, weight / current)
            current = weight
            scores[weight] = validation_ndcg()
            best = max(scores, key=lambda w: (scores[w], -w))

    def best_of(kind: str) -> tuple[float, float]:
        scores = by_kind[kind]
        weight = max(scores, key=lambda w: (scores[w], -w))
        return scores[weight], weight

    kind = max(kinds, key=lambda k: (best_of(k)[0], -kinds.index(k)))
    best = best_of(kind)[1]
    if best > 0.0 and kind == kinds[-1]:  # the prior fitted last: rescale it
        _scale_prior(estimator, best / current)
        estimator.set_params(item_prior_weight=best)
    else:
        recommender.refit_item_prior(train, item_prior_weight=best, item_prior_kind=kind)
    recipe.params["item_prior_weight"] = best
    recipe.chosen["item_prior_weight"] = best
    if best > 0.0:
        recipe.params["item_prior_kind"] = kind
        recipe.chosen["item_prior_kind"] = kind
    recipe.chosen["validation_ndcg@10_by_prior_weight"] = {
        k: {str(w): v for w, v in scores.items()} for k, scores in by_kind.items()}
    return by_kind[kind]


def train_with_auto_recipe(recommender: Any, train: Any, valid: Any | None,
                           recipe: AutoRecipe) -> None:
    """After ``recommender.train``: choose the prior weight on ``valid`` (when given and the
    recipe asks for it) and print the recipe to stderr.

    ``train`` and ``valid`` are the training and validation tables (or datasets).
    """
    def table(data: Any) -> Any:
        return data.fetch_data() if hasattr(data, "fetch_data") else data

    if valid is not None and recipe.tune_prior_weight:
        train_rows = table(train)
        choose_prior_weight(recommender, train_rows, train_rows, table(valid), recipe)
    elif recipe.tune_prior_weight:
        recipe.chosen["item_prior_weight"] = recipe.params["item_prior_weight"]
        recipe.reasons["item_prior_weight"] = "no validation rows to choose it on: no prior"
    print(recipe.to_text(), file=sys.stderr, flush=True)
