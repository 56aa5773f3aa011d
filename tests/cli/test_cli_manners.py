"""``seqrec`` command-line manners: version, help texts, errors, overwrite, warnings."""

from __future__ import annotations

import inspect
import re
import warnings

import pandas as pd
import pytest
from seqrec_cli.flags import parameter_docs, strip_rest
from seqrec_cli.main import build_parser, main
from seqrec_trainer import SASRecClassifierEstimator, __version__
from seqrec_trainer.presets import PRESETS

FAST = ["--epochs", "1", "--hidden-units", "8", "--num-blocks", "1", "--max-len", "6",
        "--verbose", "0"]


@pytest.fixture
def train_csv(tmp_path, synthetic_table):
    path = tmp_path / "train.csv"
    pd.DataFrame(synthetic_table).to_csv(path, index=False)
    return path


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"seqrec {__version__}"


def test_every_option_has_help_without_rest_markup():
    for command, parser in _subparsers().items():
        for action in parser._actions:
            if action.dest in ("help", "version") or not action.option_strings:
                continue
            assert action.help, f"seqrec {command} {action.option_strings[0]} has no help"
            assert "``" not in action.help and ":class:" not in action.help, action.help
            assert not re.search(r":[a-z]+:`", action.help)
            if action.nargs != 0 and not action.required:  # takes a value: says its default
                text = action.help.lower()
                assert "default" in text or "required" in text, (command, action.option_strings)


def test_train_flags_mirror_the_estimator_signature():
    train = _subparsers()["train"]
    flags = {a.dest: a for a in train._actions}
    for name, param in inspect.signature(SASRecClassifierEstimator.__init__).parameters.items():
        if name == "self":
            continue
        assert name in flags, f"estimator parameter {name} cannot be set from seqrec train"
        if name not in ("max_len", "verbose"):
            default = param.default
            shown = "none" if default is None else str(default).lower() if isinstance(
                default, bool) else str(default)
            assert f"Default: {shown}" in flags[name].help, (name, flags[name].help)
    assert "one of: adam, adamw, sgd" in flags["optimizer_name"].help
    assert "bce (classifier), mse (regressor)" in flags["loss_fn_name"].help
    for preset in PRESETS:
        assert preset in flags["preset"].help


def test_help_text_helpers():
    assert strip_rest("``x`` and :class:`~a.b.Klass` or :mod:`a.b`") == "x and Klass or a.b"
    docs = parameter_docs('''Doc.

    Parameters
    ----------
    a, b
        Shared ``text``.
    c
        Own text.

    Returns
    -------
    d
        Not a parameter.
    ''')
    assert docs == {"a": "Shared text.", "b": "Shared text.", "c": "Own text."}


def test_flag_values_are_parsed_like_the_estimator_takes_them(tmp_path, train_csv):
    parser = build_parser()
    args = parser.parse_args(["train", "--interactions", "x", "--output", "y",
                              "--early-stopping-patience", "none", "--random-state", "3",
                              "--no-pack-sequences", "--max-grad-norm", "1.5"])
    assert args.early_stopping_patience is None and args.random_state == 3
    assert args.pack_sequences is False and args.max_grad_norm == 1.5
    args = parser.parse_args(["train", "--interactions", "x", "--output", "y",
                              "--early-stopping-patience", "auto"])
    assert args.early_stopping_patience == "auto" and args.pack_sequences is None


