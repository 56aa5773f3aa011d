"""The HTTP service of ``examples/service``: every endpoint, bad requests and admin access.

The service runs as its own process (``serve.py``) on a loopback port, as in production;
answers are compared with ``seqrec_runtime`` called in-process on the same artifact.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import seqrec_runtime
from seqrec_runtime import artifact_sha256

pytestmark = [
    pytest.mark.filterwarnings("ignore::seqrec_runtime.ColdUserWarning"),
    pytest.mark.filterwarnings("ignore:exclude_seen leaves only:UserWarning"),
]
pytest.importorskip("starlette", reason="the service tests need the dev extra (starlette)")
pytest.importorskip("uvicorn", reason="the service tests need the dev extra (uvicorn)")

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "examples" / "service"
GOLDEN = ROOT / "tests" / "runtime" / "golden"
CPU = {"providers": ["CPUExecutionProvider"]}
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``serve.py`` process on a loopback port, and a tiny JSON client for it."""

    def __init__(self, artifact: Path, *args: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, str(SERVICE / "serve.py"), "--artifact", str(artifact),
             "--port", str(self.port), "--log-level", "warning", *args],
            env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the service exited at start-up"
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            time.sleep(0.1)
        raise TimeoutError("the service did not listen in time")

    def wait_ready(self) -> None:
        self.wait_listening()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.get("/readyz")[0] == 200:
                return
            time.sleep(0.1)
        raise TimeoutError("the service did not become ready in time")

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict, dict]:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, head, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, head, raw = error.code, error.headers, error.read()
        payload = json.loads(raw) if head.get("content-type") == "application/json" else {}
        return status, {k.lower(): v for k, v in head.items()}, payload

    def get(self, path: str) -> tuple[int, dict, dict]:
        return self.call("GET", path)

    def post(self, path: str, payload, headers: dict | None = None) -> tuple[int, dict, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.call("POST", path, body, {"Content-Type": "application/json",
                                              **(headers or {})})

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.log.close()


@contextlib.contextmanager
def running(artifact: Path, *args: str, env: dict | None = None, ready: bool = True):
    server = Server(artifact, *args, env=env)
    try:
        server.wait_ready() if ready else server.wait_listening()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server():
    with running(GOLDEN, "--workers", "2", "--max-batch-users", "8") as srv:
        yield srv


@pytest.fixture(scope="module")
def rt():
    return seqrec_runtime.load(GOLDEN, **CPU)


def expected(rt, history: list, top_k: int = 10, exclude_seen: bool = True) -> dict:
    """What the service must answer, from the runtime called in-process."""
    items = rt.recommend_online(history, top_k=top_k, exclude_seen=exclude_seen)
    known = [h for h in history if h in set(rt.item_ids_.tolist())]
    scores = rt.score_items({"USER_ID": np.zeros(len(known), np.int64),
                             "ITEM_ID": np.array(known, dtype=str),
                             "TIMESTAMP": np.arange(len(known))})[0]
    return {"items": items.tolist(),
            "scores": scores[np.searchsorted(rt.item_ids_, items)].tolist()}


def assert_answer(got: dict, want: dict) -> None:
    assert got["items"] == want["items"]
    np.testing.assert_allclose(got["scores"], want["scores"], rtol=0, atol=1e-6)


def histories(rt, n: int = 12) -> list[list]:
    rng = np.random.default_rng(0)
    ids = rt.item_ids_.tolist()
    return [list(rng.choice(ids, size=int(rng.integers(1, 30)))) for _ in range(n)]


def test_health_and_readiness_name_the_model(server):
    sha = artifact_sha256(GOLDEN)
    status, headers, body = server.get("/healthz")
    assert status == 200 and body == {"status": "ok"}
    assert headers["x-model-sha256"] == sha
    status, headers, body = server.get("/readyz")
    assert status == 200 and body["ready"] is True and body["sha256"] == sha
    assert headers["x-model-version"] == body["version"] == "2026-11-27T08:29:31Z"
    status, headers, _ = server.get("/no-such-path")
    assert status == 404 and headers["x-model-sha256"] == sha


@pytest.mark.parametrize("exclude_seen", [True, False, None])
@pytest.mark.parametrize("top_k", [1, 10, 25])
def test_recommend_equals_the_runtime(server, rt, exclude_seen, top_k):
    for history in histories(rt, 6):
        payload = {"history": history, "top_k": top_k}
        if exclude_seen is not None:  # None: the default, which is True
            payload["exclude_seen"] = exclude_seen
        status, headers, body = server.post("/recommend", payload)
        assert status == 200, body
        assert headers["x-model-sha256"] == artifact_sha256(GOLDEN)
        assert_answer(body, expected(rt, history, top_k, exclude_seen is not False))
        assert body["skipped_unknown"] == 0


def test_unknown_items_skip_uses_the_known_ones(server, rt):
    history = ["item-003", "not-an-item", "item-017", "also-not"]
    status, _, body = server.post("/recommend", {"history": history, "unknown_items": "skip"})
    assert status == 200 and body["skipped_unknown"] == 2
    assert_answer(body, expected(rt, history))
    status, _, body = server.post("/recommend", {"history": ["nope"], "unknown_items": "skip"})
    assert status == 200 and body["items"] == rt.recommend_online(["nope"]).tolist()


def test_batch_answers_each_history_like_recommend(server, rt):
    batch = histories(rt, 8)
    status, headers, body = server.post("/recommend/batch", {"histories": batch, "top_k": 5})
    assert status == 200 and headers["x-model-sha256"] == artifact_sha256(GOLDEN)
    assert len(body["results"]) == len(batch)
    for history, got in zip(batch, body["results"], strict=True):
        assert_answer(got, expected(rt, history, 5))


BAD_REQUESTS = [
    (b'{"history": [', 400, "MalformedRequestError", "not valid JSON"),
    (b"\xff\xfe", 400, "MalformedRequestError", "not valid JSON"),
    ([1, 2], 400, "MalformedRequestError", "must be a JSON object"),
    ({"history": ["item-001"], "topk": 3}, 422, "InvalidParameterError", "unknown field"),
    ({"top_k": 3}, 422, "InvalidParameterError", "missing field 'history'"),
    ({"history": "item-001"}, 422, "InvalidParameterTypeError", "must be a JSON array"),
    ({"history": []}, 422, "EmptyInputError", "history is empty"),
    ({"history": ["item-001", "item-999"]}, 422, "UnknownItemsError", "'item-999'"),
    ({"history": [1.5]}, 422, "IdTypeError", "fractional part"),
    ({"history": [True]}, 422, "IdTypeError", "boolean"),
    ({"history": [None]}, 422, "MissingValueError", "missing value"),
    ({"history": [["item-001"]]}, 422, "SchemaError", "must be 1-D"),
    ({"history": [3]}, 422, "IdTypeError", "model's item ids are string"),
    ({"history": ["item-001", 3]}, 422, "IdTypeError", "mixes text and numbers"),
    ({"history": ["item-001"], "top_k": 10**9}, 422, "InvalidParameterError", "limit of 40"),
    ({"history": ["item-001"], "top_k": 0}, 422, "InvalidParameterError", "top_k must be >= 1"),
    ({"history": ["item-001"], "top_k": "3"}, 422, "InvalidParameterTypeError", "must be an int"),
    ({"history": ["item-001"], "exclude_seen": "yes"}, 422, "InvalidParameterTypeError",
     "exclude_seen must be True or False"),
    ({"history": ["item-001"], "unknown_items": "drop"}, 422, "InvalidParameterError",
     "unknown_items must be one of"),
    ({"history": ["item-001"], "top_k": None}, 422, "InvalidParameterTypeError",
     "top_k must be an int, got None"),
    ({"history": [f"item-{i:03d}" for i in range(1, 41)]}, 422, "InvalidParameterError",
     "history: exclude_seen=True leaves no candidate item"),
]


@pytest.mark.parametrize(("payload", "status", "error", "message"), BAD_REQUESTS)
def test_bad_request_gets_a_4xx_with_the_runtime_message(server, payload, status, error,
                                                         message):
    got_status, headers, body = server.post("/recommend", payload)
    assert (got_status, body["error"]) == (status, error)
    assert message in body["message"]
    assert headers["x-model-sha256"] == artifact_sha256(GOLDEN)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"histories": []}, "must be a non-empty JSON array"),
        ({"histories": [["item-001"]] * 9}, "at most 8"),
        ({"histories": [["item-001"], []]}, "histories[1] is empty"),
        ({"histories": [["item-001"], ["item-001", 2.5]]}, "histories[1]:"),
    ],
)
def test_bad_batch_names_the_problem(server, payload, message):
    status, _, body = server.post("/recommend/batch", payload)
    assert status == 422 and message in body["message"]


