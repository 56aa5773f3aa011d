"""The fuzz corpus as regression tests, and a short deterministic fuzz run.

``fuzz_corpus/*.json`` holds inputs that crashed (or silently misbehaved in) the runtime
before the issue-5 fixes, found by ``fuzz_runtime.py`` or by probing; each now gives its
pinned ``expect`` outcome. The long, time-bounded run is
``python tests/hardening/fuzz_runtime.py --seconds 60``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import seqrec_runtime
from fuzz_runtime import CORPUS, decode, encode, fuzz, main, run_spec

CASES = sorted(CORPUS.glob("*.json"))


def test_the_corpus_is_not_empty():
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_corpus_case_replays_without_crash(golden_rt, path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    outcome = run_spec(golden_rt, doc["spec"])  # raises FuzzCrash / any non-SeqrecError
    if "expect" in doc:
        assert outcome == doc["expect"]


def test_tagged_values_round_trip():
    import datetime as dt

    values = [None, True, 3, 2**70, "ü\x00", 1.5, float("nan"), b"\xff",
              dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=-300))),
              ["a", 1]]
    back = [decode(json.loads(json.dumps(encode(v)))) for v in values]
    assert back[:6] == values[:6] and np.isnan(back[6]) and back[7:] == values[7:]


def test_short_fuzz_run_finds_no_crash(golden_rt):
    stats = fuzz(golden_rt, max_examples=150, seed_value=0, corpus=None, log=lambda _: None)
    assert not stats["crashes"], stats["crashes"][0]
    assert stats["examples"] >= 150
    assert stats["outcomes"].get("ok", 0) >= 20  # enough calls get through to the model


def test_short_fuzz_run_on_an_int_id_artifact(tmp_path):
    """Integer item ids (one beyond 2**53) exercise the other half of id parsing."""
    pytest.importorskip("onnx")
    sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))
    import runtime_fakes

    directory = runtime_fakes.write_artifact(
        tmp_path / "int-artifact", runtime_fakes.int_item_ids(40),
        runtime_fakes.make_embeddings(40), np.linspace(1, 0, 40, dtype=np.float32),
        max_len=8, k=10)
    rt = seqrec_runtime.load(directory, intra_op_num_threads=1, batch_size=4)
    stats = fuzz(rt, max_examples=100, seed_value=1, corpus=None, log=lambda _: None)
    assert not stats["crashes"], stats["crashes"][0]
    assert stats["outcomes"].get("ok", 0) >= 10


def test_command_line_is_time_bounded(tmp_path, capsys):
    assert main(["--seconds", "1.5", "--corpus", str(tmp_path), "--seed", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] > 0 and report["crashes"] == 0
    assert report["seconds"] < 30
    assert not list(tmp_path.iterdir())  # nothing saved without a crash
