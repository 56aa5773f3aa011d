import argparse
import json

import numpy as np
import pytest
from seqrec_cli import evaluate as cli


class _Model:
    """Scores item i as -i: the lower the id, the better."""

    def __init__(self, items):
        self.item_ids_ = np.asarray(items)

    def score_items(self, interactions, return_user_ids=True):
        users = np.unique(interactions["USER_ID"])
        row = -self.item_ids_.astype(np.float32)
        return users, np.tile(row, (len(users), 1))


def _data(tmp_path):
    # user 1: 1 2 3 4 -> test 4 (unseen candidates 4..6 -> rank 0)
    # user 2: 6 5 1   -> test 1 (seen 6 5; candidates 1..4 -> rank 0)
    # user 3: 3 2     -> train only
    lines = ["1 1", "1 2", "1 3", "1 4", "2 6", "2 5", "2 1", "3 3", "3 2"]
    path = tmp_path / "d.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_evaluate_prints_and_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_model", lambda path: _Model([1, 2, 3, 4, 5, 6]))
    out = tmp_path / "r.json"
    code = cli.main(
        [
            "evaluate",
            "--model",
            str(tmp_path),
            "--data",
            str(_data(tmp_path)),
            "--ks",
            "1,5",
            "--json",
            str(out),
            "--n-negatives",
            "2",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "HR@1" in printed and "sampled" in printed and "full" in printed
    payload = json.loads(out.read_text())
    full = payload["results"]["full"]
    assert full["HR@1"] == 1.0 and full["n_users"] == 2
    assert set(payload["results"]) == {"full", "sampled"}


def test_run_evaluate_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n1 oops\n")
    args = argparse.Namespace(
        model=tmp_path,
        data=bad,
        format=None,
        protocol="full",
        ks="10",
        seed=0,
        n_negatives=100,
        batch_size=8,
        json=None,
    )
    assert cli.run_evaluate(args) == 2
    assert "line 2" in capsys.readouterr().err


def test_parse_ks():
    assert cli.parse_ks("10, 20") == (10, 20)
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_ks("ten")
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_ks("0")


def test_load_model_dispatch(tmp_path, monkeypatch):
    import seqrec_runtime
    import seqrec_trainer

    monkeypatch.setattr(seqrec_runtime, "load", lambda p: ("runtime", p), raising=False)

    class _Fake:
        @staticmethod
        def load(p):
            return ("trainer", p)

    monkeypatch.setattr(seqrec_trainer, "SequentialRecommender", _Fake, raising=False)
    art = tmp_path / "art"
    art.mkdir()
    (art / "manifest.json").write_text(json.dumps({"format": "seqrec-onnx-artifact"}))
    assert cli.load_model(art)[0] == "runtime"
    other = tmp_path / "model"
    other.mkdir()
    assert cli.load_model(other)[0] == "trainer"
    (other / "manifest.json").write_text("not json")
    assert not cli.is_artifact_dir(other)


def test_format_table():
    res = {
        "full": {"HR@10": 0.5, "NDCG@10": float("nan"), "MRR": 0.25, "n_users": 3, "n_skipped": 1}
    }
    text = cli.format_table(res)
    assert "0.5000" in text and "nan" in text and text.splitlines()[0].startswith("protocol")
