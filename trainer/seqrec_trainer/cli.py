"""``seqrec`` command line: train, export, refit-prior, evaluate, recommend."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .distributed import is_main_process
from .distributed.launcher import add_launch_flags, join_torchrun_job, launch_from_cli
from .errors import InvalidParameterError, SeqrecError

_PRIOR_FLAGS = {"item_prior_weight": float, "item_prior_l2": float, "item_prior_kind": str,
                "item_prior_rank": int}


_HYPERPARAMS = {
    "hidden_units": int, "num_blocks": int, "num_heads": int, "dropout_rate": float,
    "num_negatives": int, "learning_rate": float, "epochs": int, "batch_size": int,
    "optimizer_name": str, "loss_fn_name": str, "weight_decay": float,
    "early_stopping_patience": int, "device": str, "random_state": int, "monitor": str,
    "label_smoothing": float, "lr_schedule": str, "warmup_epochs": float,
    "history_windows": str, "precision": str, **_PRIOR_FLAGS,
}


def _check_model_output(output: str, source: str | None = None) -> None:
    """Refuse an ``--output`` whose replacement would destroy something else than a saved
    seqrec model (checked before training, so a long training never ends in a refused
    save), or a directory holding the input model ``source``."""
    from .persistence import check_model_output

    if source is not None and Path(output).resolve() in Path(source).resolve().parents:
        raise InvalidParameterError(
            f"--output {output} contains the model directory {source}; writing there would "
            "delete it. Choose another directory"
        )
    check_model_output(output, what="--output")


_FORMATS = " or a SASRec .txt / MovieLens .dat / MovieLens ratings.csv file"


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a SASRec model and save it")
    p.add_argument("--interactions", required=True, help="CSV/Parquet with USER_ID, ITEM_ID, "
                   f"TIMESTAMP[, OUTCOME]{_FORMATS}")
    p.add_argument("--items", help="optional CSV/Parquet item catalogue (ITEM_ID)")
    p.add_argument("--valid", help="optional validation rows (one per user), same formats")
    p.add_argument("--schema", help="optional client schema YAML for --interactions/--valid")
    p.add_argument("--output", required=True, help="model directory to write")
    p.add_argument("--estimator", choices=["classifier", "regressor"], default="classifier")
    p.add_argument("--max-len", type=int, default=None,
                   help="longest history read (default: the preset's, else 50)")
    p.add_argument("--preset", help="named hyperparameter preset (overridden by flags)")
    for name, kind in _HYPERPARAMS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)
    p.add_argument("--verbose", type=int, default=1)
    add_launch_flags(p)  # --nproc-per-node N: data-parallel training under torchrun


def _run_train(args: argparse.Namespace) -> int:
    from . import (
        InteractionsDataset,
        ItemsDataset,
        SASRecClassifierEstimator,
        SASRecRegressorEstimator,
        SequentialRecommender,
        SequentialScorer,
    )

    if args.nproc_per_node is not None:  # this command again, on N ranks under torchrun
        return launch_from_cli(args.command_line, args)
    join_torchrun_job()  # under torchrun: join the process group (DDP training)
    _check_model_output(args.output)
    cls = SASRecClassifierEstimator if args.estimator == "classifier" else SASRecRegressorEstimator
    params = {k: getattr(args, k) for k in _HYPERPARAMS if getattr(args, k) is not None}
    if args.preset:
        from .presets import get_preset

        params = {**get_preset(args.preset), **params}
    preset_max_len = int(params.pop("max_len", 50))  # a preset's, else the default
    max_len = args.max_len if args.max_len is not None else preset_max_len
    estimator = cls(max_len=max_len, verbose=args.verbose, **params)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=max_len)
    recommender.train(
        items_ds=ItemsDataset(args.items) if args.items else None,
        interactions_ds=InteractionsDataset(args.interactions, args.schema),
        valid_interactions_ds=InteractionsDataset(args.valid, args.schema) if args.valid else None,
    )
    recommender.save(args.output)
    if not is_main_process():  # DDP: rank 0 saved the model and reports
        return 0
    print(json.dumps({"saved": str(args.output), **recommender.training_summary_}, indent=1))
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a saved model to a validated ONNX artifact")
    p.add_argument("model_dir", help="saved model directory (seqrec train --output)")
    p.add_argument("output_dir", help="artifact directory to write: new, empty, or a previous "
                   "artifact (replaced atomically only after validation)")
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset (default: 23, or 18 when onnxruntime cannot run 23)")
    p.add_argument("--top-k", type=int, default=100,
                   help="k of the in-graph top-k graph (default 100, clipped to the catalogue)")
    p.add_argument("--atol", type=float, default=1e-4,
                   help="largest accepted |onnx - torch| score difference (default 1e-4)")


def _run_export(args: argparse.Namespace) -> int:
    from seqrec_export import export_onnx

    out = export_onnx(args.model_dir, args.output_dir, opset=args.opset, top_k=args.top_k,
                      atol=args.atol)
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    print(json.dumps({"artifact": str(out), "opset": manifest["opset"],
                      "validation": manifest["training"]["export_validation"]}, indent=1))
    return 0


def _add_refit_prior(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("refit-prior", help="refit only the item prior of a saved model "
                       "(the trained network is kept) and save the result")
    p.add_argument("model_dir", help="saved model directory")
    p.add_argument("--interactions", required=True,
                   help=f"CSV/Parquet of the training rows (USER_ID, ITEM_ID, TIMESTAMP){_FORMATS}")
    p.add_argument("--schema", help="optional client schema YAML for --interactions")
    p.add_argument("--output", required=True, help="model directory to write")
    for name, kind in _PRIOR_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)


def _run_refit_prior(args: argparse.Namespace) -> int:
    from . import InteractionsDataset, SequentialRecommender

    params = {k: getattr(args, k) for k in _PRIOR_FLAGS if getattr(args, k) is not None}
    _check_model_output(args.output, source=args.model_dir)
    recommender = SequentialRecommender.load(args.model_dir)
    recommender.refit_item_prior(InteractionsDataset(args.interactions, args.schema), **params)
    recommender.save(args.output)
    estimator = recommender.scorer.estimator
    print(json.dumps({"saved": str(args.output),
                      **{k: getattr(estimator, k) for k in _PRIOR_FLAGS}}, indent=1))
    return 0


def _add_recommend(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="top-k items per user from a model dir or artifact",
                       description="Write USER_ID,RANK,ITEM_ID,SCORE rows (CSV): each user's "
                       "top-k items, best first, with the model's score of each.")
    p.add_argument("model", help="saved model directory or exported artifact directory")
    p.add_argument("--interactions", required=True,
                   help=f"CSV/Parquet of users' histories{_FORMATS}")
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
    from .recommender import SequentialRecommender

    return SequentialRecommender.load(path)


def _run_recommend(args: argparse.Namespace) -> int:
    from .data.datasets import read_table

    model = load_any(args.model)
    table = read_table(args.interactions, interaction_formats=True)
    users, recs = model.recommend(
        table, top_k=args.top_k, sampling_temperature=args.temperature,
        exclude_seen=args.exclude_seen, random_state=args.seed, return_user_ids=True,
    )
    scores = _recommended_scores(model, table, recs)
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


def _recommended_scores(model: Any, table: Any, recs: np.ndarray) -> np.ndarray:
    """The model's score of each recommended item (rows and order of ``recs``)."""
    import warnings

    with warnings.catch_warnings():  # recommend already warned (cold users...)
        warnings.simplefilter("ignore")
        scores = model.score_items(table)
    columns = {item: j for j, item in enumerate(model.item_ids_.tolist())}
    index = np.vectorize(columns.__getitem__, otypes=[np.int64])(recs) if recs.size else recs
    return np.take_along_axis(scores, index.astype(np.int64), axis=1)


def build_parser() -> argparse.ArgumentParser:
    """The ``seqrec`` argument parser."""
    parser = argparse.ArgumentParser(prog="seqrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_export(sub)
    _add_refit_prior(sub)
    _add_recommend(sub)
    try:
        from .evaluation.cli import add_evaluate_parser

        add_evaluate_parser(sub)
    except ImportError:  # evaluation extras missing
        pass
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqrec`` console script."""
    # seqrec's own progress at INFO; other libraries (the ONNX exporter's passes log
    # hundreds of INFO lines) only from WARNING up.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("seqrec").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    handlers = {"train": _run_train, "export": _run_export, "recommend": _run_recommend,
                "refit-prior": _run_refit_prior}
    try:
        if args.command == "evaluate":
            from .evaluation.cli import run_evaluate

            return int(run_evaluate(args) or 0)
        return handlers[args.command](args)
    except (SeqrecError, OSError) as exc:  # OSError: unreadable/unwritable paths
        print(f"seqrec {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    np.set_printoptions(linewidth=120)
    raise SystemExit(main())