@pytest.mark.parametrize("command", [
    ["train", "--interactions", "{missing}", "--output", "{tmp}/m"],
    ["refit-prior", "{model}", "--interactions", "{missing}", "--output", "{tmp}/m2"],
    ["recommend", "{model}", "--interactions", "{missing}"],
    ["evaluate", "--model", "{model}", "--data", "{missing}"],
])
def test_a_missing_input_file_is_the_same_error_everywhere(tmp_path, train_csv, capsys,
                                                            command):
    model = tmp_path / "model"
    assert main(["train", "--interactions", str(train_csv), "--output", str(model), *FAST]) == 0
    capsys.readouterr()
    missing = tmp_path / "nope.csv"
    argv = [part.format(missing=missing, tmp=tmp_path, model=model) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"seqrec {command[0]}: error: no such file: {missing}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [
    ["export", "{missing}", "{tmp}/artifact"],
    ["refit-prior", "{missing}", "--interactions", "{csv}", "--output", "{tmp}/m2"],
    ["recommend", "{missing}", "--interactions", "{csv}"],
])
def test_a_missing_directory_is_reported_as_such(tmp_path, train_csv, capsys, command):
    missing = tmp_path / "no-model"
    argv = [part.format(missing=missing, tmp=tmp_path, csv=train_csv) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"no such directory: {missing}" in err and "Traceback" not in err


def test_train_output_needs_overwrite_to_replace_a_model(tmp_path, train_csv, capsys):
    model = tmp_path / "model"
    argv = ["train", "--interactions", str(train_csv), "--output", str(model), *FAST]
    assert main(argv) == 0
    weights = (model / "weights.pt").read_bytes()
    assert main(argv) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (model / "weights.pt").read_bytes() == weights
    assert main([*argv, "--overwrite", "--random-state", "7"]) == 0


def test_warnings_name_the_command_not_the_launcher(tmp_path, train_csv, capsys):
    model = tmp_path / "model"
    assert main(["train", "--interactions", str(train_csv), "--output", str(model), *FAST]) == 0
    cold = tmp_path / "cold.csv"
    cold.write_text("USER_ID,ITEM_ID,TIMESTAMP\n999,123456,1\n")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["recommend", str(model), "--interactions", str(cold), "--top-k", "2"]) == 0
    captured = capsys.readouterr()
    assert "seqrec recommend: warning:" in captured.err and "ColdUserWarning" in captured.err
    assert ".py:" not in captured.err and "bin/seqrec" not in captured.err
    header, *rows = captured.out.splitlines()
    assert header == "USER_ID,RANK,ITEM_ID,SCORE" and len(rows) == 2


def test_recommend_leaves_seen_items_out_unless_include_seen(tmp_path, train_csv,
                                                            synthetic_table, capsys):
    model = tmp_path / "model"
    assert main(["train", "--interactions", str(train_csv), "--output", str(model), *FAST]) == 0
    n_items = len(set(synthetic_table["ITEM_ID"].tolist()))
    user = synthetic_table["USER_ID"][0]
    seen = set(synthetic_table["ITEM_ID"][synthetic_table["USER_ID"] == user].tolist())

    def recommended(*flags):
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["recommend", str(model), "--interactions", str(train_csv),
                         "--top-k", str(n_items), *flags]) == 0
        rows = [line.split(",") for line in capsys.readouterr().out.splitlines()[1:]]
        return [(int(i), float(s)) for u, _, i, s in rows if int(u) == user]

    default = recommended()
    assert not {i for i, _ in default} & seen
    assert 0 < len(default) <= n_items - len(seen)  # clipped to the fewest items left
    assert [s for _, s in default] == sorted((s for _, s in default), reverse=True)
    included = recommended("--include-seen")
    assert {i for i, _ in included} >= seen


def test_recommend_scores_are_the_model_scores_chunk_by_chunk(tmp_path, train_csv,
                                                               synthetic_table, capsys,
                                                               monkeypatch):
    import numpy as np
    import seqrec_cli.recommend as cli
    from seqrec_trainer import SequentialRecommender

    model_dir = tmp_path / "model"
    assert main(["train", "--interactions", str(train_csv), "--output", str(model_dir),
                 *FAST]) == 0
    model = SequentialRecommender.load(model_dir)
    monkeypatch.setattr(cli, "SCORE_CELLS_PER_CHUNK", 3 * len(model.item_ids_))  # 3 users
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["recommend", str(model_dir), "--interactions", str(train_csv),
                     "--top-k", "4"]) == 0
        users, scores = model.score_items(synthetic_table, return_user_ids=True)
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()[1:]]
    assert len(rows) == 4 * len(users)
    row_of = {u: r for r, u in enumerate(users.tolist())}
    column = {item: j for j, item in enumerate(model.item_ids_.tolist())}
    for user, _rank, item, score in rows:
        expected = scores[row_of[int(user)], column[int(item)]]
        np.testing.assert_allclose(float(score), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("old, new, name", [
    ("seqrec_trainer.cli", "seqrec_cli.main", "main"),
    ("seqrec_trainer.cli_params", "seqrec_cli.flags", "add_estimator_flags"),
    ("seqrec_trainer.evaluation.cli", "seqrec_cli.evaluate", "main"),
    ("seqrec_trainer.demo", "seqrec_cli.demo", "main"),
])
def test_old_command_line_modules_still_work_with_a_deprecation_warning(old, new, name):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_the_trainer_and_the_exporter_never_import_the_command_line():
    import subprocess
    import sys

    code = ("import sys, seqrec_trainer, seqrec_export, seqrec_export.api; "
            "import seqrec_trainer.evaluation, seqrec_trainer.distributed; "
            "print(sorted(m for m in sys.modules if m.startswith('seqrec_cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