def _raw_answer(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    """Send ``head`` and ``chunks`` on a raw connection, then read the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        return sock.recv(200)


def test_bodies_over_the_limit_get_413_before_they_are_read(server):
    # Content-Length over the limit: answered from the headers, before any body byte.
    head = b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
    assert _raw_answer(server.port, head, []).startswith(b"HTTP/1.1 413")
    # A chunked body (no Content-Length) is refused as soon as it passes the limit.
    head = b"POST /recommend HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b'"item-001",' * 10_000  # 110 kB
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer = _raw_answer(server.port, head, [b"1\r\n[\r\n"] + [chunk] * 10)  # 1.1 MB
    assert answer.startswith(b"HTTP/1.1 413")
    # Just under the limit is served.
    body = json.dumps({"history": ["item-001"] * 80_000}).encode()
    assert (1 << 20) - 100_000 < len(body) <= 1 << 20
    status, _, payload = server.post("/recommend", body)
    assert status == 200 and len(payload["items"]) == 10
    assert server.get("/healthz")[0] == 200  # still serving


def test_not_ready_until_an_artifact_is_loaded(tmp_path):
    missing = tmp_path / "not-exported-yet"
    with running(missing, ready=False) as srv:
        assert srv.get("/healthz")[0] == 200
        status, headers, body = srv.get("/readyz")
        deadline = time.monotonic() + 30
        while body.get("error") is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the start-up load runs in the background
            status, headers, body = srv.get("/readyz")
        assert status == 503 and body["ready"] is False and "not-exported-yet" in body["error"]
        assert "x-model-sha256" not in headers
        status, _, body = srv.post("/recommend", {"history": ["item-001"]})
        assert status == 503 and body["error"] == "NoModelError"
        status, headers, body = srv.post("/admin/swap", {"artifact_dir": str(GOLDEN)})
        assert status == 200 and body["sha256"] == headers["x-model-sha256"]
        assert srv.get("/readyz")[0] == 200
        assert srv.post("/recommend", {"history": ["item-001"]})[0] == 200


def test_admin_swap_with_a_token_refuses_calls_without_it():
    with running(GOLDEN, env={"SEQREC_ADMIN_TOKEN": "s3cret"}) as srv:
        payload = {"artifact_dir": str(GOLDEN)}
        status, _, body = srv.post("/admin/swap", payload)
        assert status == 403 and "Authorization: Bearer" in body["message"]
        status, _, _ = srv.post("/admin/swap", payload, {"Authorization": "Bearer wrong"})
        assert status == 403
        status, _, body = srv.post("/admin/swap", payload, {"Authorization": "Bearer s3cret"})
        assert status == 200 and body["swapped"] is True


def test_admin_swap_without_a_token_is_loopback_only():
    sys.path.insert(0, str(SERVICE))
    try:
        from app import Service, ServiceConfig
        from starlette.requests import Request
    finally:
        sys.path.remove(str(SERVICE))
    service = Service(ServiceConfig())

    def request(host: str) -> Request:
        return Request({"type": "http", "client": (host, 5000), "headers": []})

    assert service._admin_refusal(request("127.0.0.1")) is None
    assert service._admin_refusal(request("::1")) is None
    assert "loopback only" in service._admin_refusal(request("10.1.2.3"))


def test_admin_swap_bad_requests(server):
    sha = artifact_sha256(GOLDEN)
    for payload, status in [(b"{", 400), ({"artifact": "x"}, 400),
                            ({"artifact_dir": "/no/such/dir"}, 422),
                            ({"artifact_dir": str(GOLDEN), "sha256": "0" * 64}, 422)]:
        got, headers, body = server.post("/admin/swap", payload)
        assert got == status, body
        assert headers["x-model-sha256"] == sha  # still serving the same model


def test_service_imports_only_the_runtime_and_its_web_stack():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import serve, app, payloads; "
        "app.create_app(app.ServiceConfig()); "
        "heavy = {'torch', 'pandas', 'pyarrow', 'onnx', 'seqrec_trainer', 'seqrec_export'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(SERVICE)], capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
