"""seqrec command line: train, export, refit-prior, evaluate, recommend.

``train``, ``export`` and ``refit-prior`` live here; ``evaluate`` in :mod:`.evaluate`,
``recommend`` in :mod:`.recommend`; the input-file checks they share in :mod:`.inputs`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from seqrec_trainer.data.columns import MAPPING_HINT, add_column_flags, read_interactions
from seqrec_trainer.distributed import is_main_process
from seqrec_trainer.distributed.launcher import add_launch_flags, join_torchrun_job, launch_from_cli
from seqrec_trainer.errors import InvalidParameterError, SeqrecError

from .inputs import FORMATS, InputNotFoundError, require_directory, require_file
from .recommend import add_recommend_parser, load_any, run_recommend

__all__ = ["InputNotFoundError", "build_parser", "export_summary", "load_any", "main",
           "require_directory", "require_file"]

#: The item-prior parameters (``seqrec refit-prior`` takes only these).
_PRIOR_PARAMS = ("item_prior_weight", "item_prior_l2", "item_prior_kind", "item_prior_rank")


def _check_model_output(output: str, overwrite: bool, source: str | None = None) -> None:
    """Refuse an ``--output`` that holds anything (unless ``overwrite`` and it is a saved
    model), checked before training so a long training never ends in a refused save, or
    a directory holding the input model ``source``."""
    from seqrec_trainer.persistence import check_model_output

    if source is not None and Path(output).resolve() in Path(source).resolve().parents:
        raise InvalidParameterError(
            f"--output {output} contains the model directory {source}; writing there would "
            "delete it. Choose another directory"
        )
    check_model_output(output, what="--output")
    target = Path(output)
    if not overwrite and target.is_dir() and any(target.iterdir()):
        raise InvalidParameterError(
            f"--output {output} already holds a saved model; pass --overwrite to replace it, "
            "or choose another directory"
        )


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", required=True, metavar="DIR",
                   help="model directory to write (new or empty; an existing saved model "
                   "only with --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the saved model already in --output (default: refuse)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from seqrec_trainer.estimator.base import SASRecEstimatorBase
    from seqrec_trainer.presets import PRESETS

    from .flags import add_estimator_flags

    default_max_len = _signature_default(SASRecEstimatorBase, "max_len")
    p = sub.add_parser("train", help="train a SASRec model and save it",
                       description="Train a SASRec model on --interactions and save it to "
                       "--output. Estimator parameters default to the --preset's values, "
                       "else to the estimator's own defaults.")
    p.add_argument("--interactions", required=True, metavar="FILE",
                   help=f"CSV/Parquet with USER_ID, ITEM_ID, TIMESTAMP[, OUTCOME]{FORMATS}")
    p.add_argument("--items", metavar="FILE",
                   help="CSV/Parquet item catalogue with ITEM_ID (default: none, the items "
                   "of --interactions)")
    p.add_argument("--valid", metavar="FILE",
                   help="validation rows, one held-out interaction per user, same format "
                   "(default: none: no early stopping, the last epoch is kept)")
    add_column_flags(p, "--interactions and --valid")
    _add_output(p)
    p.add_argument("--estimator", choices=["classifier", "regressor"], default="classifier",
                   help="classifier (next-item ranking) or regressor (fits OUTCOME) "
                   "(default: classifier)")
    p.add_argument("--max-len", type=int, default=None,
                   help=f"longest history read (default: the preset's, else {default_max_len})")
    p.add_argument("--preset",
                   help="named hyperparameter preset, overridden by flags: one of "
                   f"{', '.join(sorted(PRESETS))}, or 'auto': chosen from the shape of "
                   "--interactions (docs/quality.md) (default: none)")
    p.add_argument("--verbose", type=int, default=None,
                   help="0 silent, 1 progress bar, 2 also one log line per epoch (default: "
                   "a progress bar on a terminal, silent otherwise)")
    add_estimator_flags(p)
    add_launch_flags(p)  # --nproc-per-node N: data-parallel training under torchrun


def _signature_default(cls: Any, name: str) -> Any:
    import inspect

    return inspect.signature(cls.__init__).parameters[name].default


def _run_train(args: argparse.Namespace) -> int:
    from seqrec_trainer import (
        ItemsDataset,
        SASRecClassifierEstimator,
        SASRecRegressorEstimator,
        SequentialRecommender,
        SequentialScorer,
    )

    from .flags import OWN_FLAGS

    for path, flag in ((args.interactions, "--interactions"), (args.valid, "--valid"),
                       (args.items, "--items"), (args.schema, "--schema")):
        require_file(path, flag)
    if args.nproc_per_node is not None:  # this command again, on N ranks under torchrun
        return launch_from_cli(args.command_line, args)
    join_torchrun_job()  # under torchrun: join the process group (DDP training)
    _check_model_output(args.output, args.overwrite)
    cls = SASRecClassifierEstimator if args.estimator == "classifier" else SASRecRegressorEstimator
    names = [n for n in cls._param_names() if n not in OWN_FLAGS]
    params = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    interactions = read_interactions(args.interactions, args)
    valid = read_interactions(args.valid, args) if args.valid else None
    recipe = None
    if args.preset == "auto":  # read from the training table; flags still win
        from seqrec_trainer.auto_recipe import auto_recipe

        recipe = auto_recipe(interactions.fetch_data())
        params = {**recipe.params, **params}
    elif args.preset:
        from seqrec_trainer.presets import get_preset

        params = {**get_preset(args.preset), **params}
    preset_max_len = int(params.pop("max_len", _signature_default(cls, "max_len")))
    max_len = args.max_len if args.max_len is not None else preset_max_len
    estimator = cls(max_len=max_len, verbose=args.verbose, **params)
    recommender = SequentialRecommender(SequentialScorer(estimator), max_len=max_len)
    recommender.train(
        items_ds=ItemsDataset(args.items) if args.items else None,
        interactions_ds=interactions,
        valid_interactions_ds=valid,
    )
    if recipe is not None:  # prior weight on --valid, recipe printed and saved
        from seqrec_trainer.auto_recipe import train_with_auto_recipe

        train_with_auto_recipe(recommender, interactions, valid, recipe)
    recommender.save(args.output)
    if not is_main_process():  # DDP: rank 0 saved the model and reports
        return 0
    if recipe is not None:
        recipe.save(Path(args.output) / "auto_recipe.json")
    print(json.dumps({"saved": str(args.output), **recommender.training_summary_}, indent=1))
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    from seqrec_export.config import DEFAULT_ATOL, DEFAULT_TOP_K, FALLBACK_OPSET, PREFERRED_OPSET

    p = sub.add_parser("export", help="export a saved model to a validated ONNX artifact",
                       description="Export a saved model to an ONNX artifact, validated "
                       "against torch before it is written. Prints a short summary; the full "
                       "validation report is written to validation_report.json in the "
                       "artifact.")
    p.add_argument("model_dir", help="saved model directory (seqrec train --output)")
    p.add_argument("output_dir", help="artifact directory to write: new, empty, or a previous "
                   "artifact (replaced atomically only after validation)")
    p.add_argument("--opset", type=int, default=None,
                   help=f"ONNX opset, >= {FALLBACK_OPSET} (default: {PREFERRED_OPSET}, or "
                   f"{FALLBACK_OPSET} when onnxruntime cannot run {PREFERRED_OPSET})")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K,
                   help=f"k of the in-graph top-k graph, >= 1 (default: {DEFAULT_TOP_K}, "
                   "clipped to the catalogue)")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL,
                   help=f"largest accepted |onnx - torch| score difference (default: "
                   f"{DEFAULT_ATOL:g})")


def _run_export(args: argparse.Namespace) -> int:
    from seqrec_export import export_onnx

    require_directory(args.model_dir, "MODEL_DIR")
    out = export_onnx(args.model_dir, args.output_dir, opset=args.opset, top_k=args.top_k,
                      atol=args.atol)
    print(export_summary(Path(out)))
    return 0


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes / 1e3:.1f} kB"


def export_summary(artifact: Path) -> str:
    """A few lines on an exported artifact: validation, file sizes, where the report is."""
    manifest = json.loads((artifact / "manifest.json").read_text(encoding="utf-8"))
    report_path = artifact / "validation_report.json"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    k = manifest["graphs"]["topk"]["k"]
    files = sorted(p for p in artifact.iterdir() if p.is_file())
    sizes = ", ".join(f"{p.name} {_megabytes(p.stat().st_size)}" for p in files)
    total = sum(p.stat().st_size for p in files)
    return "\n".join([
        f"exported {artifact} (format version {manifest['format_version']}, "
        f"opset {manifest['opset']}, {manifest['n_items']} items)",
        f"validated against torch on {len(report['cases'])} input shapes: max |onnx - torch| "
        f"{report['max_abs_score_diff']:.2g} (atol {report['atol']:g}), top-{k} identical "
        f"for {100 * report['topk_agreement']:.1f} % of rows (others differ only between "
        "tied scores)",
        f"files: {sizes}; total {_megabytes(total)}",
        f"full validation report: {report_path}",
    ])


def _add_refit_prior(sub: argparse._SubParsersAction) -> None:
    from .flags import add_estimator_flags

    p = sub.add_parser("refit-prior", help="refit only the item prior of a saved model "
                       "(the trained network is kept) and save the result")
    p.add_argument("model_dir", help="saved model directory")
    p.add_argument("--interactions", required=True, metavar="FILE",
                   help=f"CSV/Parquet of the training rows (USER_ID, ITEM_ID, TIMESTAMP){FORMATS}")
    add_column_flags(p)
    _add_output(p)
    add_estimator_flags(p, only=_PRIOR_PARAMS, show_defaults=False,
                        title="item prior parameters (default: the saved model's value)")


def _run_refit_prior(args: argparse.Namespace) -> int:
    from seqrec_trainer import SequentialRecommender

    require_directory(args.model_dir, "MODEL_DIR")
    require_file(args.interactions, "--interactions")
    require_file(args.schema, "--schema")
    params = {k: getattr(args, k) for k in _PRIOR_PARAMS if getattr(args, k) is not None}
    _check_model_output(args.output, args.overwrite, source=args.model_dir)
    recommender = SequentialRecommender.load(args.model_dir)
    recommender.refit_item_prior(read_interactions(args.interactions, args), **params)
    recommender.save(args.output)
    estimator = recommender.scorer.estimator
    print(json.dumps({"saved": str(args.output),
                      **{k: getattr(estimator, k) for k in _PRIOR_PARAMS}}, indent=1))
    return 0


def _version() -> str:
    from seqrec_trainer import __version__

    return f"seqrec {__version__}"


def build_parser() -> argparse.ArgumentParser:
    """The ``seqrec`` argument parser."""
    parser = argparse.ArgumentParser(prog="seqrec", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_export(sub)
    _add_refit_prior(sub)
    add_recommend_parser(sub)
    try:
        from .evaluate import add_evaluate_parser

        add_evaluate_parser(sub)
    except ImportError:  # evaluation extras missing
        pass
    return parser


def _warnings_to_stderr(command: str) -> Any:
    """A ``warnings.showwarning`` that names the user's command, not the launcher script."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"seqrec {command}: warning: {message} ({category.__name__})",
              file=file or sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqrec`` console script."""
    # seqrec's own progress at INFO; other libraries (the ONNX exporter's passes log
    # hundreds of INFO lines) only from WARNING up.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("seqrec").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    handlers = {"train": _run_train, "export": _run_export, "recommend": run_recommend,
                "refit-prior": _run_refit_prior}
    previous = warnings.showwarning
    warnings.showwarning = _warnings_to_stderr(args.command)
    try:
        if args.command == "evaluate":
            from .evaluate import run_evaluate

            return int(run_evaluate(args) or 0)
        return handlers[args.command](args)
    except (SeqrecError, OSError) as exc:  # OSError: unreadable/unwritable paths
        message = str(exc)
        if "missing required column" in message:
            message += ". " + MAPPING_HINT
        print(f"seqrec {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    raise SystemExit(main())
