"""Named hyperparameter presets (chosen on validation items only, never on test items).

``"ml-1m"``: the recommended recipe for MovieLens-1M-like data (long histories, a few
thousand items): full softmax cross-entropy ("SASRec+"), max_len 200, hidden 128, 3
blocks, dropout 0.1, AdamW with weight decay 0.1, every interaction of long histories used
(``history_windows="all"``), warm-up + cosine decay, bfloat16 autocast in the transformer
blocks where the hardware computes bfloat16 natively and float32 elsewhere
(``precision="auto"``), checkpoint by validation NDCG@10, and an item-item
co-occurrence prior (EASE, weight 5, lambda 1000) added to the logits from the user's whole
history. Each change from the previous recipe was chosen on the validation item
(docs/tuning-history.md; the prior by validation sampled HR@10 under a full-ranking
NDCG@10 constraint); the numbers are reproduced by ``make bench-quality``.

``"sasrec-paper"``: the original paper's BCE configuration, kept as a baseline.

``"auto"`` is not a fixed table: it reads the training data
(:func:`seqrec_trainer.auto_recipe.auto_recipe`, ``SASRecClassifierEstimator.from_data``,
``seqrec train --preset auto``).
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidParameterError

PRESETS: dict[str, dict[str, Any]] = {
    "ml-1m": {
        "hidden_units": 128,
        "num_blocks": 3,
        "num_heads": 1,
        "dropout_rate": 0.1,
        "max_len": 200,
        "history_windows": "all",
        "learning_rate": 0.005,
        "warmup_epochs": 1.0,
        "lr_schedule": "cosine",
        "batch_size": 128,
        "epochs": 30,
        "optimizer_name": "adamw",
        "weight_decay": 0.1,
        "precision": "auto",
        "loss_fn_name": "ce",
        "early_stopping_patience": 10,
        "monitor": "val_ndcg@10",
        "restore_best_weights": True,
        "item_prior_weight": 5.0,
        "item_prior_l2": 1000.0,
    },
    "sasrec-paper": {
        "hidden_units": 50,
        "num_blocks": 2,
        "num_heads": 1,
        "dropout_rate": 0.2,
        "max_len": 200,
        "learning_rate": 0.001,
        "batch_size": 128,
        "epochs": 200,
        "loss_fn_name": "bce",
        "num_negatives": 1,
        "early_stopping_patience": 10,
        "monitor": "val_ndcg@10",
        "restore_best_weights": True,
    },
}


def get_preset(name: str) -> dict[str, Any]:
    """A copy of preset ``name``'s parameters."""
    if name == "auto":
        raise InvalidParameterError(
            "preset 'auto' is chosen from the training data: use "
            "SASRecClassifierEstimator.from_data(interactions) or `seqrec train --preset auto`"
        )
    if name not in PRESETS:
        raise InvalidParameterError(f"unknown preset {name!r}; available: {sorted(PRESETS)}")
    return dict(PRESETS[name])
