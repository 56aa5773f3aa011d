"""InteractionsDataset / ItemsDataset: input forms, schemas and typed errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from seqrec_runtime.errors import (
    EmptyInputError,
    IdTypeError,
    MissingValueError,
    SchemaError,
    SeqrecError,
    TimestampTypeError,
)
from seqrec_trainer import InteractionsDataset, ItemsDataset
from seqrec_trainer.data.training import build_vocabulary

BASE = {
    "USER_ID": [1, 1, 2, 2, 3],
    "ITEM_ID": [10, 11, 10, 12, 13],
    "TIMESTAMP": [100, 200, 150, 160, 50],
    "OUTCOME": [1.0, 0.5, 1.0, 2.0, 1.0],
}
REQUIRED = ["USER_ID", "ITEM_ID", "TIMESTAMP"]


def _with(column: str, values) -> dict:
    return {**BASE, column: values}


def _assert_typed(excinfo, column: str | None = None) -> None:
    """Every bad-input error is a SeqrecError and a ValueError/TypeError naming the column."""
    err = excinfo.value
    assert isinstance(err, SeqrecError)
    assert isinstance(err, (ValueError, TypeError))
    if column is not None:
        assert column in str(err)


def _assert_same_data(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# ------------------------------------------------------------------ input forms
@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda d: d, id="dict-of-lists"),
        pytest.param(lambda d: {k: np.asarray(v) for k, v in d.items()}, id="dict-of-arrays"),
        pytest.param(pd.DataFrame, id="dataframe"),
        pytest.param(
            lambda d: pd.DataFrame(d, index=[40, 7, 13, 99, 2]), id="dataframe-custom-index"
        ),
        pytest.param(
            lambda d: pd.DataFrame(d).sample(frac=1.0, random_state=3).sort_index(),
            id="dataframe-shuffled-then-sorted-index",
        ),
        pytest.param(
            lambda d: pd.DataFrame(d, index=pd.Index(list("edcba"), name="row")),
            id="dataframe-string-index",
        ),
        pytest.param(pa.table, id="pyarrow-table"),
    ],
)
def test_input_forms_give_identical_datasets(convert):
    expected = InteractionsDataset({k: np.asarray(v) for k, v in BASE.items()}).fetch_data()
    _assert_same_data(InteractionsDataset(convert(BASE)).fetch_data(), expected)
    assert expected["USER_ID"].dtype == np.int64
    assert expected["TIMESTAMP"].dtype == np.int64
    assert expected["OUTCOME"].dtype == np.float32


@pytest.mark.parametrize("container", [pd.DataFrame, pa.table])
def test_long_text_id_columns_are_held_grouped_and_expanded_on_fetch(container):
    """Long pandas/pyarrow text id columns are kept as distinct ids + codes (what training
    reads); fetch_data still gives one id per row, identical to the numpy-array input."""
    rng = np.random.default_rng(0)
    n = 5_000
    arrays = {"USER_ID": np.array([f"u{k}" for k in rng.integers(0, 300, n)]),
              "ITEM_ID": np.array([f"i-{k:03d}" for k in rng.integers(0, 90, n)]),
              "TIMESTAMP": rng.integers(0, 10**6, n)}
    dataset = InteractionsDataset(container(arrays))
    assert len(dataset) == n
    grouped = dataset.fetch_grouped()
    for name in ("USER_ID", "ITEM_ID"):
        ids = grouped[name]
        assert len(ids.distinct) == len(np.unique(arrays[name])) and len(ids.codes) == n
    _assert_same_data(dataset.fetch_data(), InteractionsDataset(arrays).fetch_data())
    assert dataset.fetch_data() is dataset.fetch_data()  # expanded once


def test_dataframe_index_is_ignored_not_aligned():
    """A filtered DataFrame (index with gaps) must give values in positional order."""
    frame = pd.DataFrame(BASE)
    filtered = frame[frame.USER_ID != 2]  # index [0, 1, 4]
    data = InteractionsDataset(filtered).fetch_data()
    np.testing.assert_array_equal(data["ITEM_ID"], [10, 11, 13])
    np.testing.assert_array_equal(data["TIMESTAMP"], [100, 200, 50])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_paths_load(tmp_path, suffix):
    table = pa.table(BASE)
    path = tmp_path / f"interactions{suffix}"
    if suffix == ".csv":
        pcsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    from_path = InteractionsDataset(path).fetch_data()
    from_str = InteractionsDataset(str(path)).fetch_data()
    _assert_same_data(from_path, InteractionsDataset(table).fetch_data())
    _assert_same_data(from_str, from_path)


def test_csv_ids_written_differently_stay_distinct(tmp_path):
    """pyarrow would read "07" and "7" as the same integer 7: ids are read as text first."""
    path = tmp_path / "ids.csv"
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP\n001,07,1\n1,7,2\n1,8,3\n")
    data = InteractionsDataset(path).fetch_data()
    assert data["USER_ID"].tolist() == ["001", "1", "1"]
    assert data["ITEM_ID"].tolist() == ["07", "7", "8"]
    assert len(build_vocabulary(data, None).ids) == 3  # three distinct items, none merged


def test_csv_plain_integer_ids_stay_integers(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP\n1,7,1\n1,-7,2\n20,0,3\n")
    data = InteractionsDataset(path).fetch_data()
    assert data["USER_ID"].dtype == np.int64 and data["ITEM_ID"].dtype == np.int64
    assert data["ITEM_ID"].tolist() == [7, -7, 0]


def test_csv_empty_id_cell_is_missing_not_an_empty_id(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP\n1,a,1\n1,,2\n")
    with pytest.raises(MissingValueError, match="ITEM_ID"):
        InteractionsDataset(path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(FileNotFoundError):
        InteractionsDataset(tmp_path / "nope.csv")
    other = tmp_path / "data.xlsx"
    other.write_text("x")
    with pytest.raises(SchemaError, match="SASRec .txt or MovieLens .dat"):
        InteractionsDataset(other)


def test_public_interaction_formats_are_read_by_their_loaders(tmp_path):
    import gzip

    sasrec = tmp_path / "ml.txt.gz"
    sasrec.write_bytes(gzip.compress(b"1 10\n1 11\n2 10\n2 12 \n"))
    data = InteractionsDataset(sasrec).fetch_data()
    assert data["ITEM_ID"].tolist() == [10, 11, 10, 12]
    assert data["TIMESTAMP"].tolist() == [0, 1, 0, 1] and "OUTCOME" not in data
    dat = tmp_path / "ratings.dat"
    dat.write_text("1::10::5::978300760\n1::11::3::978302109\n")
    data = InteractionsDataset(dat).fetch_data()
    assert data["TIMESTAMP"].tolist() == [978300760, 978302109]
    assert "OUTCOME" not in data  # implicit feedback: the rating is RATING, see test_rating_files
    movielens_csv = tmp_path / "ratings.csv"
    movielens_csv.write_bytes("\ufeffuserId,movieId,rating,timestamp\n7,1,4.5,9\n".encode())
    data = InteractionsDataset(movielens_csv).fetch_data()
    assert data["USER_ID"].tolist() == [7] and "OUTCOME" not in data


def test_a_malformed_public_format_file_names_the_line(tmp_path):
    from seqrec_trainer.evaluation import DataFileError

    bad = tmp_path / "ml.txt"
    bad.write_text("1 10\n1 x\n")
    with pytest.raises(DataFileError, match="line 2: bad ITEM_ID value 'x'"):
        InteractionsDataset(bad)


def test_items_dataset_does_not_read_interaction_formats(tmp_path):
    items = tmp_path / "items.txt"
    items.write_text("1 10\n")
    with pytest.raises(SchemaError, match="unsupported file type; use .csv, .tsv or .parquet$"):
        ItemsDataset(items)


def test_outcome_is_optional_and_extra_columns_are_ignored():
    data = InteractionsDataset({k: BASE[k] for k in REQUIRED} | {"EXTRA": list("abcde")})
    assert set(data.fetch_data()) == set(REQUIRED)
    assert len(data) == 5


def test_unsupported_object_is_a_schema_error():
    with pytest.raises(SchemaError):
        InteractionsDataset([(1, 2, 3)])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("column", REQUIRED)
@pytest.mark.parametrize("container", [dict, pd.DataFrame, pa.table])
def test_missing_required_column_is_named(column, container):
    data = container({k: v for k, v in BASE.items() if k != column})
    with pytest.raises(SchemaError) as excinfo:
        InteractionsDataset(data)
    _assert_typed(excinfo, column)


@pytest.mark.parametrize("column", ["USER_ID", "ITEM_ID", "TIMESTAMP", "OUTCOME"])
@pytest.mark.parametrize("missing", [np.nan, None], ids=["nan", "none"])
@pytest.mark.parametrize("container", [dict, pd.DataFrame], ids=["dict", "dataframe"])
def test_missing_values_give_a_typed_error_naming_the_column(column, missing, container):
    values = list(BASE[column])
    values[2] = missing
    with pytest.raises(MissingValueError) as excinfo:
        InteractionsDataset(container(_with(column, values)))
    _assert_typed(excinfo, column)


@pytest.mark.parametrize("column", ["USER_ID", "ITEM_ID"])
def test_string_ids_with_none_are_missing_values(column):
    values = ["a", "b", None, "d", "e"]
    with pytest.raises(MissingValueError) as excinfo:
        InteractionsDataset(pd.DataFrame(_with(column, values)))
    _assert_typed(excinfo, column)


def test_nat_timestamp_is_a_missing_value():
    stamps = pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-04", "2024-01-05"])
    with pytest.raises(MissingValueError) as excinfo:
        InteractionsDataset(pd.DataFrame(_with("TIMESTAMP", stamps)))
    _assert_typed(excinfo, "TIMESTAMP")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({k: [] for k in REQUIRED}, id="dict"),
        pytest.param(pd.DataFrame({k: pd.Series([], dtype="int64") for k in REQUIRED}), id="df"),
        pytest.param(pa.table({k: pa.array([], pa.int64()) for k in REQUIRED}), id="arrow"),
    ],
)
def test_empty_data(data):
    with pytest.raises(EmptyInputError) as excinfo:
        InteractionsDataset(data)
    _assert_typed(excinfo)


@pytest.mark.parametrize("column", ["USER_ID", "ITEM_ID"])
@pytest.mark.parametrize("container", [dict, pd.DataFrame], ids=["dict", "dataframe"])
def test_mixed_int_and_str_ids_are_refused(column, container):
    values = list(BASE[column])
    values[1] = str(values[0])  # 3 next to "3"
    with pytest.raises(IdTypeError) as excinfo:
        InteractionsDataset(container(_with(column, values)))
    _assert_typed(excinfo, column)


@pytest.mark.parametrize("column", ["USER_ID", "ITEM_ID"])
def test_float_ids_with_fractions_are_refused(column):
    values = [float(v) for v in BASE[column]]
    values[3] += 0.5
    with pytest.raises(IdTypeError) as excinfo:
        InteractionsDataset(_with(column, values))
    _assert_typed(excinfo, column)


def test_boolean_ids_are_refused():
    with pytest.raises(IdTypeError) as excinfo:
        InteractionsDataset(_with("ITEM_ID", [True, False, True, True, False]))
    _assert_typed(excinfo, "ITEM_ID")


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([10, 11.0, 10.0, 12, 13], id="list-int-and-float"),
        pytest.param(np.array([10.0, 11.0, 10.0, 12.0, 13.0]), id="float-array"),
        pytest.param(pd.Series([10, 11.0, 10.0, 12, 13], dtype=object), id="object-series"),
    ],
)
def test_integral_floats_are_the_same_ids_as_ints(items):
    as_float = InteractionsDataset(_with("ITEM_ID", items)).fetch_data()
    as_int = InteractionsDataset(BASE).fetch_data()
    _assert_same_data(as_float, as_int)
    # one item, not two: the vocabulary of both tables together has 4 items
    both = {k: np.concatenate([as_float[k], as_int[k]]) for k in REQUIRED}
    assert len(build_vocabulary(both, None)) == 4


@pytest.mark.parametrize("container", [dict, pd.DataFrame, pa.table])
def test_string_timestamps_are_refused(container):
    stamps = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    with pytest.raises(TimestampTypeError) as excinfo:
        InteractionsDataset(container(_with("TIMESTAMP", stamps)))
    _assert_typed(excinfo, "TIMESTAMP")


def test_datetime_timestamps_become_nanoseconds():
    stamps = pd.to_datetime(["2024-01-01 00:00", "2024-01-02 00:00", "2024-01-01 12:00",
                             "2024-01-03 00:00", "2023-12-31 00:00"])
    data = InteractionsDataset(pd.DataFrame(_with("TIMESTAMP", stamps))).fetch_data()
    assert data["TIMESTAMP"].dtype == np.int64
    np.testing.assert_array_equal(data["TIMESTAMP"], stamps.to_numpy().astype("datetime64[ns]")
                                  .view(np.int64))


def test_non_numeric_outcome_is_a_schema_error():
    with pytest.raises(SchemaError) as excinfo:
        InteractionsDataset(_with("OUTCOME", ["good", "bad", "x", "y", "z"]))
    _assert_typed(excinfo, "OUTCOME")


# ------------------------------------------------------------------ client schemas
def _schema(tmp_path, text: str):
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    return path


DATETIME_SCHEMA = """
columns:
  - name: USER_ID
    type: id
  - name: ITEM_ID
    type: id
  - name: TIMESTAMP
    type: datetime
