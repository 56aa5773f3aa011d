"""``ModelHolder``: atomic swaps, refused artifacts, and no mixed models under concurrency."""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from seqrec_runtime import (
    ArtifactError,
    ArtifactIntegrityError,
    InvalidParameterTypeError,
    ModelHolder,
    NoModelError,
    artifact_sha256,
)
from seqrec_runtime import holder as holder_module

CPU = {"providers": ["CPUExecutionProvider"]}


def _manifest_sha(path: Path) -> str:
    return hashlib.sha256((Path(path) / "manifest.json").read_bytes()).hexdigest()


def test_not_ready_until_a_model_is_loaded():
    holder = ModelHolder(**CPU)
    assert not holder.ready
    with pytest.raises(NoModelError, match="no model is loaded yet"):
        holder.current()


def test_swap_serves_the_new_artifact_with_its_labels(fake_artifact, fake_string_artifact):
    holder = ModelHolder(**CPU)
    first = holder.swap(fake_artifact)
    assert holder.ready and holder.current() is first
    assert first.sha256 == _manifest_sha(fake_artifact) == artifact_sha256(fake_artifact)
    assert first.version == "2026-11-27T08:00:00Z"
    assert first.path == Path(fake_artifact)
    reference = seqrec_runtime.load(fake_artifact, **CPU)
    history = list(reference.item_ids_[[3, 1, 4]])
    np.testing.assert_array_equal(
        first.runtime.recommend_online(history, top_k=5, exclude_seen=True),
        reference.recommend_online(history, top_k=5, exclude_seen=True),
    )
    second = holder.swap(fake_string_artifact, expected_sha256=_manifest_sha(fake_string_artifact))
    assert holder.current() is second and second.sha256 != first.sha256
    assert second.runtime.item_ids_.dtype.kind == "U"


def test_load_options_reach_the_runtime(fake_artifact):
    holder = ModelHolder(intra_op_num_threads=1, batch_size=7, **CPU)
    assert holder.swap(fake_artifact).runtime.batch_size == 7


def _tampered(artifact_copy: Path) -> Path:
    with open(artifact_copy / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    return artifact_copy


@pytest.mark.parametrize(
    ("breaks", "error", "match"),
    [
        (_tampered, ArtifactIntegrityError, "does not match the sha256"),
        (lambda p: p / "missing", ArtifactError, "cannot read"),
        (lambda p: (p / "manifest.json").write_text("{") and p, ArtifactError, "not valid JSON"),
    ],
    ids=["tampered-file", "missing-directory", "bad-manifest"],
)
def test_broken_artifact_is_refused_and_the_old_one_keeps_serving(
    fake_artifact, artifact_copy, breaks, error, match
):
    holder = ModelHolder(**CPU)
    serving = holder.swap(fake_artifact)
    with pytest.raises(error, match=match):
        holder.swap(breaks(artifact_copy))
    assert holder.current() is serving


def test_expected_sha256_mismatch_is_refused(fake_artifact, fake_string_artifact):
    holder = ModelHolder(**CPU)
    serving = holder.swap(fake_artifact)
    with pytest.raises(ArtifactIntegrityError, match="refusing to serve a different artifact"):
        holder.swap(fake_string_artifact, expected_sha256=serving.sha256)
    assert holder.current() is serving
    with pytest.raises(InvalidParameterTypeError, match="expected_sha256"):
        holder.swap(fake_string_artifact, expected_sha256=123)
    with pytest.raises(InvalidParameterTypeError, match="artifact_dir must be a path"):
        holder.swap(5)


def test_model_with_non_finite_scores_fails_the_smoke_call(fake_artifact, tmp_path):
    pytest.importorskip("onnx", reason="onnx is needed to write the broken fake artifact")
    emb = runtime_fakes.make_embeddings(runtime_fakes.N_ITEMS, seed=0)
    emb[1:, 0] = np.nan  # loads and runs, but every score is NaN
    broken = runtime_fakes.write_artifact(
        tmp_path / "nan", runtime_fakes.int_item_ids(runtime_fakes.N_ITEMS), emb,
        np.ones(runtime_fakes.N_ITEMS, dtype=np.float32),
    )
    holder = ModelHolder(**CPU)
    serving = holder.swap(fake_artifact)
    with pytest.raises(ArtifactError, match="smoke call"):
        holder.swap(broken)
    assert holder.current() is serving


def test_manifest_changed_while_loading_is_refused(fake_artifact, artifact_copy, monkeypatch):
    holder = ModelHolder(**CPU)
    serving = holder.swap(fake_artifact)
    original = holder_module.smoke_check

    def rewrite_manifest(runtime):
        original(runtime)
        manifest = json.loads((artifact_copy / "manifest.json").read_text())
        manifest["created_at"] = "2026-12-06T00:00:00Z"
        (artifact_copy / "manifest.json").write_text(json.dumps(manifest))

    monkeypatch.setattr(holder_module, "smoke_check", rewrite_manifest)
    with pytest.raises(ArtifactError, match="changed while it was loading"):
        holder.swap(artifact_copy)
    assert holder.current() is serving


def test_concurrent_requests_never_mix_models_during_swaps(fake_artifact, tmp_path):
    """Readers take one snapshot per call; every answer equals its snapshot's model."""
    other = Path(shutil.copytree(fake_artifact, tmp_path / "other"))
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["created_at"] = "2026-12-06T00:00:00Z"  # same graphs, another identity
    (other / "manifest.json").write_text(json.dumps(manifest))
    reference = seqrec_runtime.load(fake_artifact, **CPU)
    histories = [list(reference.item_ids_[i : i + 4]) for i in range(0, 30, 3)]
    expected = {h_i: reference.recommend_online(h, top_k=6, exclude_seen=True)
                for h_i, h in enumerate(histories)}
    holder = ModelHolder(**CPU)
    holder.swap(fake_artifact)
    stop = threading.Event()
    seen_shas: set[str] = set()

    def reader(worker: int) -> int:
        calls = 0
        while not stop.is_set() or calls < 20:
            model = holder.current()
            h_i = (worker + calls) % len(histories)
            got = model.runtime.recommend_online(histories[h_i], top_k=6, exclude_seen=True)
            np.testing.assert_array_equal(got, expected[h_i])
            assert model.sha256 == artifact_sha256(model.path)
            seen_shas.add(model.sha256)
            calls += 1
        return calls

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(reader, w) for w in range(4)]
        for i in range(6):
            holder.swap(other if i % 2 == 0 else fake_artifact)
        stop.set()
        assert sum(f.result(timeout=60) for f in futures) >= 80
    assert seen_shas <= {artifact_sha256(fake_artifact), artifact_sha256(other)}
    assert holder.current().path == Path(fake_artifact)


def test_swapped_out_model_is_freed_once_no_request_holds_it(fake_artifact,
                                                             fake_string_artifact):
    holder = ModelHolder(**CPU)
    request_snapshot = holder.swap(fake_artifact)  # a request still running on it
    old = weakref.ref(request_snapshot.runtime)
    holder.swap(fake_string_artifact)
    gc.collect()
    assert old() is not None  # the running request keeps it alive
    del request_snapshot
    gc.collect()
    assert old() is None
