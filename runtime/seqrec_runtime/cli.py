"""``seqrec-runtime``: command line of the runtime distribution.

``seqrec-runtime spark-recommend ARTIFACT --input IN.parquet --output OUT --top-k K``
scores a Parquet interactions table on Spark and writes Parquet. It runs as it is (a
local Spark, ``--master local[4]``) or under ``spark-submit``, which sets the master::

    spark-submit --master yarn "$(python -c 'import seqrec_runtime.cli as c; print(c.__file__)')" \\
        spark-recommend /shared/artifact --input s3a://b/events --output s3a://b/recs

Exit status: 0 done, 2 bad input or artifact (nothing written), 1 the Spark job failed.
Imports are absolute so that the file also runs as a script under ``spark-submit``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from seqrec_runtime.errors import SeqrecError

_EXIT_BAD_INPUT, _EXIT_JOB_FAILED = 2, 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqrec-runtime", description="Serve seqrec artifacts (numpy + onnxruntime)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    spark = commands.add_parser(
        "spark-recommend",
        help="recommend for every user of a Parquet table on Spark (seqrec-runtime[spark])",
        description="Recommend top-k items for every user of a Parquet interactions table on "
        "Spark; writes one Parquet row per user (or per user and rank with --format long).",
    )
    spark.add_argument("artifact", help="artifact directory (shared path, or --ship-artifact)")
    spark.add_argument("--input", required=True, help="Parquet path/URI of the interactions")
    spark.add_argument("--output", required=True, help="Parquet path/URI to write")
    spark.add_argument("--top-k", type=int, default=10)
    spark.add_argument("--include-seen", action="store_true",
                       help="also recommend items already in the history (re-consumption)")
    spark.add_argument("--sampling-temperature", type=float, default=None)
    spark.add_argument("--random-state", type=int, default=None,
                       help="sampling seed; a user's sample depends only on it and the user")
    spark.add_argument("--user-col", default="USER_ID")
    spark.add_argument("--item-col", default="ITEM_ID")
    spark.add_argument("--time-col", default="TIMESTAMP")
    spark.add_argument("--num-partitions", type=int, default=None)
    spark.add_argument("--threads-per-task", type=int, default=None,
                       help="onnxruntime threads per task (default: spark.task.cpus)")
    spark.add_argument("--providers", default=None,
                       help="comma-separated onnxruntime providers, e.g. "
                       "CUDAExecutionProvider,CPUExecutionProvider")
    spark.add_argument("--format", choices=("arrays", "long"), default="arrays")
    spark.add_argument("--ship-artifact", action="store_true",
                       help="copy the artifact to the executors with SparkContext.addFile")
    spark.add_argument("--mode", choices=("errorifexists", "overwrite"),
                       default="errorifexists", help="when --output exists")
    spark.add_argument("--master", default=None,
                       help="Spark master when not under spark-submit (e.g. local[2])")
    return parser


def _session(master: str | None):
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("seqrec-runtime spark-recommend")
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def _job_error(exc: Exception) -> str:
    """The runtime's own error line from a failed Spark job, else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if "seqrec_runtime.errors." in line or "Error: " in line:
            return line
    return lines[0] if lines else type(exc).__name__


def spark_recommend(args: argparse.Namespace) -> int:
    try:
        from seqrec_runtime import spark as seqrec_spark

        spark = _session(args.master)
    except ImportError as exc:
        print(f"error: {exc}; install the extra: pip install 'seqrec-runtime[spark]'",
              file=sys.stderr)
        return _EXIT_BAD_INPUT
    providers = args.providers.split(",") if args.providers else None
    try:
        result = seqrec_spark.recommend(
            spark.read.parquet(args.input), args.artifact, top_k=args.top_k,
            exclude_seen=not args.include_seen,
            sampling_temperature=args.sampling_temperature, random_state=args.random_state,
            user_col=args.user_col, item_col=args.item_col, time_col=args.time_col,
            num_partitions=args.num_partitions, threads_per_task=args.threads_per_task,
            providers=providers, output=args.format, ship_artifact=args.ship_artifact,
        )
    except SeqrecError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return _EXIT_BAD_INPUT
    except Exception as exc:  # e.g. AnalysisException: the input path does not exist
        print(f"error: cannot read --input {args.input!r}: {_job_error(exc)}", file=sys.stderr)
        return _EXIT_BAD_INPUT
    try:
        result.write.mode(args.mode).parquet(args.output)
    except Exception as exc:  # a failed job: pyspark's PythonException, Py4JJavaError...
        print(f"error: the Spark job failed: {_job_error(exc)}", file=sys.stderr)
        return _EXIT_JOB_FAILED
    print(f"wrote {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seqrec-runtime`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "spark-recommend":
        return spark_recommend(args)
    raise AssertionError(args.command)  # argparse only accepts the commands above


if __name__ == "__main__":
    sys.exit(main())
