"""Settings of the ``"transitions"`` item prior, on the VALIDATION item of each dataset.

The prior alone (:class:`seqrec_trainer.evaluation.baselines.TransitionsBaseline`) is
fitted on the training rows of the leave-one-out split, changing one setting at a time
around :data:`START` (the settings the study began from): the pair window, the pair decay,
the recency decay, the number of recent items read and the neighbours kept per item; the
last row is the library's current constants. Ranks the validation item
of at most ``--users`` users (a fixed random draw) by full ranking, seen items removed;
the test item is never read.

Run: ``python bench/studies/transition_prior_grid.py --dataset beauty [--users 8000]``.
Prints one line per setting with validation NDCG@10 / HR@10. Skips cleanly when
../shared/data is absent.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from seqrec_trainer.model.transition_prior import (
    NEIGHBORS,
    RECENCY_DECAY,
    RECENT_ITEMS,
    TRANSITION_DECAY,
    TRANSITION_WINDOW,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import SHARED_DATA  # noqa: E402
from quality import DATASETS  # noqa: E402

#: Where the one-at-a-time changes start.
START = {"window": 3, "decay": 0.5, "recency_decay": 0.5, "recent_items": 8, "neighbors": 50}
LIBRARY = {"window": TRANSITION_WINDOW, "decay": TRANSITION_DECAY,
           "recency_decay": RECENCY_DECAY, "recent_items": RECENT_ITEMS, "neighbors": NEIGHBORS}
GRID = [{}, {"window": 1}, {"window": 2}, {"window": 5}, {"decay": 0.3}, {"decay": 0.8},
        {"recency_decay": 0.3}, {"recency_decay": 0.7}, {"recent_items": 1},
        {"recent_items": 3}, {"neighbors": 20}, {"neighbors": 100}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="beauty")
    parser.add_argument("--users", type=int, default=8000)
    args = parser.parse_args()
    path = SHARED_DATA / DATASETS[args.dataset]
    if not path.exists():
        print(f"SKIP: {path} is absent")
        return 0
    from seqrec_trainer.evaluation import evaluate, leave_one_out_split, load_interactions
    from seqrec_trainer.evaluation.baselines import TransitionsBaseline

    split = leave_one_out_split(load_interactions(path))
    kept = np.random.default_rng(0).choice(np.unique(split.valid["USER_ID"]),
                                           min(args.users, len(split.valid["USER_ID"])),
                                           replace=False)
    valid_input = {k: v[np.isin(split.train["USER_ID"], kept)] for k, v in split.train.items()}
    valid = {k: v[np.isin(split.valid["USER_ID"], kept)] for k, v in split.valid.items()}
    print(f"{args.dataset}: {len(kept)} validation users, full ranking, seen items removed")
    for change in [*GRID, None]:
        settings = LIBRARY if change is None else {**START, **change}
        result = evaluate(TransitionsBaseline(split.train, **settings), valid_input, valid,
                          protocol="full", ks=(10,))
        label = ("library constants" if change is None else
                 ", ".join(f"{k}={v}" for k, v in change.items()) or "start")
        print(f"{label:<24} NDCG@10 {result['NDCG@10']:.4f}  HR@10 {result['HR@10']:.4f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