"""


@pytest.mark.parametrize("container", [dict, pd.DataFrame, pa.table])
def test_client_schema_datetime_parses_iso_strings(tmp_path, container):
    iso = ["2024-01-01T10:00:00", "2024-01-01T09:00:00", "2024-03-05", "2023-12-31T23:59:59",
           "2024-01-01T10:00:00.5"]
    data = InteractionsDataset(container(_with("TIMESTAMP", iso)),
                               client_schema_path=_schema(tmp_path, DATETIME_SCHEMA)).fetch_data()
    expected = np.array(iso, dtype="datetime64[ns]").view(np.int64)
    np.testing.assert_array_equal(data["TIMESTAMP"], expected)
    assert data["TIMESTAMP"].dtype == np.int64
    assert "OUTCOME" not in data  # not declared by this schema


def test_client_schema_datetime_rejects_non_iso_text(tmp_path):
    with pytest.raises(TimestampTypeError) as excinfo:
        InteractionsDataset(_with("TIMESTAMP", ["yesterday"] * 5),
                            client_schema_path=_schema(tmp_path, DATETIME_SCHEMA))
    _assert_typed(excinfo, "TIMESTAMP")


RENAME_SCHEMA = """
columns:
  - name: USER_ID
    source: customer_id
    type: id
  - name: ITEM_ID
    source: sku
    type: str
  - name: TIMESTAMP
    type: timestamp
  - name: OUTCOME
    source: rating
    type: float
    required: false
