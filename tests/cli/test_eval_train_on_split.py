"""``seqrec evaluate --train`` (split + train + evaluate), baselines beside the model, and
the warning for a model that has seen the test items."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from seqrec_cli import evaluate as cli
from seqrec_trainer import SequentialRecommender
from seqrec_trainer.evaluation import leave_one_out_split
from seqrec_trainer.evaluation.baselines import PopularityBaseline


def _write(table, path):
    pd.DataFrame(table).to_csv(path, index=False)
    return path


def test_train_on_split_in_one_command(tmp_path, synthetic_table, capsys):
    data = _write(synthetic_table, tmp_path / "data.csv")
    out, report = tmp_path / "model", tmp_path / "r.json"
    code = cli.main(["evaluate", "--data", str(data), "--train", "--set", "epochs=1",
                     "--set", "hidden_units=16", "--set", "max_len=12", "--output", str(out),
                     "--json", str(report), "--ks", "10"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "auto recipe for" in printed and "== popularity" in printed
    assert "epochs = 1  (set by the caller (the recipe chose" in printed
    assert "== item-item" in printed and "full: " in printed
    payload = json.loads(report.read_text())
    assert set(payload["baselines"]) == {"popularity", "item-item", "transitions"}
    assert len(payload["verdict"]) == 3
    # the saved model was trained on the split's training rows only: no leak warning
    assert (out / "auto_recipe.json").is_file()
    code = cli.main(["evaluate", "--data", str(data), "--model", str(out), "--ks", "10",
                     "--no-baselines"])
    assert code == 0
    assert "has seen the test items" not in capsys.readouterr().err


def test_a_model_trained_on_the_whole_file_is_flagged(tmp_path, synthetic_table, monkeypatch,
                                                      capsys):
    table = {k: v.copy() for k, v in synthetic_table.items()}
    # one item that only a test row holds: user 0's last interaction
    rows = np.flatnonzero(table["USER_ID"] == table["USER_ID"][0])
    last = rows[np.argmax(table["TIMESTAMP"][rows])]
    table["ITEM_ID"][last] = 999
    data = _write(table, tmp_path / "data.csv")
    monkeypatch.setattr(cli, "load_model", lambda path: PopularityBaseline(table))
    code = cli.main(["evaluate", "--data", str(data), "--model", str(tmp_path),
                     "--no-baselines", "--protocol", "full"])
    assert code == 0
    err = capsys.readouterr().err
    assert "WARNING: the model has seen the test items" in err and "999" in err


def test_seen_test_warning_reads_the_training_row_count(synthetic_table):
    split = leave_one_out_split(synthetic_table)
    model = PopularityBaseline(split.train)
    assert cli.seen_test_warning(model, split) is None
    model.training_summary_ = {"n_interactions": len(synthetic_table["USER_ID"])}
    assert "trained on" in cli.seen_test_warning(model, split)


def test_model_and_train_are_exclusive(tmp_path, synthetic_table, capsys):
    data = _write(synthetic_table, tmp_path / "data.csv")
    assert cli.main(["evaluate", "--data", str(data)]) == 2
    assert "--model MODEL or --train" in capsys.readouterr().err
    assert cli.main(["evaluate", "--data", str(data), "--train", "--set", "epochs"]) == 2
    assert "PARAM=VALUE" in capsys.readouterr().err


def test_saved_model_loads_after_train_on_split(tmp_path, synthetic_table):
    data = _write(synthetic_table, tmp_path / "data.csv")
    out = tmp_path / "m"
    assert cli.main(["evaluate", "--data", str(data), "--train", "--recipe", "plain",
                     "--set", "epochs=1", "--set", "hidden_units=8", "--set", "max_len=8",
                     "--output", str(out), "--no-baselines", "--protocol", "full"]) == 0
    assert SequentialRecommender.load(out).scorer.estimator.hidden_units == 8
