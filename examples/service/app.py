"""A recommendation service on seqrec-runtime with Starlette (ASGI), served by uvicorn.

Endpoints
---------
``POST /recommend``        one user's ordered history -> items and scores
``POST /recommend/batch``  many histories -> one result per history, same order
``GET /healthz``           liveness: 200 while the process serves HTTP
``GET /readyz``            readiness: 200 once a model is loaded, else 503
``POST /admin/swap``       load, check and swap in another artifact (loopback or token only)

Every response carries the served model's ``X-Model-Version`` and ``X-Model-Sha256``; a
recommend response carries those of the model that computed it.

Concurrency: the event loop only reads bodies and writes responses. Parsing, the
onnxruntime calls and JSON encoding run in a pool of ``workers`` threads (onnxruntime
releases the GIL while it runs), each call with ``intra_op_num_threads`` threads, so that
``workers * intra_op_num_threads`` matches the cores. Loading an artifact runs in its own
thread and never takes a request worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from payloads import (
    Limits,
    MalformedRequestError,
    RequestTooLargeError,
    handle_batch,
    handle_single,
    quiet_runtime_warnings,
)
from seqrec_runtime import (
    ArtifactError,
    LoadedModel,
    ModelHolder,
    NoModelError,
    SeqrecError,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

LOG = logging.getLogger("seqrec_service")
RELEASE_GRACE_S = 2.0  # after a swap, before the old model's memory is handed back
LOOPBACK = {"127.0.0.1", "::1"}
MODEL_HEADERS = ("X-Model-Version", "X-Model-Sha256")


@dataclass
class ServiceConfig:
    """Settings of one service process (see ``serve.py --help``).

    Attributes
    ----------
    artifact_dir : str or None
        Artifact loaded at start-up (in the background; ``/readyz`` says when).
    workers : int
        Threads running requests (parsing, inference, encoding) at once.
    intra_op_num_threads : int
        onnxruntime threads per call.
    max_body_bytes : int
        Larger bodies get 413 before they are parsed.
    admin_token : str or None
        When set, ``/admin/swap`` needs ``Authorization: Bearer <token>`` (from any
        address); when unset it answers loopback clients only.
    limits : Limits
    """

    artifact_dir: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    intra_op_num_threads: int = 1
    max_body_bytes: int = 1 << 20
    admin_token: str | None = None
    limits: Limits = field(default_factory=Limits)


def trim_malloc() -> bool:
    """``malloc_trim(0)``: return free heap pages of every glibc arena to the OS.

    Returns False (and does nothing) where the C library is not glibc.
    """
    libc_name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(libc_name).malloc_trim if libc_name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return False
    trim(0)
    return True


def _headers(model: LoadedModel | None) -> dict[str, str]:
    if model is None:
        return {}
    return {"X-Model-Version": model.version, "X-Model-Sha256": model.sha256}


def _json(payload: Any, status: int, model: LoadedModel | None) -> Response:
    return Response(json.dumps(payload), status, _headers(model), "application/json")


def _error(status: int, exc: BaseException, model: LoadedModel | None) -> Response:
    return _json({"error": type(exc).__name__, "message": str(exc)}, status, model)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with :class:`RequestTooLargeError` beyond ``limit`` bytes.

    A ``Content-Length`` above the limit is refused before any byte is read; a chunked
    body is refused as soon as it passes the limit.
    """
    declared = request.headers.get("content-length")
    too_large = RequestTooLargeError(
        f"the body is larger than this service's limit of {limit} bytes (--max-body-bytes); "
        "send fewer or shorter histories per request"
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


class Service:
    """The service's state: the model holder, the worker limiter and the handlers."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.holder = ModelHolder(
            providers=["CPUExecutionProvider"],
            intra_op_num_threads=config.intra_op_num_threads,
        )
        self.workers = anyio.CapacityLimiter(config.workers)
        self.loader = anyio.CapacityLimiter(1)
        self.load_error: str | None = None
        self._tasks: set[asyncio.Future] = set()

    def _current(self) -> LoadedModel | None:
        return self.holder.current() if self.holder.ready else None

    async def _swap(self, artifact_dir: str, sha256: str | None = None) -> LoadedModel:
        model = await anyio.to_thread.run_sync(
            self.holder.swap, artifact_dir, sha256, limiter=self.loader
        )
        self._background(self._release_old_model_memory())
        return model

    def _background(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _release_old_model_memory(self) -> None:
        """Give the freed memory of a swapped-out model back to the OS (glibc only).

        Requests still running on the old model finish within the grace period; its
        sessions are then freed, but glibc keeps the pages in its per-thread arenas
        unless asked to trim them.
        """
        await asyncio.sleep(RELEASE_GRACE_S)
        await anyio.to_thread.run_sync(trim_malloc, limiter=self.loader)

    async def _load_at_startup(self) -> None:
        try:
            model = await self._swap(self.config.artifact_dir)
            LOG.info("serving %s (version %s, sha256 %s)", model.path, model.version,
                     model.sha256)
        except Exception as exc:  # refused or failed: stay up, not ready, say why
            self.load_error = f"{type(exc).__name__}: {exc}"
            LOG.error("start-up artifact refused, not ready: %s", self.load_error)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette):
        if self.config.artifact_dir is not None:
            self._background(self._load_at_startup())
        yield
        for task in list(self._tasks):
            task.cancel()

    async def _recommend(
        self, request: Request, handler: Callable[[LoadedModel, bytes, Limits], bytes]
    ) -> Response:
        model = None
        try:
            body = await read_body(request, self.config.max_body_bytes)
            model = self.holder.current()  # ONE snapshot: computes and labels the answer
            content = await anyio.to_thread.run_sync(
                handler, model, body, self.config.limits, limiter=self.workers
            )
        except ClientDisconnect:
            return Response(status_code=499)
        except RequestTooLargeError as exc:
            return _error(413, exc, model or self._current())
        except NoModelError as exc:
            return _error(503, exc, None)
        except MalformedRequestError as exc:
            return _error(400, exc, model)
        except ArtifactError as exc:  # the model failed, not the request
            LOG.error("model %s failed: %s", model.sha256 if model else None, exc)
            return _error(500, exc, model)
        except SeqrecError as exc:
            return _error(422, exc, model)
        except Exception as exc:  # a bug, not the client's fault: log it, keep serving
            LOG.exception("request failed")
            return _error(500, RuntimeError(f"internal error ({type(exc).__name__})"), model)
        return Response(content, 200, _headers(model), "application/json")

    async def recommend(self, request: Request) -> Response:
        return await self._recommend(request, handle_single)

    async def recommend_batch(self, request: Request) -> Response:
        return await self._recommend(request, handle_batch)

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok"}, 200, self._current())

    async def readyz(self, request: Request) -> Response:
        model = self._current()
        if model is None:
            return _json({"ready": False, "error": self.load_error}, 503, None)
        return _json({"ready": True, **_describe(model)}, 200, model)

    def _admin_refusal(self, request: Request) -> str | None:
        token = self.config.admin_token
        if token:
            given = request.headers.get("authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return None
            return "admin calls need the header 'Authorization: Bearer <token>'"
        client = request.client.host if request.client else None
        if client in LOOPBACK:
            return None
        return (f"admin calls are accepted from loopback only (got {client}); set "
                "SEQREC_ADMIN_TOKEN to accept token-authenticated calls from elsewhere")

    async def admin_swap(self, request: Request) -> Response:
        """``{"artifact_dir": "...", "sha256"?: "..."}``: swap in that artifact."""
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return _json({"error": "Forbidden", "message": refusal}, 403, self._current())
        try:
            body = await read_body(request, 64 << 10)
            payload = json.loads(body)
            if not isinstance(payload, dict) or not isinstance(payload.get("artifact_dir"), str):
                raise MalformedRequestError(
                    'the body must be {"artifact_dir": "<directory>", "sha256": "<hex>"?}'
                )
            model = await self._swap(payload["artifact_dir"], payload.get("sha256"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, MalformedRequestError(f"not valid JSON: {exc}"), self._current())
        except RequestTooLargeError as exc:
            return _error(413, exc, self._current())
        except MalformedRequestError as exc:
            return _error(400, exc, self._current())
        except SeqrecError as exc:
            LOG.warning("swap refused, still serving the previous model: %s", exc)
            return _error(422, exc, self._current())
        self.load_error = None
        LOG.info("swapped to %s (version %s, sha256 %s)", model.path, model.version,
                 model.sha256)
        return _json({"swapped": True, **_describe(model)}, 200, model)


def _describe(model: LoadedModel) -> dict[str, Any]:
    return {"version": model.version, "sha256": model.sha256, "path": str(model.path),
            "n_items": model.runtime.n_items, "max_len": model.runtime.max_len}


def create_app(config: ServiceConfig) -> Starlette:
    """The ASGI application (run it with uvicorn: see ``serve.py``)."""
    quiet_runtime_warnings()
    service = Service(config)
    routes = [
        Route("/recommend", service.recommend, methods=["POST"]),
        Route("/recommend/batch", service.recommend_batch, methods=["POST"]),
        Route("/healthz", service.healthz, methods=["GET"]),
        Route("/readyz", service.readyz, methods=["GET"]),
        Route("/admin/swap", service.admin_swap, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=service.lifespan)
    app.state.service = service
    app.add_middleware(ModelHeaders, holder=service.holder)
    return app


class ModelHeaders:
    """ASGI middleware: the served model's headers on every response that has none yet.

    Recommend responses already carry the headers of the model that computed them; this
    labels the rest (404, 405, ...) with the model served when the response starts.
    """

    def __init__(self, app: Any, holder: ModelHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_labelled(message: dict) -> None:
            if message["type"] == "http.response.start" and self.holder.ready:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-model-sha256" for name, _ in headers):
                    model = self.holder.current()
                    headers += [(b"x-model-version", model.version.encode()),
                                (b"x-model-sha256", model.sha256.encode())]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_labelled)

