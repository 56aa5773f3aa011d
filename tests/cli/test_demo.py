"""make demo's script says what it does at every step and leaves data, model and artifact."""

from __future__ import annotations

import re

from seqrec_cli import demo


def test_demo_reports_each_step_and_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--output", str(out), "--users", "120", "--epochs", "2",
                      "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].startswith("seqrec demo: generate 120 users' interactions")
    steps = [line[:5] for line in lines if line.startswith("[")]
    assert steps == ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"]
    assert "training SASRec (full-softmax ce loss) for up to 2 epochs" in printed
    agreement = float(re.search(r"identical to torch for ([0-9.]+)% of users", printed)[1])
    assert agreement >= 95.0  # only items whose scores tie within the export's atol may swap
    for name in ("interactions", "train", "valid", "test", "test_input"):
        assert (out / "data" / f"{name}.csv").is_file()
    assert (out / "model" / "training_curve.png").is_file()
    assert (out / "artifact" / "manifest.json").is_file()
    assert f"seqrec recommend {out / 'artifact'}" in printed
