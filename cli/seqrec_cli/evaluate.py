"""``seqrec evaluate``: leave-one-out evaluation of a trained model or an ONNX artifact.

Wire it into the main CLI with::

    sub = parser.add_subparsers(dest="command")
    add_evaluate_parser(sub)          # sets func=run_evaluate
    args = parser.parse_args(); sys.exit(args.func(args))
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from seqrec_runtime.artifact import FORMAT
from seqrec_runtime.errors import SeqrecError
from seqrec_trainer.data.formats import LOADERS, load_interactions
from seqrec_trainer.errors import InvalidParameterError
from seqrec_trainer.evaluation.baselines import fit_baselines
from seqrec_trainer.evaluation.holdout import (
    compare_with_baselines,
    evaluate_with_baselines,
    train_and_evaluate,
)
from seqrec_trainer.evaluation.protocols import PROTOCOLS
from seqrec_trainer.evaluation.split import leave_one_out_split

ARTIFACT_FORMAT = FORMAT  # the runtime owns the artifact format


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` sub-command to an ``argparse`` sub-parsers object."""
    parser = subparsers.add_parser(
        "evaluate",
        help="leave-one-out evaluation (full and/or sampled ranking) of a model or artifact",
        description=(
            "Split --data leave-one-out per user (last item = test, second to last = "
            "validation) and rank each user's test item given the rest of the history. "
            "The model must have been trained on the same split's train rows only (a warning "
            "says when it knows items that only the test rows hold); --train trains one that "
            "is. Popularity, an item-item baseline and the transitions baseline (items near "
            "the latest ones in training histories), fitted on the same training rows, are "
            "reported beside the model."
        ),
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="trainer model directory or exported artifact directory (required unless "
        "--train)",
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help="split --data, train --recipe on its training rows (validation item for early "
        "stopping) and evaluate that model: one command from a file to honest numbers",
    )
    parser.add_argument(
        "--recipe",
        default="auto",
        help="with --train: auto (default, chosen from the data), a preset name (ml-1m, "
        "sasrec-paper) or plain",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="with --train: override a recipe parameter (JSON value), e.g. epochs=5 "
        "(default: none)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="with --train: also save the trained model to this directory (default: none)",
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the popularity, item-item and transitions baselines",
    )
    parser.add_argument("--data", required=True, type=Path, help="interaction file")
    parser.add_argument(
        "--format",
        choices=sorted(LOADERS),
        default=None,
        help="file format (default: guessed from the file name)",
    )
    parser.add_argument("--protocol", choices=[*PROTOCOLS, "both"], default="both",
                        help="full: rank the test item among all items; sampled: among "
                        "--n-negatives sampled ones; both (default: both)")
    parser.add_argument(
        "--ks", type=parse_ks, default="10,20", help="comma-separated cutoffs (default 10,20)"
    )
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the sampled negatives (default: 0)")
    parser.add_argument(
        "--n-negatives",
        type=int,
        default=100,
        help="negatives per user for the sampled protocol (default 100)",
    )
    parser.add_argument("--batch-size", type=int, default=1024,
                        help="users scored per batch (default: 1024)")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the results as JSON to OUT (default: none)",
    )
    from seqrec_trainer.data.columns import add_column_flags

    add_column_flags(parser, "--data")
    parser.set_defaults(func=run_evaluate)
    return parser


def parse_ks(text: str) -> tuple[int, ...]:
    """``"10,20"`` -> ``(10, 20)``."""
    try:
        ks = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--ks must look like 10,20; got {text!r}") from exc
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"--ks needs cutoffs >= 1; got {text!r}")
    return ks


def is_artifact_dir(path: Path) -> bool:
    """True when ``path`` holds a manifest.json whose format is the ONNX artifact's."""
    manifest = Path(path) / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text()).get("format") == ARTIFACT_FORMAT
    except (ValueError, AttributeError):
        return False


