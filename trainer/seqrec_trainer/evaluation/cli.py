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

from seqrec_runtime.errors import SeqrecError

from .loaders import LOADERS, load_interactions
from .protocols import PROTOCOLS, evaluate_many
from .split import leave_one_out_split

ARTIFACT_FORMAT = "seqrec-onnx-artifact"


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` sub-command to an ``argparse`` sub-parsers object."""
    parser = subparsers.add_parser(
        "evaluate",
        help="leave-one-out evaluation (full and/or sampled ranking) of a model or artifact",
        description=(
            "Split --data leave-one-out per user (last item = test, second to last = "
            "validation) and rank each user's test item given the rest of the history. "
            "The model must have been trained on the same split's train rows only."
        ),
    )
    parser.add_argument(
        "--model",
        required=True,
        type=Path,
        help="trainer model directory or exported artifact directory",
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
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled negatives")
    parser.add_argument(
        "--n-negatives",
        type=int,
        default=100,
        help="negatives per user for the sampled protocol (default 100)",
    )
    parser.add_argument("--batch-size", type=int, default=1024, help="users scored per batch")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the results as JSON to OUT",
    )
    from ..data.columns import add_column_flags

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


def _read_data(args: argparse.Namespace) -> Any:
    """``--data`` read by its format's loader, or as the column flags / --schema say."""
    from ..cli import require_file
    from ..data.columns import column_mapping, read_interactions

    require_file(str(args.data), "--data")
    if column_mapping(args) or getattr(args, "schema", None):
        return read_interactions(args.data, args).fetch_data()
    return load_interactions(args.data, args.format)


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``seqrec evaluate``; prints the table and returns the exit code."""
    ks = parse_ks(args.ks) if isinstance(args.ks, str) else tuple(args.ks)
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    try:
        data = _read_data(args)
    except (SeqrecError, OSError) as exc:
        print(f"seqrec evaluate: error: {exc}", file=sys.stderr)
        return 2
    split = leave_one_out_split(data)
    n_test = len(split.test["USER_ID"])
    print(
        f"data: {args.data} | {len(data['USER_ID'])} rows | leave-one-out: "
        f"{len(split.train['USER_ID'])} train rows, {n_test} valid/test users"
    )
    model = load_model(args.model)
    results = evaluate_many(
        model,
        split.test_input,
        split.test,
        protocols,
        ks,
        args.n_negatives,
        args.seed,
        args.batch_size,
    )
    print(format_table(results))
    for name, res in results.items():
        if res["n_skipped"]:
            print(
                f"{name}: skipped {res['n_skipped_unknown_target']} user(s) whose test item "
                f"the model does not know, {res['n_skipped_no_history']} without history"
            )
    if args.json is not None:
        payload = {
            "model": str(args.model),
            "data": str(args.data),
            "seed": args.seed,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m seqrec_trainer.evaluation.cli evaluate ...``."""
    parser = argparse.ArgumentParser(prog="seqrec")
    add_evaluate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
