"""Start the recommendation service: ``python examples/service/serve.py --artifact DIR``.

It binds 127.0.0.1 by default; put it behind your ingress, or pass ``--host 0.0.0.0``
(and set ``SEQREC_ADMIN_TOKEN`` so that ``/admin/swap`` takes token-authenticated calls).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # app.py and payloads.py

import uvicorn  # noqa: E402
from app import ServiceConfig, create_app  # noqa: E402
from payloads import Limits  # noqa: E402


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", required=True,
                        help="seqrec artifact directory to serve (loaded in the background)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                        help="request threads (inference in parallel); default: CPU cores")
    parser.add_argument("--intra-op-threads", type=_positive, default=1,
                        help="onnxruntime threads per call (default 1)")
    parser.add_argument("--max-body-bytes", type=_positive, default=1 << 20)
    parser.add_argument("--max-top-k", type=_positive, default=1000)
    parser.add_argument("--max-batch-users", type=_positive, default=256)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    config = ServiceConfig(
        artifact_dir=args.artifact,
        workers=args.workers,
        intra_op_num_threads=args.intra_op_threads,
        max_body_bytes=args.max_body_bytes,
        admin_token=os.environ.get("SEQREC_ADMIN_TOKEN") or None,
        limits=Limits(max_top_k=args.max_top_k, max_batch_users=args.max_batch_users),
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.access_log, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
