"""Every command that reads interactions names columns the same way: flags or a schema."""

from __future__ import annotations

import pandas as pd
import pytest
from seqrec_cli.main import main
from seqrec_trainer import SequentialRecommender
from seqrec_trainer.data.formats import detect_format

FAST = ["--epochs", "1", "--hidden-units", "8", "--num-blocks", "1", "--max-len", "8",
        "--verbose", "0"]
FLAGS = ["--user-col", "userId", "--item-col", "movieId", "--time-col", "timestamp"]


@pytest.fixture
def own_csv(tmp_path, synthetic_table):
    """A CSV whose header starts like MovieLens' but is not its layout (no rating)."""
    path = tmp_path / "mine.csv"
    pd.DataFrame({"userId": synthetic_table["USER_ID"], "movieId": synthetic_table["ITEM_ID"],
                  "timestamp": synthetic_table["TIMESTAMP"]}).to_csv(path, index=False)
    return path


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n"
                    "  - {name: USER_ID, source: userId, type: id}\n"
                    "  - {name: ITEM_ID, source: movieId, type: id}\n"
                    "  - {name: TIMESTAMP, source: timestamp, type: timestamp}\n")
    return path


def test_only_the_exact_movielens_header_is_sniffed(tmp_path, own_csv):
    assert detect_format(own_csv) == "csv"
    exact = tmp_path / "ratings.csv"
    exact.write_text("userId,movieId,rating,timestamp\n1,2,4.0,10\n")
    assert detect_format(exact) == "movielens-csv"


def test_without_names_the_error_says_how_to_map_columns(tmp_path, own_csv, capsys):
    assert main(["train", "--interactions", str(own_csv), "--output", str(tmp_path / "m"),
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert "missing required column" in err and "--user-col userId" in err
    assert "--schema" in err and "Traceback" not in err


@pytest.mark.parametrize("how", ["flags", "schema"])
def test_every_command_reads_named_columns(tmp_path, own_csv, schema, synthetic_table,
                                           capsys, how):
    names = FLAGS if how == "flags" else ["--schema", str(schema)]
    model = tmp_path / "model"
    assert main(["train", "--interactions", str(own_csv), "--output", str(model), *FAST,
                 *names]) == 0
    assert SequentialRecommender.load(model).max_len == 8
    refit = tmp_path / "refit"
    assert main(["refit-prior", str(model), "--interactions", str(own_csv), "--output",
                 str(refit), "--item-prior-weight", "2", *names]) == 0
    assert SequentialRecommender.load(refit).scorer.estimator.item_prior_weight == 2
    out = tmp_path / "recs.csv"
    assert main(["recommend", str(model), "--interactions", str(own_csv), "--top-k", "2",
                 "--output", str(out), *names]) == 0
    n_users = len(set(synthetic_table["USER_ID"].tolist()))
    assert len(out.read_text().splitlines()) == 1 + 2 * n_users
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(own_csv), "--protocol",
                 "full", "--ks", "10", *names]) == 0
    assert "full" in capsys.readouterr().out


def test_flags_name_existing_columns_only(tmp_path, own_csv, schema, capsys):
    out = tmp_path / "m"
    assert main(["train", "--interactions", str(own_csv), "--output", str(out), *FAST,
                 "--user-col", "user", "--item-col", "movieId", "--time-col", "timestamp"]) == 2
    err = capsys.readouterr().err
    assert "no column 'user'" in err and "userId" in err
    assert main(["train", "--interactions", str(own_csv), "--output", str(out), *FAST,
                 *FLAGS, "--schema", str(schema)]) == 2
    assert "either --schema or the column flags" in capsys.readouterr().err
    assert not out.exists()
