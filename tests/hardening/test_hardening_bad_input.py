"""Bad input: every case of ``hardening_cases.CASES`` on every entry point.

Trainer (``InteractionsDataset``, ``train``, ``score_items``, ``recommend``) and runtime
(``score_items``, ``recommend``, ``recommend_online``) must raise the same typed error
(a ``SeqrecError`` that is also a ``ValueError``/``TypeError``, naming the column) or
behave as documented in ``docs/errors.md``; and they must behave *identically*.
"""

from __future__ import annotations

import decimal
import fractions
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hardening_cases import CASES, OK
from hardening_support import make_tiny_recommender
from seqrec_runtime import ColdUserWarning
from seqrec_runtime.errors import (
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
    MissingValueError,
    SchemaError,
    SeqrecError,
)
from seqrec_trainer import InteractionsDataset
from seqrec_trainer.errors import NotFittedError

DOCS = Path(__file__).parents[2] / "docs" / "errors.md"
INFER = ("trainer.score_items", "trainer.recommend", "runtime.score_items", "runtime.recommend")


def _call(surface: str, trainer, rt, table):
    owner = trainer if surface.startswith("trainer") else rt
    if surface.endswith("score_items"):
        return owner.score_items(table, return_user_ids=True)
    return owner.recommend(table, top_k=5, exclude_seen=True, return_user_ids=True)


