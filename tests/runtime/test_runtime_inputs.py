"""dict, pandas and pyarrow inputs give identical results."""

from __future__ import annotations

import numpy as np
import pytest
from seqrec_runtime import ColdUserWarning, IdTypeError, SchemaError, TimestampTypeError


def _results(rt, table):
    with pytest.warns(ColdUserWarning):
        return (
            rt.score_items(table, return_user_ids=True),
            rt.recommend(table, top_k=12, exclude_seen=True),
            rt.recommend(table, top_k=5, sampling_temperature=0.5, random_state=9),
        )


def _assert_same(a, b):
    (users_a, scores_a), *recs_a = a
    (users_b, scores_b), *recs_b = b
    np.testing.assert_array_equal(users_a, users_b)
    np.testing.assert_array_equal(scores_a, scores_b)
    for x, y in zip(recs_a, recs_b, strict=True):
        np.testing.assert_array_equal(x, y)


def _with_extra_columns(interactions):
    table = dict(interactions)
    table["OUTCOME"] = np.ones(len(interactions["USER_ID"]))
    return table


def test_lists_and_arrays(rt, interactions):
    as_lists = {k: v.tolist() for k, v in interactions.items()}
    _assert_same(_results(rt, interactions), _results(rt, as_lists))
    _assert_same(_results(rt, interactions), _results(rt, _with_extra_columns(interactions)))


def test_pandas(rt, interactions):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(interactions)
    frame.index = np.arange(len(frame))[::-1]  # the index is ignored
    _assert_same(_results(rt, interactions), _results(rt, frame))


def test_pandas_datetime_timestamps(rt, interactions):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(interactions)
    frame["TIMESTAMP"] = pd.to_datetime(frame["TIMESTAMP"], unit="s")
    _assert_same(_results(rt, interactions), _results(rt, frame))


def test_pyarrow(rt, interactions):
    pa = pytest.importorskip("pyarrow")
    table = pa.table(interactions)
    _assert_same(_results(rt, interactions), _results(rt, table))


def test_pyarrow_string_ids(fake_string_artifact):
    pa = pytest.importorskip("pyarrow")
    import runtime_fakes
    import seqrec_runtime

    rt = seqrec_runtime.load(fake_string_artifact)
    data = runtime_fakes.make_interactions(np.asarray(rt.item_ids_), n_users=20, seed=3)
    _assert_same(_results(rt, data), _results(rt, pa.table(data)))


def _one_user(rt, **columns):
    table = {"USER_ID": [1, 1], "ITEM_ID": [int(i) for i in rt.item_ids_[:2]],
             "TIMESTAMP": [1, 2]}
    return table | columns


@pytest.mark.parametrize(
    "column, values, error",
    [
        ("USER_ID", [1, True], IdTypeError),  # numpy would merge True into user 1
        ("USER_ID", [np.True_, 2], IdTypeError),
        ("ITEM_ID", [3, True], IdTypeError),
        ("TIMESTAMP", [5, True], TimestampTypeError),  # would sort True as 1
        ("TIMESTAMP", (5.5, False), TimestampTypeError),
    ],
)
def test_booleans_among_numbers_in_a_list_are_refused(rt, column, values, error):
    with pytest.raises(error, match=column):
        rt.score_items(_one_user(rt, **{column: values}))


def test_float_ids_at_2_pow_53_are_refused(rt):
    # float64(2**53 + 1) == 2**53: the two users would silently become one
    table = _one_user(rt, USER_ID=[2**53 + 1, 1.0])
    with pytest.raises(IdTypeError, match="2\\*\\*53"):
        rt.score_items(table)
    with pytest.raises(IdTypeError, match="2\\*\\*53"):
        rt.score_items(_one_user(rt, USER_ID=[2.0**53, 1.0]))
    assert rt.score_items(_one_user(rt, USER_ID=[2.0**53 - 1, 1.0])).shape == (2, rt.n_items)


def test_pyarrow_duplicate_column_is_a_schema_error(rt):
    pa = pytest.importorskip("pyarrow")
    table = pa.table([[1], [int(rt.item_ids_[0])], [1], [2]],
                     names=["USER_ID", "ITEM_ID", "TIMESTAMP", "TIMESTAMP"])
    with pytest.raises(SchemaError, match="'TIMESTAMP' appears 2 times"):
        rt.score_items(table)


