"""Offline evaluation of sequential recommenders: leave-one-out split, full and sampled
ranking protocols, metrics and fast readers for common dataset formats.

See ``docs/evaluation.md`` for the exact rules. Baselines beside a model (popularity,
item-item) and split + train + evaluate in one call: ``docs/quality.md``.
"""

from ..data.formats import (
    DataFileError,
    load_interactions,
    load_movielens_csv,
    load_movielens_dat,
    load_sasrec_txt,
)
from .baselines import ItemItemBaseline, PopularityBaseline, TransitionsBaseline, fit_baselines
from .holdout import compare_with_baselines, evaluate_with_baselines, train_and_evaluate
from .metrics import (
    hit_rate_at_k,
    mrr,
    ndcg_at_k,
    pessimistic_ranks,
    summarize,
)
from .protocols import PROTOCOLS, TargetRanks, compute_ranks, evaluate, evaluate_many
from .split import LeaveOneOutSplit, concat_histories, leave_one_out_split

__all__ = [
    "PROTOCOLS",
    "DataFileError",
    "ItemItemBaseline",
    "TransitionsBaseline",
    "PopularityBaseline",
    "compare_with_baselines",
    "evaluate_with_baselines",
    "fit_baselines",
    "train_and_evaluate",
    "LeaveOneOutSplit",
    "TargetRanks",
    "compute_ranks",
    "concat_histories",
    "evaluate",
    "evaluate_many",
    "hit_rate_at_k",
    "leave_one_out_split",
    "load_interactions",
    "load_movielens_csv",
    "load_movielens_dat",
    "load_sasrec_txt",
    "mrr",
    "ndcg_at_k",
    "pessimistic_ranks",
    "summarize",
]
