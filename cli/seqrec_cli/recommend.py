"""``seqrec recommend``: top-k items per user from a saved model or an exported artifact."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from seqrec_trainer.data.columns import add_column_flags, read_interactions

from .inputs import FORMATS, require_directory, require_file


def add_recommend_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``recommend`` command to ``seqrec``'s subparsers."""
    p = sub.add_parser("recommend", help="top-k items per user from a model dir or artifact",
                       description="Write USER_ID,RANK,ITEM_ID,SCORE rows (CSV): each user's "
                       "top-k items, best first, with the model's score of each.")
    p.add_argument("model", help="saved model directory or exported artifact directory")
    p.add_argument("--interactions", required=True, metavar="FILE",
                   help=f"CSV/Parquet of users' histories{FORMATS}")
    add_column_flags(p)
    p.add_argument("--top-k", type=int, default=10, help="items per user (default: 10)")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="0 = deterministic top-k; > 0 samples items from softmax(scores / T) "
                   "(default: 0)")
    seen = p.add_mutually_exclusive_group()
    seen.add_argument("--include-seen", dest="exclude_seen", action="store_false",
                      help="also recommend items already in the user's history (for "
                      "re-consumption catalogues: music, groceries); by default they are "
                      "left out")
    seen.add_argument("--exclude-seen", dest="exclude_seen", action="store_true",
                      help="leave out items already in the user's history (the default)")
    p.set_defaults(exclude_seen=True)
    p.add_argument("--seed", type=int, default=None,
                   help="random seed of the sampling (default: none, a fresh draw)")
    p.add_argument("--output", help="CSV file to write (default: standard output)")


def load_any(path: str | Path):
    """A runtime for an artifact directory, a trainer recommender for a model directory."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        import seqrec_runtime

        return seqrec_runtime.load(path)
    from seqrec_trainer.recommender import SequentialRecommender

    return SequentialRecommender.load(path)


def run_recommend(args: argparse.Namespace) -> int:
    """Run ``seqrec recommend``: write each user's top-k items (CSV)."""
    require_directory(args.model, "MODEL")
    require_file(args.interactions, "--interactions")
    require_file(args.schema, "--schema")
    model = load_any(args.model)
    table = read_interactions(args.interactions, args).fetch_data()
    users, recs = model.recommend(
        table, top_k=args.top_k, sampling_temperature=args.temperature,
        exclude_seen=args.exclude_seen, random_state=args.seed, return_user_ids=True,
    )
    scores = _recommended_scores(model, table, users, recs)
    lines = ["USER_ID,RANK,ITEM_ID,SCORE"]
    for user, row, row_scores in zip(users, recs, scores, strict=True):
        lines.extend(f"{user},{r + 1},{item},{score:.6g}"
                     for r, (item, score) in enumerate(zip(row, row_scores, strict=True)))
    text = "\n".join(lines) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


#: Scores computed per chunk of users by ``seqrec recommend`` (float32 cells, ~256 MB).
SCORE_CELLS_PER_CHUNK = 2**26


def _recommended_scores(model: Any, table: dict[str, np.ndarray], users: np.ndarray,
                        recs: np.ndarray) -> np.ndarray:
    """The model's score of each recommended item (rows and order of ``recs``), scoring a
    chunk of users at a time so a large catalogue never needs every user's full row."""
    from seqrec_runtime.table import USER_ID

    columns = {item: j for j, item in enumerate(model.item_ids_.tolist())}
    index = np.vectorize(columns.__getitem__, otypes=[np.int64])(recs) if recs.size else recs
    index = index.astype(np.int64)
    out = np.empty(recs.shape, dtype=np.float32)
    step = max(1, SCORE_CELLS_PER_CHUNK // max(1, len(columns)))
    row_users = np.asarray(table[USER_ID])
    with warnings.catch_warnings():  # recommend already warned (cold users...)
        warnings.simplefilter("ignore")
        for start in range(0, len(users), step):
            chunk = users[start:start + step]
            rows = np.isin(row_users, chunk) if len(chunk) < len(users) else slice(None)
            scores = model.score_items({k: np.asarray(v)[rows] for k, v in table.items()})
            out[start:start + step] = np.take_along_axis(scores, index[start:start + step], 1)
    return out
