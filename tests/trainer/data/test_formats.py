import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from seqrec_trainer.data.formats import (
    DataFileError,
    detect_format,
    load_interactions,
    load_movielens_csv,
    load_movielens_dat,
    load_sasrec_txt,
    positions_within_user,
)


def _write(path, text, gz=False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_sasrec(tmp_path, gz):
    path = _write(tmp_path / ("d.txt.gz" if gz else "d.txt"), "1 5\n1 3\n2 7\n1 5\n2 1\n", gz)
    data = load_sasrec_txt(path)
    assert data["USER_ID"].tolist() == [1, 1, 2, 1, 2]
    assert data["ITEM_ID"].tolist() == [5, 3, 7, 5, 1]
    assert data["TIMESTAMP"].tolist() == [0, 1, 0, 2, 1]
    assert data["USER_ID"].dtype == np.int64 and "OUTCOME" not in data


def test_sasrec_tabs_and_crlf(tmp_path):
    data = load_sasrec_txt(_write(tmp_path / "t.txt", "1\t2\r\n1\t3\r\n"))
    assert data["ITEM_ID"].tolist() == [2, 3]


@pytest.mark.parametrize("text", ["1 2 \n1 3  \n", "1\t2\t\r\n1\t3 \r\n", "1 2\n1 3\t"])
def test_sasrec_blanks_at_line_end_are_ignored(tmp_path, text):
    data = load_sasrec_txt(_write(tmp_path / "t.txt", text))
    assert data["USER_ID"].tolist() == [1, 1] and data["ITEM_ID"].tolist() == [2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 2\n1 3\n1 x\n", "line 3: bad ITEM_ID value 'x'"),
        ("1 2\n1 3 4\n", "line 2: expected 2 fields, got 3"),
        ("1 2\n\n1\n", "line 3: expected 2 fields, got 1"),
    ],
)
def test_sasrec_bad_line(tmp_path, text, expected):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(DataFileError) as info:
        load_sasrec_txt(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_movielens_dat(tmp_path, gz):
    text = "1::1193::5::978300760\n1::661::3::978302109\n2::914::4::978301968\n"
    data = load_movielens_dat(_write(tmp_path / "r.dat", text, gz))
    assert data["USER_ID"].tolist() == [1, 1, 2]
    assert data["ITEM_ID"].tolist() == [1193, 661, 914]
    assert data["OUTCOME"].tolist() == [5, 3, 4]
    assert data["TIMESTAMP"].tolist() == [978300760, 978302109, 978301968]


def test_movielens_dat_bad_line(tmp_path):
    path = _write(tmp_path / "r.dat", "1::1::5::10\n1::2::5\n")
    with pytest.raises(DataFileError, match=r"r\.dat: line 2: expected 4 fields, got 3"):
        load_movielens_dat(path)


@pytest.mark.parametrize("gz", [False, True])
def test_movielens_csv(tmp_path, gz):
    text = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n"
    data = load_movielens_csv(_write(tmp_path / "ratings.csv", text, gz))
    assert data["ITEM_ID"].tolist() == [1, 3]
    assert data["OUTCOME"].tolist() == [4.0, 3.5]
    assert data["TIMESTAMP"].dtype == np.int64


@pytest.mark.parametrize("gz", [False, True])
def test_movielens_files_with_byte_order_mark_and_trailing_blanks(tmp_path, gz):
    text = "\ufeffuserId,movieId,rating,timestamp \r\n1,1,4.0,964982703 \r\n"
    path = _write(tmp_path / ("ratings.csv.gz" if gz else "ratings.csv"), text, gz)
    assert detect_format(path) == "movielens-csv"
    data = load_interactions(path)
    assert data["ITEM_ID"].tolist() == [1] and data["TIMESTAMP"].tolist() == [964982703]
    dat = load_movielens_dat(_write(tmp_path / "r.dat", "\ufeff1::2::5::10 \n1::3::4::11\n"))
    assert dat["USER_ID"].tolist() == [1, 1] and dat["TIMESTAMP"].tolist() == [10, 11]


def test_movielens_csv_errors(tmp_path):
    with pytest.raises(DataFileError, match="line 1: expected the header"):
        load_movielens_csv(_write(tmp_path / "a.csv", "u,i,r,t\n1,1,4.0,1\n"))
    bad = "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,4.0,soon\n"
    with pytest.raises(DataFileError, match="line 3: bad TIMESTAMP value 'soon'"):
        load_movielens_csv(_write(tmp_path / "b.csv", bad))
    with pytest.raises(DataFileError, match="no interaction rows"):
        load_movielens_csv(_write(tmp_path / "c.csv", "userId,movieId,rating,timestamp\n"))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_sasrec_txt(tmp_path / "nope.txt")
    with pytest.raises(DataFileError, match="no interaction rows"):
        load_sasrec_txt(_write(tmp_path / "empty.txt", ""))


def test_generic_csv_and_parquet(tmp_path):
    text = "USER_ID,ITEM_ID,TIMESTAMP,OUTCOME,extra\na,x,3,1.0,z\nb,y,1,0.0,z\n"
    data = load_interactions(_write(tmp_path / "i.csv", text))
    assert data["USER_ID"].tolist() == ["a", "b"]
    assert data["OUTCOME"].tolist() == [1.0, 0.0]
    pq.write_table(
        pa.table({"USER_ID": [1, 2], "ITEM_ID": [5, 6], "TIMESTAMP": [1, 2]}),
        tmp_path / "i.parquet",
    )
    data = load_interactions(tmp_path / "i.parquet")
    assert data["ITEM_ID"].tolist() == [5, 6]
    with pytest.raises(DataFileError, match="missing required column"):
        load_interactions(_write(tmp_path / "j.csv", "user,item\n1,2\n"), "csv")


def test_detect_format(tmp_path):
    assert detect_format("a/ml-1m.txt.gz") == "sasrec"
    assert detect_format("ratings.dat") == "movielens-dat"
    assert detect_format("x.parquet") == "parquet"
    ml = _write(tmp_path / "r.csv.gz", "userId,movieId,rating,timestamp\n1,1,1,1\n", gz=True)
    assert detect_format(ml) == "movielens-csv"
    assert detect_format(_write(tmp_path / "g.csv", "USER_ID,ITEM_ID,TIMESTAMP\n")) == "csv"
    with pytest.raises(DataFileError, match="cannot tell the format"):
        detect_format("data.bin")
    with pytest.raises(DataFileError, match="unknown format"):
        load_interactions(ml, "xml")


def test_positions_within_user():
    users = np.array([3, 1, 3, 3, 1, 2])
    assert positions_within_user(users).tolist() == [0, 0, 1, 2, 1, 0]
    assert positions_within_user(np.array([], dtype=np.int64)).tolist() == []


def test_old_module_path_still_works_with_a_deprecation_warning():
    import importlib
    import sys

    sys.modules.pop("seqrec_trainer.evaluation.loaders", None)
    with pytest.warns(DeprecationWarning, match="seqrec_trainer.data.formats"):
        old = importlib.import_module("seqrec_trainer.evaluation.loaders")
    from seqrec_trainer.data import formats

    assert old.load_sasrec_txt is formats.load_sasrec_txt