"""


def test_client_schema_source_renames_columns(tmp_path):
    client = pd.DataFrame({
        "customer_id": BASE["USER_ID"],
        "sku": BASE["ITEM_ID"],
        "TIMESTAMP": BASE["TIMESTAMP"],
        "rating": BASE["OUTCOME"],
        "USER_ID": [9, 9, 9, 9, 9],  # a stray column with the target name is not used
    })
    data = InteractionsDataset(client, client_schema_path=_schema(tmp_path, RENAME_SCHEMA))
    out = data.fetch_data()
    assert set(out) == {"USER_ID", "ITEM_ID", "TIMESTAMP", "OUTCOME"}
    np.testing.assert_array_equal(out["USER_ID"], BASE["USER_ID"])
    np.testing.assert_array_equal(out["ITEM_ID"], [str(v) for v in BASE["ITEM_ID"]])
    assert out["ITEM_ID"].dtype.kind == "U"  # type: str casts 10 -> "10"
    np.testing.assert_allclose(out["OUTCOME"], BASE["OUTCOME"])


def test_client_schema_missing_source_column_is_named(tmp_path):
    client = {"customer_id": BASE["USER_ID"], "TIMESTAMP": BASE["TIMESTAMP"]}
    with pytest.raises(SchemaError) as excinfo:
        InteractionsDataset(client, client_schema_path=_schema(tmp_path, RENAME_SCHEMA))
    _assert_typed(excinfo, "sku")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("columns: [", id="invalid-yaml"),
        pytest.param("cols: []", id="no-columns"),
        pytest.param("columns:\n  - type: id\n", id="no-name"),
        pytest.param("columns:\n  - name: USER_ID\n    type: uuid\n", id="bad-type"),
    ],
)
def test_bad_client_schema(tmp_path, text):
    with pytest.raises(SchemaError) as excinfo:
        InteractionsDataset(BASE, client_schema_path=_schema(tmp_path, text))
    _assert_typed(excinfo)


def test_int_schema_refuses_text(tmp_path):
    schema = "columns:\n  - name: ITEM_ID\n    type: int\n"
    with pytest.raises(SchemaError) as excinfo:
        ItemsDataset({"ITEM_ID": ["a", "b"]}, client_schema_path=_schema(tmp_path, schema))
    _assert_typed(excinfo, "ITEM_ID")


def test_long_text_id_columns_under_client_schemas(tmp_path):
    """Grouped (long pandas) text columns go through the schema's casts like short ones."""
    n = 5_000
    digits = pd.DataFrame({"ITEM_ID": [str(k % 70) for k in range(n)]})
    text = pd.DataFrame({"ITEM_ID": [f"a{k % 70}" for k in range(n)]})
    int_schema = _schema(tmp_path, "columns:\n  - name: ITEM_ID\n    type: int\n")
    with pytest.raises(SchemaError) as excinfo:
        ItemsDataset(text, client_schema_path=int_schema)
    _assert_typed(excinfo, "ITEM_ID")
    as_int = ItemsDataset(digits, client_schema_path=int_schema).fetch_data()["ITEM_ID"]
    np.testing.assert_array_equal(as_int, np.arange(n) % 70)
    str_schema = _schema(tmp_path, "columns:\n  - name: ITEM_ID\n    type: str\n")
    as_str = ItemsDataset(text, client_schema_path=str_schema).fetch_data()["ITEM_ID"]
    np.testing.assert_array_equal(as_str, np.array(text["ITEM_ID"], dtype=str))


# ------------------------------------------------------------------ items
def test_items_dataset():
    items = ItemsDataset(pd.DataFrame({"ITEM_ID": [3, 1.0, 2], "TITLE": ["c", "a", "b"]}))
    np.testing.assert_array_equal(items.fetch_data()["ITEM_ID"], [3, 1, 2])
    assert set(items.fetch_data()) == {"ITEM_ID"}
    with pytest.raises(SchemaError) as excinfo:
        ItemsDataset({"ID": [1, 2]})
    _assert_typed(excinfo, "ITEM_ID")


def test_catalogue_of_another_id_type_is_refused():
    interactions = InteractionsDataset(BASE).fetch_data()
    with pytest.raises(IdTypeError) as excinfo:
        build_vocabulary(interactions, ItemsDataset({"ITEM_ID": ["10", "11"]}).fetch_data())
    _assert_typed(excinfo)