def _outcome(fn, *args, **kwargs):
    """(result or exception, warnings raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - compared by the caller
            result = exc
    return result, [w for w in caught]


def assert_typed(exc: BaseException, expected: type, column: str | None) -> None:
    assert isinstance(exc, expected), f"expected {expected.__name__}, got {exc!r}"
    assert isinstance(exc, SeqrecError) and isinstance(exc, (ValueError, TypeError))
    if column is not None:
        assert column in str(exc), f"message does not name {column}: {exc}"


def _only_documented(caught, cold: bool) -> None:
    kinds = {w.category for w in caught}
    assert kinds <= {ColdUserWarning}, [str(w.message) for w in caught]
    assert (ColdUserWarning in kinds) == cold


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_inference(case, tiny_trainer, golden_rt, vocab):
    """Trainer and runtime: the same error type and message, or the documented result."""
    outcomes = {s: _outcome(_call, s, tiny_trainer, golden_rt, case.build(vocab)) for s in INFER}
    if case.infer is not OK:
        for surface, (exc, _) in outcomes.items():
            assert isinstance(exc, Exception), f"{surface} accepted {case.id}"
            assert_typed(exc, case.infer, case.column)
        for method in ("score_items", "recommend"):
            a, b = outcomes[f"trainer.{method}"][0], outcomes[f"runtime.{method}"][0]
            assert type(a) is type(b) and str(a) == str(b)
        return
    for surface, (result, caught) in outcomes.items():
        assert not isinstance(result, Exception), f"{surface}: {result!r}"
        _only_documented(caught, case.cold)
        users, values = result
        if case.users is not None:
            assert users.tolist() == case.users, surface
        if surface.endswith("score_items"):
            assert values.dtype == np.float32 and np.isfinite(values).all()
        else:
            assert all(len(set(row)) == len(row) for row in values.tolist())
            assert np.isin(values, golden_rt.item_ids_).all()
        if case.same_as is not None and not (case.same_window_only and "recommend" in surface):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ColdUserWarning)
                users2, values2 = _call(surface, tiny_trainer, golden_rt, case.same_as(vocab))
            np.testing.assert_array_equal(users, users2)
            np.testing.assert_array_equal(values, values2, err_msg=surface)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_dataset(case, vocab):
    """``InteractionsDataset`` (what ``train`` validates its input with)."""
    if case.dataset is OK:
        data = InteractionsDataset(case.build(vocab)).fetch_data()
        assert {"USER_ID", "ITEM_ID", "TIMESTAMP"} <= set(data)
        if "OUTCOME" in data:
            assert data["OUTCOME"].dtype == np.float32 and np.isfinite(data["OUTCOME"]).all()
        return
    with pytest.raises(case.dataset) as info:
        InteractionsDataset(case.build(vocab))
    assert_typed(info.value, case.dataset, case.column)


@pytest.mark.parametrize("case", [c for c in CASES if c.train_expect is not OK],
                         ids=lambda c: c.id)
def test_train_refuses(case, vocab):
    """``train`` fails before fitting anything, with the typed error."""
    recommender = make_tiny_recommender()
    with pytest.raises(case.train_expect) as info:
        recommender.train(interactions_ds=case.build(vocab))
    assert_typed(info.value, case.train_expect, case.column)
    assert not hasattr(recommender.scorer, "vocabulary_")


def test_train_on_odd_but_valid_tables(training_table):
    """Unicode ids, duplicate rows, datetime timestamps and weights train fine."""
    table = dict(training_table)
    table["USER_ID"] = np.array([f"ü{u}😀" for u in training_table["USER_ID"]])
    table["TIMESTAMP"] = pd.to_datetime(training_table["TIMESTAMP"], unit="s").to_numpy()
    table = {k: np.concatenate([v, v[:20]]) for k, v in table.items()}  # duplicate rows
    recommender = make_tiny_recommender().train(interactions_ds=table)
    assert np.isfinite(recommender.score_items(table)).all()


def test_diverging_training_is_an_error_not_nan_scores(training_table):
    """Training that blows the weights up to NaN/inf (here a huge learning rate; OUTCOME
    outside the loss's domain is refused before training, see test_training_input_checks):
    a typed error naming the fix, and the recommender stays unfitted (never NaN scores)."""
    recommender = make_tiny_recommender(learning_rate=1e30)
    with pytest.raises(InvalidParameterError, match="diverged") as info:
        recommender.train(interactions_ds=training_table)
    assert_typed(info.value, InvalidParameterError, "learning_rate")
    with pytest.raises(NotFittedError):
        recommender.score_items(training_table)


def test_regressor_with_outcome_is_finite(training_table):
    from seqrec_trainer import SASRecRegressorEstimator

    table = dict(training_table, OUTCOME=np.where(np.arange(len(training_table["USER_ID"])) % 2,
                                                   5.0, -5.0))
    recommender = make_tiny_recommender()
    recommender.scorer.estimator = SASRecRegressorEstimator(
        hidden_units=8, num_blocks=1, num_heads=1, max_len=12, epochs=1, loss_fn_name="mse",
        random_state=0)
    recommender.train(interactions_ds=table)
    assert np.isfinite(recommender.score_items(table)).all()


# ---------------------------------------------------------------- recommend_online
ONLINE = [
    ("list-of-ids", lambda v: [v[3], v[1]], OK),
    ("numpy-str-array", lambda v: np.array([v[3], v[1]]), OK),
    ("object-array", lambda v: np.array([v[3], v[1]], dtype=object), OK),
    ("pandas-series-with-index", lambda v: pd.Series([v[3], v[1]], index=[9, 4]), OK),
    ("bytes-ids", lambda v: [v[3].encode(), v[1].encode()], OK),
    ("empty-history", lambda v: [], ColdUserWarning),
    ("all-unknown", lambda v: ["x", "ÿ-🛒"], ColdUserWarning),
    ("one-string", lambda v: v[3], InvalidParameterTypeError),
    ("bytes-object", lambda v: v[3].encode(), InvalidParameterTypeError),
    ("bytearray", lambda v: bytearray(v[3].encode()), InvalidParameterTypeError),
    ("set", lambda v: {v[3], v[1]}, InvalidParameterTypeError),
    ("dict", lambda v: {v[3]: 1}, InvalidParameterTypeError),
    ("none", lambda v: None, InvalidParameterTypeError),
    ("scalar-int", lambda v: 3, InvalidParameterTypeError),
    ("generator", lambda v: iter([v[3]]), InvalidParameterTypeError),
    ("2d-array", lambda v: np.array([[v[3]], [v[1]]]), InvalidParameterTypeError),
    ("0d-array", lambda v: np.array(v[3]), InvalidParameterTypeError),
    ("list-of-lists", lambda v: [[v[3]], [v[1]]], SchemaError),
    ("ragged-list", lambda v: [[v[3]], [v[1], v[2]]], SchemaError),
    ("none-in-list", lambda v: [v[3], None], MissingValueError),
    ("nan-in-array", lambda v: np.array([1.0, np.nan]), MissingValueError),
    ("mixed-types", lambda v: [v[3], 3], IdTypeError),
    ("ints-for-a-string-model", lambda v: [3, 4], IdTypeError),
    ("float-fraction", lambda v: [3.5], IdTypeError),
    ("bool-array", lambda v: np.array([True]), IdTypeError),
    ("datetime-array", lambda v: np.array(["2024-01-01"], dtype="datetime64[D]"), IdTypeError),
    ("bytes-not-utf8", lambda v: [b"\xff"], IdTypeError),
    ("trailing-NUL", lambda v: [v[3] + "\x00"], IdTypeError),
]


@pytest.mark.parametrize("build, expected", [c[1:] for c in ONLINE], ids=[c[0] for c in ONLINE])
def test_recommend_online_inputs(golden_rt, vocab, build, expected):
    result, caught = _outcome(golden_rt.recommend_online, build(vocab), top_k=5,
                              exclude_seen=True)
    if expected is OK or expected is ColdUserWarning:
        assert not isinstance(result, Exception), repr(result)
        _only_documented(caught, expected is ColdUserWarning)
        assert result.shape == (5,) and len(set(result.tolist())) == 5
        if expected is OK:
            np.testing.assert_array_equal(result, golden_rt.recommend_online([v for v in (
                vocab[3], vocab[1])], top_k=5, exclude_seen=True))
        return
    assert isinstance(result, Exception), f"accepted: {result!r}"
    assert_typed(result, expected, None)


# ---------------------------------------------------------------- parameters
PARAMS = [
    ({"top_k": 0}, InvalidParameterError),
    ({"top_k": -1}, InvalidParameterError),
    ({"top_k": 2.5}, InvalidParameterTypeError),
    ({"top_k": True}, InvalidParameterTypeError),
    ({"top_k": None}, InvalidParameterTypeError),
    ({"top_k": "3"}, InvalidParameterTypeError),
    ({"top_k": np.int64(3)}, OK),
    ({"top_k": np.uint8(3)}, OK),
    ({"top_k": 10**30}, UserWarning),  # clipped to the catalogue, with a warning
    ({"sampling_temperature": -0.1}, InvalidParameterError),
    ({"sampling_temperature": float("nan")}, InvalidParameterError),
    ({"sampling_temperature": float("-inf")}, InvalidParameterError),
    ({"sampling_temperature": "1"}, InvalidParameterTypeError),
    ({"sampling_temperature": None}, InvalidParameterTypeError),
    ({"sampling_temperature": True}, InvalidParameterTypeError),
    ({"sampling_temperature": decimal.Decimal("0.5")}, InvalidParameterTypeError),
    ({"sampling_temperature": fractions.Fraction(1, 2), "random_state": 1}, OK),
    ({"sampling_temperature": np.float32(0.5), "random_state": 1}, OK),
    ({"sampling_temperature": 1e-310, "random_state": 1}, OK),  # subnormal: no overflow bug
    ({"sampling_temperature": 1e308, "random_state": 1}, OK),
    ({"random_state": "7"}, InvalidParameterTypeError),
    ({"random_state": 1.5, "sampling_temperature": 1.0}, InvalidParameterTypeError),
    ({"random_state": -1, "sampling_temperature": 1.0}, InvalidParameterError),
    ({"random_state": True}, InvalidParameterTypeError),
    ({"random_state": np.random.RandomState(0)}, InvalidParameterTypeError),
    ({"random_state": np.random.SeedSequence(0)}, InvalidParameterTypeError),
    ({"random_state": 2**200, "sampling_temperature": 1.0}, OK),
    ({"random_state": np.random.default_rng(0), "sampling_temperature": 1.0}, OK),
    ({"exclude_seen": "yes"}, InvalidParameterTypeError),
    ({"exclude_seen": 1}, InvalidParameterTypeError),
    ({"exclude_seen": None}, InvalidParameterTypeError),
    ({"exclude_seen": np.True_}, OK),
]


def _param_id(params):
    kwargs, _ = params
    return "-".join(f"{k}={type(v).__name__}:{v!r}"[:40] for k, v in kwargs.items())


@pytest.mark.parametrize("params", PARAMS, ids=[_param_id(p) for p in PARAMS])
def test_parameters_behave_the_same_everywhere(params, tiny_trainer, golden_rt, vocab):
    kwargs, expected = params
    history = [vocab[i] for i in (3, 1, 7, 7, 20)]
    table = {"USER_ID": [5] * 5, "ITEM_ID": history, "TIMESTAMP": list(range(5))}
    calls = {
        "trainer.recommend": lambda: tiny_trainer.recommend(table, **kwargs)[0],
        "runtime.recommend": lambda: golden_rt.recommend(table, **kwargs)[0],
        "runtime.recommend_online": lambda: golden_rt.recommend_online(history, **kwargs),
    }
    for name, call in calls.items():
        result, caught = _outcome(call)
        if expected is OK or expected is UserWarning:
            assert not isinstance(result, Exception), f"{name}: {result!r}"
            assert (UserWarning in {w.category for w in caught}) == (expected is UserWarning)
            assert len(set(result.tolist())) == len(result)
            if kwargs.get("exclude_seen") is not False and kwargs.get("exclude_seen"):
                assert not set(result.tolist()) & set(history)
        else:
            assert isinstance(result, Exception), f"{name} accepted {kwargs}"
            assert_typed(result, expected, None)
            assert type(result) is expected, name


def test_tiny_temperature_never_recommends_excluded_items(tiny_trainer, golden_rt, vocab):
    """Regression: scores / 1e-310 overflowed to -inf and tied with the excluded items."""
    history = vocab[:20]
    table = {"USER_ID": [1] * 20, "ITEM_ID": history, "TIMESTAMP": list(range(20))}
    for temperature in (1e-310, 5e-324, 1e-300):
        kwargs = dict(top_k=20, exclude_seen=True, sampling_temperature=temperature,
                      random_state=0)
        for recs in (tiny_trainer.recommend(table, **kwargs)[0],
                     golden_rt.recommend(table, **kwargs)[0],
                     golden_rt.recommend_online(history, **kwargs)):
            assert sorted(recs.tolist()) == sorted(vocab[20:])


@pytest.mark.parametrize("method", ["score_items", "recommend"])
def test_return_user_ids_must_be_a_bool_in_both(method, tiny_trainer, golden_rt, vocab):
    table = {"USER_ID": [1], "ITEM_ID": [vocab[0]], "TIMESTAMP": [0]}
    for owner in (tiny_trainer, golden_rt):
        with pytest.raises(InvalidParameterTypeError, match="return_user_ids"):
            getattr(owner, method)(table, return_user_ids="yes")


def test_every_case_is_documented():
    """docs/errors.md has a row for every case id of this suite."""
    text = DOCS.read_text(encoding="utf-8")
    ids = [c.id for c in CASES] + [f"online:{c[0]}" for c in ONLINE]
    missing = [i for i in ids if not re.search(rf"`{re.escape(i)}`", text)]
    assert not missing, f"docs/errors.md lacks rows for {missing}"