@pytest.mark.parametrize("dtype", ["object", "string", "str", "category"])
def test_long_pandas_text_id_columns_are_factorized_to_the_same_ids(dtype):
    """Long pandas text id columns skip the per-row conversion (``factorize`` first); the
    ids must be the row-by-row path's, and bad values must still be reported by row."""
    pd = pytest.importorskip("pandas")
    from seqrec_runtime import MissingValueError, table

    rng = np.random.default_rng(0)
    ids = np.array([f"user-{u}" for u in rng.integers(0, 700, 9_000)] + ["é雪\U0001F600", ""])
    series = pd.Series(ids, dtype=dtype)
    assert len(series) >= table.FACTORIZE_MIN_ROWS
    fast = table.coded_text_ids(series)
    assert fast is not None  # the fast path is taken
    for column in ("USER_ID", "ITEM_ID"):
        out = table.normalize_ids(table.as_array(series, column), column)
        assert out.dtype.kind == "U"
        np.testing.assert_array_equal(out, ids)
        np.testing.assert_array_equal(out, table.normalize_ids(ids.astype(object), column))
    missing = series.copy()
    missing.iloc[7_001] = None
    assert table.coded_text_ids(missing) is None  # left to the row-by-row check
    with pytest.raises(MissingValueError, match="row 7001"):
        table.normalize_ids(table.as_array(missing, "USER_ID"), "USER_ID")
    if dtype == "object":
        mixed = pd.Series([*ids[:5_000], 3], dtype=object)
        with pytest.raises(IdTypeError, match="mixes text and numbers"):
            table.normalize_ids(table.as_array(mixed, "ITEM_ID"), "ITEM_ID")
        nul = pd.Series([*ids[:5_000], "a\x00"], dtype=object)
        with pytest.raises(IdTypeError, match="NUL"):
            table.normalize_ids(table.as_array(nul, "ITEM_ID"), "ITEM_ID")
        unhashable = pd.Series([*ids[:5_000], ["a"]], dtype=object)  # factorize fails
        assert table.coded_text_ids(unhashable) is None
        with pytest.raises(IdTypeError, match="row 5000"):
            table.normalize_ids(table.as_array(unhashable, "ITEM_ID"), "ITEM_ID")


def test_long_pyarrow_string_id_columns_are_dictionary_encoded_to_the_same_ids():
    pa = pytest.importorskip("pyarrow")
    from seqrec_runtime import MissingValueError, table

    rng = np.random.default_rng(1)
    ids = np.array([f"item-{i}" for i in rng.integers(0, 900, 9_000)] + ["é雪\U0001F600", ""])
    chunks = [ids[:3_000], ids[3_000:3_001], ids[3_001:]]  # each chunk has its own values
    types = [pa.string(), pa.large_string()] + ([pa.string_view()]
                                                if hasattr(pa, "string_view") else [])
    for column in (pa.chunked_array(chunks, type=t) for t in types):
        data = pa.table({"USER_ID": column, "ITEM_ID": column, "TIMESTAMP": np.arange(len(ids))})
        assert table.coded_text_ids(column) is not None  # the fast path is taken
        got = table.get_columns(data, ["USER_ID", "ITEM_ID"])
        for name in ("USER_ID", "ITEM_ID"):
            np.testing.assert_array_equal(table.normalize_ids(got[name], name), ids)
    with_null = pa.chunked_array([ids[:5_000].tolist() + [None]], type=pa.string())
    assert table.coded_text_ids(with_null) is None  # left to the row-by-row check
    data = pa.table({"USER_ID": with_null, "ITEM_ID": with_null,
                     "TIMESTAMP": np.arange(len(with_null))})
    got = table.get_columns(data, ["USER_ID"])
    with pytest.raises(MissingValueError, match="row 5000"):
        table.normalize_ids(got["USER_ID"], "USER_ID")


def test_long_pandas_and_pyarrow_tables_are_grouped_by_their_library_with_dict_results(
    fake_string_artifact, monkeypatch
):
    """read_histories takes long text id columns of DataFrames and pyarrow Tables as
    (distinct values, codes) without one string per row; every result must equal the
    dict-of-arrays input's."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    import seqrec_runtime
    from seqrec_runtime import histories

    rt = seqrec_runtime.load(fake_string_artifact)
    rng = np.random.default_rng(5)
    n = 9_000
    items = np.r_[rt.item_ids_, ["unknown-item"]]
    data = {"USER_ID": np.array([f"user-{u:04d}" for u in rng.integers(0, 700, n)]),
            "ITEM_ID": items[rng.integers(0, len(items), n)],
            "TIMESTAMP": rng.integers(0, 50, n)}
    expected = (rt.score_items(data, return_user_ids=True),
                rt.recommend(data, top_k=7, exclude_seen=True))
    grouped, original = [], histories.sort_distinct

    def spy(distinct, codes):
        grouped.append(len(codes))
        return original(distinct, codes)

    monkeypatch.setattr(histories, "sort_distinct", spy)
    for table in (pd.DataFrame(data), pa.table(data)):
        (users, scores), recs = (rt.score_items(table, return_user_ids=True),
                                 rt.recommend(table, top_k=7, exclude_seen=True))
        np.testing.assert_array_equal(users, expected[0][0])
        np.testing.assert_array_equal(scores, expected[0][1])
        np.testing.assert_array_equal(recs, expected[1])
    assert grouped == [n] * 4  # the coded path ran for every call
