"""``seqrec train``: presets, flag overrides and max_len resolution."""

from __future__ import annotations

import pandas as pd
import pytest
from seqrec_cli.main import main
from seqrec_trainer import SequentialRecommender
from seqrec_trainer.evaluation import leave_one_out_split


@pytest.fixture
def files(tmp_path, synthetic_table):
    split = leave_one_out_split(synthetic_table)
    train, valid = tmp_path / "train.csv", tmp_path / "valid.csv"
    pd.DataFrame(split.train).to_csv(train, index=False)
    pd.DataFrame(split.valid).to_csv(valid, index=False)
    return train, valid


def _train(files, tmp_path, *flags):
    train, valid = files
    out = tmp_path / "model"
    code = main(["train", "--interactions", str(train), "--valid", str(valid),
                 "--output", str(out), "--verbose", "0", "--epochs", "1",
                 "--hidden-units", "16", *flags])
    assert code == 0
    return SequentialRecommender.load(out)


def test_preset_sets_max_len_and_its_parameters(files, tmp_path):
    params = _train(files, tmp_path, "--preset", "ml-1m").scorer.estimator.get_params()
    assert params["max_len"] == 200  # from the preset, no --max-len given
    assert (params["loss_fn_name"], params["history_windows"], params["dropout_rate"]) == (
        "ce", "all", 0.1
    )


@pytest.mark.filterwarnings("ignore::seqrec_trainer.errors.SlowPrecisionWarning")
def test_flags_override_the_preset(files, tmp_path):
    recommender = _train(files, tmp_path, "--preset", "ml-1m", "--max-len", "12",
                         "--history-windows", "last", "--precision", "bf16",
                         "--item-prior-weight", "0")
    params = recommender.scorer.estimator.get_params()
    assert (params["max_len"], params["history_windows"], params["precision"]) == (
        12, "last", "bf16")
    assert recommender.max_len == 12
    assert params["item_prior_weight"] == 0 and not recommender.scorer.estimator.uses_item_prior


def test_preset_trains_its_item_prior(files, tmp_path):
    estimator = _train(files, tmp_path, "--preset", "ml-1m", "--max-len", "12").scorer.estimator
    assert (estimator.item_prior_weight, estimator.item_prior_l2) == (5.0, 1000.0)
    assert float(estimator.network_.item_prior_matrix.abs().sum()) > 0


def test_low_rank_prior_flags(files, tmp_path):
    estimator = _train(files, tmp_path, "--preset", "ml-1m", "--max-len", "12",
                       "--item-prior-kind", "low_rank", "--item-prior-rank", "8").scorer.estimator
    assert (estimator.item_prior_kind, estimator.item_prior_rank) == ("low_rank", 8)
    assert estimator.network_.item_prior_matrix is None
    assert estimator.network_.item_prior_factors.shape[1] == 8
    assert float(estimator.network_.item_prior_scales.abs().sum()) > 0


def test_without_preset_max_len_defaults_to_50(files, tmp_path):
    assert _train(files, tmp_path).scorer.estimator.get_params()["max_len"] == 50


def test_refit_prior_command_saves_the_model_with_the_new_prior(files, tmp_path, capsys):
    plain = _train(files, tmp_path, "--max-len", "12")
    out = tmp_path / "refit"
    code = main(["refit-prior", str(tmp_path / "model"), "--interactions", str(files[0]),
                 "--item-prior-weight", "2", "--item-prior-l2", "10", "--output", str(out)])
    assert code == 0
    assert '"item_prior_weight": 2.0' in capsys.readouterr().out
    refit = SequentialRecommender.load(out)
    expected = plain.refit_item_prior(pd.read_csv(files[0]), item_prior_weight=2.0,
                                      item_prior_l2=10.0)
    rows = pd.read_csv(files[0])
    assert (refit.score_items(rows) == expected.score_items(rows)).all()
    assert float(refit.scorer.estimator.network_.item_prior_matrix.abs().sum()) > 0


def test_refit_prior_command_reports_a_bad_value(files, tmp_path, capsys):
    _train(files, tmp_path, "--max-len", "12")
    code = main(["refit-prior", str(tmp_path / "model"), "--interactions", str(files[0]),
                 "--item-prior-kind", "svd", "--output", str(tmp_path / "refit")])
    assert code == 2
    assert "item_prior_kind must be one of" in capsys.readouterr().err
    assert not (tmp_path / "refit").exists()


def test_outputs_that_are_not_models_are_never_replaced(files, tmp_path, capsys):
    """``--output`` used to be replaced whatever it was: a CSV file, a directory of other
    files, the current directory. Now refused before training, exit status 2."""
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "keep.txt").write_text("precious")
    train = files[0]
    before = train.read_text()
    args = ["--interactions", str(train), "--verbose", "0", "--epochs", "1",
            "--hidden-units", "8", "--max-len", "8"]
    assert main(["train", *args, "--output", str(unrelated)]) == 2
    assert main(["train", *args, "--output", str(train)]) == 2
    assert "not a saved seqrec model" in capsys.readouterr().err
    assert (unrelated / "keep.txt").read_text() == "precious" and train.read_text() == before
    assert main(["train", *args, "--output", str(tmp_path / "model")]) == 0
    assert main(["train", *args, "--output", str(tmp_path / "model")]) == 2  # a model: ...
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["train", *args, "--output", str(tmp_path / "model"), "--overwrite"]) == 0
    refit = ["refit-prior", str(tmp_path / "model"), "--interactions", str(train)]
    assert main([*refit, "--output", str(unrelated)]) == 2
    assert main([*refit, "--output", str(tmp_path)]) == 2  # holds the model
    assert "would delete it" in capsys.readouterr().err
    SequentialRecommender.load(tmp_path / "model")
    assert (unrelated / "keep.txt").read_text() == "precious"


def test_unwritable_recommend_output_is_a_clear_error(files, tmp_path, capsys):
    _train(files, tmp_path, "--max-len", "8")
    code = main(["recommend", str(tmp_path / "model"), "--interactions", str(files[0]),
                 "--output", str(tmp_path)])  # a directory: IsADirectoryError traceback before
    assert code == 2
    err = capsys.readouterr().err
    assert "seqrec recommend: error:" in err and "Traceback" not in err


def test_train_and_recommend_read_a_sasrec_text_file(tmp_path, synthetic_table, capsys):
    """The paper's ``user item`` file trains and recommends without converting it first."""
    order = sorted(range(len(synthetic_table["USER_ID"])), key=lambda i: (
        synthetic_table["USER_ID"][i], synthetic_table["TIMESTAMP"][i]))
    text = tmp_path / "data.txt"
    text.write_text("".join(f"{synthetic_table['USER_ID'][i]} {synthetic_table['ITEM_ID'][i]}\n"
                            for i in order))
    out = tmp_path / "model"
    assert main(["train", "--interactions", str(text), "--output", str(out), "--verbose", "0",
                 "--epochs", "1", "--hidden-units", "16", "--max-len", "8"]) == 0
    capsys.readouterr()
    assert main(["recommend", str(out), "--interactions", str(text), "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "USER_ID,RANK,ITEM_ID,SCORE"
    assert len(lines) == 1 + 3 * len(set(synthetic_table["USER_ID"].tolist()))
