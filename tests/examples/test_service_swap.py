"""Model swaps under a bounded burst of concurrent requests: no failure, no mixed model.

Two different models with the same item ids (the golden SASRec artifact and a fake model)
are swapped back and forth, and a broken artifact is offered once, while 16 client threads
send a fixed number of requests. Every answer must be 200, labelled with one of the two
models, and equal to ``recommend_online`` of the model its headers name.
"""

from __future__ import annotations

import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import seqrec_runtime
from seqrec_runtime import artifact_sha256
from test_service import CPU, GOLDEN, ROOT, assert_answer, expected, histories, running

pytestmark = [
    pytest.mark.filterwarnings("ignore::seqrec_runtime.ColdUserWarning"),
    pytest.mark.filterwarnings("ignore:exclude_seen leaves only:UserWarning"),
]
CLIENTS = 16
REQUESTS = 600
SWAPS = 6


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Path:
    """A second model over the golden artifact's items, scoring them differently."""
    pytest.importorskip("onnx", reason="onnx is needed to write the second (fake) model")
    sys.path.insert(0, str(ROOT / "tests" / "runtime"))
    try:
        import runtime_fakes
    finally:
        sys.path.remove(str(ROOT / "tests" / "runtime"))
    golden = seqrec_runtime.load(GOLDEN, **CPU)
    n_items = golden.n_items
    return runtime_fakes.write_artifact(
        tmp_path_factory.mktemp("other") / "artifact", golden.item_ids_.tolist(),
        runtime_fakes.make_embeddings(n_items, seed=7),
        np.linspace(1.0, 0.0, n_items, dtype=np.float32), max_len=golden.max_len, k=10,
    )


def test_swaps_under_load_never_fail_or_mix_models(other_model, tmp_path):
    models = {artifact_sha256(p): seqrec_runtime.load(p, **CPU) for p in (GOLDEN, other_model)}
    assert len(models) == 2
    broken = Path(shutil.copytree(other_model, tmp_path / "broken"))
    with open(broken / "model.onnx", "ab") as handle:
        handle.write(b"\0")  # its sha256 no longer matches the manifest
    some = histories(next(iter(models.values())), 24)
    first, second = models.values()
    differ = [h for h in some if expected(first, h, 7)["items"] != expected(second, h, 7)["items"]]
    assert len(differ) >= len(some) // 2  # so a mixed-up answer would be caught
    answers: list[tuple[int, dict, dict, list]] = []
    done = threading.Semaphore(0)

    with running(GOLDEN, "--workers", "2") as server:

        def client(i: int) -> None:
            history = some[i % len(some)]
            status, headers, body = server.post("/recommend", {"history": history, "top_k": 7})
            answers.append((status, headers, body, history))
            done.release()

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(client, i) for i in range(REQUESTS)]
            targets = [other_model, GOLDEN] * (SWAPS // 2)
            for n, target in enumerate(targets):
                for _ in range(REQUESTS // (SWAPS + 2)):  # spread the swaps over the burst
                    done.acquire(timeout=60)
                status, _, body = server.post("/admin/swap", {"artifact_dir": str(target)})
                assert status == 200, body
                if n == 2:
                    status, headers, body = server.post("/admin/swap",
                                                        {"artifact_dir": str(broken)})
                    assert status == 422 and body["error"] == "ArtifactIntegrityError"
                    assert headers["x-model-sha256"] == artifact_sha256(other_model)
            for future in futures:
                future.result(timeout=120)

    assert len(answers) == REQUESTS
    failures = [(s, b) for s, _, b, _ in answers if s != 200]
    assert failures == []
    by_model = {sha: 0 for sha in models}
    for _, headers, body, history in answers:
        sha = headers["x-model-sha256"]
        by_model[sha] += 1  # a KeyError here = a response labelled with an unknown model
        assert_answer(body, expected(models[sha], history, top_k=7))
    assert all(count > 0 for count in by_model.values()), by_model