def load_model(path: Path) -> Any:
    """Load an artifact with ``seqrec_runtime.load`` or a model with
    ``SequentialRecommender.load`` (both imported only here)."""
    if is_artifact_dir(path):
        import seqrec_runtime

        return seqrec_runtime.load(path)
    from seqrec_trainer import SequentialRecommender

    return SequentialRecommender.load(path)


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Plain-text table: one row per protocol, one column per metric and count."""
    if not results:
        return "(no results)"
    metric_keys = [k for k in next(iter(results.values())) if "@" in k or k == "MRR"]
    headers = ["protocol", *metric_keys, "users", "skipped"]
    rows = []
    for name, res in results.items():
        values = [res[k] for k in metric_keys]
        cells = ["nan" if math.isnan(v) else f"{v:.4f}" for v in values]
        rows.append([name, *cells, str(res["n_users"]), str(res["n_skipped"])])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=5"]`` -> ``{"epochs": 5}`` (values read as JSON, else as text)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise InvalidParameterError(f"--set expects PARAM=VALUE, got {pair!r}")
        try:
            overrides[key] = json.loads(text)
        except ValueError:
            overrides[key] = text
    return overrides


def seen_test_warning(model: Any, split: Any) -> str | None:
    """A warning when ``model`` has seen the split's test items, else ``None``.

    Evidence: the model knows items that occur only in the test rows, or (trainer models)
    it was trained on more rows than the split's training rows.
    """
    import numpy as np

    known = np.asarray(model.item_ids_)
    earlier = np.concatenate([split.train["ITEM_ID"], split.valid["ITEM_ID"]])
    only_test = np.setdiff1d(split.test["ITEM_ID"], earlier)
    leaked: Any = np.intersect1d(only_test, known) if len(only_test) and len(known) else []
    summary = getattr(model, "training_summary_", None) or {}
    n_trained = summary.get("n_interactions")
    n_train = len(split.train["USER_ID"])
    reasons = []
    if len(leaked):
        reasons.append(f"it knows {len(leaked)} item(s) that only the test rows hold "
                       f"(e.g. {getattr(leaked[0], 'item', lambda: leaked[0])()!r})")
    if n_trained is not None and n_trained > n_train:
        reasons.append(f"it was trained on {n_trained} rows, more than the split's {n_train} "
                       "training rows")
    if not reasons:
        return None
    return ("WARNING: the model has seen the test items: " + "; ".join(reasons) + ". Its "
            "scores are optimistic. Train on the split's training rows (seqrec evaluate "
            "--train does it in one command).")


def _print_results(results: dict[str, dict[str, dict[str, Any]]], names: dict[str, str]) -> None:
    for name, per_protocol in results.items():
        label = "model" if name == "model" else f"{name} ({names.get(name, name)})"
        print(f"== {label}")
        print(format_table(per_protocol))


def _read_data(args: argparse.Namespace) -> Any:
    """``--data`` read by its format's loader, or as the column flags / --schema say."""
    from seqrec_trainer.data.columns import column_mapping, read_interactions

    from .inputs import require_file

    require_file(str(args.data), "--data")
    if column_mapping(args) or getattr(args, "schema", None):
        return read_interactions(args.data, args).fetch_data()
    return load_interactions(args.data, args.format)


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``seqrec evaluate``; prints the table and returns the exit code."""
    ks = parse_ks(args.ks) if isinstance(args.ks, str) else tuple(args.ks)
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    train = getattr(args, "train", False)
    if (args.model is None) == (not train):
        print("seqrec evaluate: error: give --model MODEL or --train (not both)", file=sys.stderr)
        return 2
    try:
        data = _read_data(args)
        overrides = parse_sets(getattr(args, "set", []))
    except (SeqrecError, OSError) as exc:
        print(f"seqrec evaluate: error: {exc}", file=sys.stderr)
        return 2
    split = leave_one_out_split(data)
    n_test = len(split.test["USER_ID"])
    print(
        f"data: {args.data} | {len(data['USER_ID'])} rows | leave-one-out: "
        f"{len(split.train['USER_ID'])} train rows, {n_test} valid/test users"
    )
    with_baselines = not getattr(args, "no_baselines", False)
    baselines = fit_baselines(split.train) if with_baselines else []
    if train:
        trained = train_and_evaluate(split, getattr(args, "recipe", "auto"), overrides,
                                     ks, protocols, baselines=baselines)
        model = trained["recommender"]
        print(f"trained in {trained['train_seconds']:.1f} s on {len(split.train['USER_ID'])} "
              "rows (validation item for early stopping)")
        output = getattr(args, "output", None)
        if output is not None:
            model.save(output)
            if trained["recipe"] is not None:
                trained["recipe"].save(Path(output) / "auto_recipe.json")
    else:
        model = load_model(args.model)
        warning = seen_test_warning(model, split)
        if warning:
            print(warning, file=sys.stderr)
    everything = evaluate_with_baselines(model, split, "test", protocols, ks, baselines,
                                         args.seed, args.n_negatives, args.batch_size)
    results = everything["model"]
    _print_results(everything, {b.name: b.description for b in baselines})
    for name, res in results.items():
        if res["n_skipped"]:
            print(
                f"{name}: skipped {res['n_skipped_unknown_target']} user(s) whose test item "
                f"the model does not know, {res['n_skipped_no_history']} without history"
            )
    verdict = []
    if baselines:
        main_protocol = "full" if "full" in results else protocols[0]
        metric = "NDCG@10" if 10 in ks else f"NDCG@{ks[0]}"
        verdict = compare_with_baselines({k: v[main_protocol] for k, v in everything.items()},
                                         metric)
        for line in verdict:
            print(f"{main_protocol}: {line}")
    if args.json is not None:
        payload = {
            "model": str(args.model) if args.model is not None else "trained (--train)",
            "data": str(args.data),
            "seed": args.seed,
            "results": results,
            "baselines": {k: v for k, v in everything.items() if k != "model"},
            "verdict": verdict,
        }
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m seqrec_cli.evaluate evaluate ...``."""
    parser = argparse.ArgumentParser(prog="seqrec")
    add_evaluate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
