"""SequentialRecommender: train, score_items, recommend, item subsets, unknown items."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from seqrec_runtime.errors import (
    EmptyInputError,
    IdTypeError,
    InvalidParameterError,
    InvalidParameterTypeError,
    MissingValueError,
    SchemaError,
    SeqrecError,
    TimestampTypeError,
)
from seqrec_runtime.histories import ColdUserWarning
from seqrec_runtime.table import CodedIds
from seqrec_trainer import InteractionsDataset, SequentialRecommender, SequentialScorer
from seqrec_trainer.errors import NotEnoughDataError, NotFittedError

N_CATALOGUE = 32  # see CATALOGUE in conftest.py
MAX_LEN = 8


def _subset(table: dict, users) -> dict[str, np.ndarray]:
    keep = np.isin(table["USER_ID"], users)
    return {k: v[keep] for k, v in table.items()}


def _histories(table) -> dict[int, list[int]]:
    frame = pd.DataFrame(table).sort_values(["USER_ID", "TIMESTAMP"], kind="stable")
    return {u: g["ITEM_ID"].tolist() for u, g in frame.groupby("USER_ID")}


# ------------------------------------------------------------------ not fitted
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda r, d, p: r.score_items(d), id="score_items"),
        pytest.param(lambda r, d, p: r.recommend(d), id="recommend"),
        pytest.param(lambda r, d, p: r.recommend(d, sampling_temperature=1.0, random_state=1),
                     id="recommend-sampled"),
        pytest.param(lambda r, d, p: r.save(p), id="save"),
        pytest.param(lambda r, d, p: r.item_ids_, id="item_ids_"),
        pytest.param(lambda r, d, p: r.scorer.set_item_subset([1]), id="set_item_subset"),
    ],
)
def test_not_fitted(make_recommender, synthetic_table, tmp_path, call):
    with pytest.raises(NotFittedError) as excinfo:
        call(make_recommender(), synthetic_table, tmp_path / "model")
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, AttributeError)  # hasattr()-friendly, like sklearn
    assert not (tmp_path / "model").exists()


# ------------------------------------------------------------------ training
def test_max_len_sync_warns_and_the_recommender_wins(synthetic_table, make_recommender, caplog):
    recommender = make_recommender(max_len=6)
    recommender.scorer.estimator.set_params(max_len=15)
    with caplog.at_level(logging.WARNING, logger="seqrec"):
        recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
    messages = [r for r in caplog.records if r.name == "seqrec" and r.levelno == logging.WARNING]
    assert any("max_len" in r.getMessage() for r in messages)
    estimator = recommender.scorer.estimator
    assert estimator.max_len == 6
    assert estimator.network_.position_embedding.num_embeddings == 6
    recommender.score_items(synthetic_table)  # inference works at the synced length


def test_no_warning_when_max_len_agrees(caplog, synthetic_table, make_recommender):
    with caplog.at_level(logging.WARNING, logger="seqrec"):
        make_recommender().train(interactions_ds=InteractionsDataset(synthetic_table))
    assert not [r for r in caplog.records if "max_len" in r.getMessage()]


@pytest.mark.parametrize("max_len", [0, -1, 2.5, True, "8"])
def test_invalid_recommender_max_len(make_recommender, synthetic_table, max_len):
    recommender = make_recommender()
    recommender.max_len = max_len
    with pytest.raises(InvalidParameterError):
        recommender.train(interactions_ds=InteractionsDataset(synthetic_table))


def test_interactions_are_required(make_recommender):
    with pytest.raises(InvalidParameterError, match="interactions_ds"):
        make_recommender().train()


def test_all_users_with_one_interaction(make_recommender):
    data = {"USER_ID": [1, 2, 3], "ITEM_ID": [1, 2, 1], "TIMESTAMP": [5, 5, 5]}
    with pytest.raises(NotEnoughDataError) as excinfo:
        make_recommender().train(interactions_ds=InteractionsDataset(data))
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, SeqrecError)


def test_raw_tables_are_accepted_by_train(synthetic_table, make_recommender, trained_recommender):
    recommender = make_recommender()
    recommender.train(items_ds=pd.DataFrame({"ITEM_ID": np.arange(1, N_CATALOGUE + 1)}),
                      interactions_ds=pd.DataFrame(synthetic_table))
    np.testing.assert_array_equal(recommender.score_items(synthetic_table),
                                  trained_recommender.score_items(synthetic_table))


@pytest.mark.filterwarnings("ignore:.*validation user:UserWarning")
def test_long_text_id_tables_train_from_their_grouped_ids(make_recommender, monkeypatch):
    """A DataFrame or pyarrow Table with long text id columns is trained, scored as a
    dataset and its item prior refitted from the ids as pandas/pyarrow grouped them
    (distinct ids + codes), never one string per row, with the same results as the same
    rows as numpy arrays."""
    rng = np.random.default_rng(3)
    n = 6_000  # above the size where the libraries' own factorization is used
    arrays = {"USER_ID": np.array([f"user-{u}" for u in rng.integers(0, 150, n)]),
              "ITEM_ID": np.array([f"item-{i}" for i in rng.integers(0, 60, n)]),
              "TIMESTAMP": rng.integers(0, 500, n)}
    last = {k: v[-150:] for k, v in arrays.items()}  # validation: users' rows, some repeated
    _, first = np.unique(last["USER_ID"], return_index=True)
    valid = {k: v[first] for k, v in last.items()}
    reference = make_recommender(epochs=1).train(interactions_ds=InteractionsDataset(arrays),
                                                 valid_interactions_ds=valid)
    expected = reference.score_items(arrays)
    summary = reference.training_summary_ | {"train_seconds": 0}
    reference.refit_item_prior(arrays, item_prior_weight=1.0)
    expected_with_prior = reference.score_items(arrays)

    def refuse(self):
        raise AssertionError("training expanded grouped ids to one string per row")

    for table in (pd.DataFrame(arrays), pa.table(arrays)):
        dataset = InteractionsDataset(table)
        grouped = dataset.fetch_grouped()
        assert isinstance(grouped["USER_ID"], CodedIds)
        assert isinstance(grouped["ITEM_ID"], CodedIds)
        with monkeypatch.context() as patch:
            patch.setattr(CodedIds, "expand", refuse)
            recommender = make_recommender(epochs=1).train(interactions_ds=dataset,
                                                           valid_interactions_ds=valid)
            from_dataset = recommender.score_items(dataset)  # scoring keeps them grouped too
        assert recommender.training_summary_ | {"train_seconds": 0} == summary
        np.testing.assert_array_equal(recommender.item_ids_, reference.item_ids_)
        np.testing.assert_array_equal(recommender.score_items(arrays), expected)
        np.testing.assert_array_equal(from_dataset, expected)
        with monkeypatch.context() as patch:  # refitting the item prior keeps them grouped
            patch.setattr(CodedIds, "expand", refuse)
            recommender.refit_item_prior(dataset, item_prior_weight=1.0)
        np.testing.assert_array_equal(recommender.score_items(arrays), expected_with_prior)


def test_train_does_not_modify_its_input(synthetic_interactions, synthetic_table,
                                        make_recommender):
    last_row = int(np.argmax(np.where(synthetic_interactions["USER_ID"] == 1,
                                      synthetic_interactions["TIMESTAMP"], -1)))
    valid = {k: v[[last_row]] for k, v in synthetic_interactions.items()}
    make_recommender(epochs=1).train(interactions_ds=InteractionsDataset(synthetic_interactions),
                                     valid_interactions_ds=InteractionsDataset(valid))
    for name, values in synthetic_table.items():
        np.testing.assert_array_equal(synthetic_interactions[name], values)


def test_training_summary_and_catalogue(trained_recommender, synthetic_table):
    summary = trained_recommender.training_summary_
    assert summary["n_interactions"] == len(synthetic_table["USER_ID"])
    assert summary["n_items"] == N_CATALOGUE
    assert summary["epochs_run"] == 2
    assert summary["best_epoch"] is None  # no validation
    np.testing.assert_array_equal(trained_recommender.item_ids_, np.arange(1, N_CATALOGUE + 1))
    popularity = trained_recommender.scorer.popularity_
    assert popularity.shape == (N_CATALOGUE,)
    assert popularity[-2:].tolist() == [0.0, 0.0]  # catalogue-only items
    assert popularity.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------ score_items
def test_score_items_contract(trained_recommender, synthetic_table):
    users = [17, 3, 120, 44]
    data = _subset(synthetic_table, users)
    scores = trained_recommender.score_items(data)
    assert scores.dtype == np.float32
    assert scores.shape == (4, N_CATALOGUE)
    assert np.isfinite(scores).all()
    user_ids, same = trained_recommender.score_items(data, return_user_ids=True)
    assert user_ids.tolist() == sorted(users)
    np.testing.assert_array_equal(same, scores)
    # columns follow item_ids_: score the user's last MAX_LEN items with the network directly
    histories = _histories(data)
    scorer = trained_recommender.scorer
    for row, user in enumerate(sorted(users)):
        window = scorer.vocabulary_.encode(np.array(histories[user][-MAX_LEN:]))
        direct = scorer.estimator.predict_scores(window.reshape(1, -1))
        np.testing.assert_allclose(scores[row], direct[0], atol=1e-5)
    # each row is the user's own history, whatever the input row order
    for row, user in enumerate(sorted(users)):
        alone = trained_recommender.score_items(_subset(synthetic_table, [user]))
        np.testing.assert_allclose(alone[0], scores[row], atol=1e-5)


@pytest.mark.parametrize("batch_size", [512, 3, 1])
def test_a_user_scores_the_same_alone_and_in_a_batch(trained_recommender, synthetic_table,
                                                     monkeypatch, batch_size):
    monkeypatch.setattr(trained_recommender.scorer, "batch_size", batch_size)
    histories = _histories(synthetic_table)
    users = sorted(histories, key=lambda u: len(histories[u]))[::15]  # short and long
    together = trained_recommender.score_items(_subset(synthetic_table, users))
    for row, user in enumerate(sorted(users)):
        alone = trained_recommender.score_items(_subset(synthetic_table, [user]))
        np.testing.assert_allclose(alone[0], together[row], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda d: pd.DataFrame(d, index=np.arange(len(d["USER_ID"]))[::-1] * 3),
                     id="dataframe-custom-index"),
        pytest.param(pa.table, id="pyarrow"),
        pytest.param(InteractionsDataset, id="dataset"),
        pytest.param(lambda d: {k: v.tolist() for k, v in d.items()}, id="dict-of-lists"),
        pytest.param(lambda d: {k: v[::-1] for k, v in d.items()}, id="reversed-rows"),
        pytest.param(lambda d: {k: v for k, v in d.items() if k != "OUTCOME"}, id="no-outcome"),
        pytest.param(lambda d: {**d, "ITEM_ID": d["ITEM_ID"].astype(float)}, id="float-item-ids"),
        pytest.param(lambda d: {**d, "TIMESTAMP": d["TIMESTAMP"] / 1000.0}, id="float-timestamps"),
    ],
)
def test_inference_input_forms(trained_recommender, synthetic_table, convert):
    data = _subset(synthetic_table, np.arange(1, 40))
    expected = trained_recommender.score_items(data)
    np.testing.assert_array_equal(trained_recommender.score_items(convert(data)), expected)


def test_truncation_to_max_len_at_inference(trained_recommender, synthetic_table):
    histories = _histories(synthetic_table)
    user = max(histories, key=lambda u: len(histories[u]))
    data = _subset(synthetic_table, [user])
    assert len(histories[user]) > MAX_LEN
    order = np.argsort(data["TIMESTAMP"])
    recent = {k: v[order[-MAX_LEN:]] for k, v in data.items()}
    np.testing.assert_array_equal(trained_recommender.score_items(data),
                                  trained_recommender.score_items(recent))
    one_more = {k: v[order[-MAX_LEN - 1:]] for k, v in data.items()}
    one_less = {k: v[order[-MAX_LEN + 1:]] for k, v in data.items()}
    np.testing.assert_array_equal(trained_recommender.score_items(one_more),
                                  trained_recommender.score_items(recent))
    assert not np.allclose(trained_recommender.score_items(one_less),
                           trained_recommender.score_items(recent))


# ------------------------------------------------------------------ item subset
@pytest.fixture
def subset_recommender(trained_recommender):
    scorer = trained_recommender.scorer
    scorer.set_item_subset([5, 3, 31, 12, 5.0])
    try:
        yield trained_recommender
    finally:
        scorer.clear_item_subset()


def test_item_subset_restricts_columns_and_recommendations(
    subset_recommender, trained_recommender, synthetic_table
):
    data = _subset(synthetic_table, np.arange(1, 30))
    subset_scores = subset_recommender.score_items(data)
    np.testing.assert_array_equal(subset_recommender.item_ids_, [3, 5, 12, 31])
    subset_recommender.scorer.clear_item_subset()
    full = trained_recommender.score_items(data)
    np.testing.assert_array_equal(trained_recommender.item_ids_, np.arange(1, N_CATALOGUE + 1))
    subset_recommender.scorer.set_item_subset([3, 5, 12, 31])
    np.testing.assert_array_equal(subset_scores, full[:, [2, 4, 11, 30]])
    recs = subset_recommender.recommend(data, top_k=3, exclude_seen=False)
    assert set(np.unique(recs)) <= {3, 5, 12, 31}
    expected = np.array([3, 5, 12, 31])[np.argsort(-subset_scores, axis=1, kind="stable")[:, :3]]
    np.testing.assert_array_equal(recs, expected)
    sampled = subset_recommender.recommend(data, top_k=4, sampling_temperature=2.0,
                                           random_state=0, exclude_seen=False)
    assert all(sorted(row) == [3, 5, 12, 31] for row in sampled.tolist())
    with pytest.warns(UserWarning, match="top_k"):
        assert subset_recommender.recommend(data, top_k=10, exclude_seen=False).shape == (29, 4)


def test_item_subset_with_exclude_seen(subset_recommender, synthetic_table):
    data = _subset(synthetic_table, np.arange(1, 30))
    histories = _histories(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # top_k may be clipped
        user_ids, recs = subset_recommender.recommend(data, top_k=2, exclude_seen=True,
                                                      return_user_ids=True)
    for user, row in zip(user_ids.tolist(), recs.tolist(), strict=True):
        assert set(row) <= {3, 5, 12, 31}
        assert not set(row) & set(histories[user])


def test_item_subset_errors(trained_recommender):
    scorer = trained_recommender.scorer
    with pytest.raises(IdTypeError):
        scorer.set_item_subset([3, 999])
    with pytest.raises(IdTypeError):
        scorer.set_item_subset(["3"])
    assert scorer.subset_columns_ is None  # a failed call leaves no subset behind


# ------------------------------------------------------------------ recommend
@pytest.fixture(scope="module")
def some_users(synthetic_table):
    """60 users plus a cold user (only unknown items) whose popularity row has ties."""
    data = _subset(synthetic_table, np.arange(1, 61))
    cold = {"USER_ID": [10_000, 10_000], "ITEM_ID": [777, 778], "TIMESTAMP": [1, 2],
            "OUTCOME": [1.0, 1.0]}
    return {k: np.concatenate([v, np.asarray(cold[k], dtype=v.dtype)]) for k, v in data.items()}


def test_deterministic_recommend_is_the_stable_argsort(trained_recommender, some_users):
    with pytest.warns(ColdUserWarning):
        scores = trained_recommender.score_items(some_users)
        user_ids, recs = trained_recommender.recommend(some_users, top_k=N_CATALOGUE,
                                                       return_user_ids=True, exclude_seen=False)
    expected = np.argsort(-scores, axis=1, kind="stable")  # ties: lower column first
    np.testing.assert_array_equal(recs, trained_recommender.item_ids_[expected])
    assert user_ids.tolist() == sorted(set(some_users["USER_ID"].tolist()))
    assert recs[-1, -2:].tolist() == [31, 32]  # tied zero-popularity items, lower id first
    with pytest.warns(ColdUserWarning):
        top10 = trained_recommender.recommend(some_users, top_k=10, exclude_seen=False)
    np.testing.assert_array_equal(top10, recs[:, :10])
    assert top10.dtype == trained_recommender.item_ids_.dtype


def test_sampled_recommend_is_reproducible_and_never_repeats(trained_recommender, some_users):
    def sample(state, temperature=1.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdUserWarning)
            return trained_recommender.recommend(some_users, top_k=10,
                                                 sampling_temperature=temperature,
                                                 random_state=state)

    first = sample(7)
    np.testing.assert_array_equal(first, sample(7))
    np.testing.assert_array_equal(first, sample(np.random.default_rng(7)))
    assert not np.array_equal(first, sample(8))
    for recs in (first, sample(None), sample(3, temperature=100.0), sample(3, 1e-6)):
        assert all(len(set(row)) == 10 for row in recs.tolist())
        assert np.isin(recs, trained_recommender.item_ids_).all()
    # a tiny temperature is (almost surely) the deterministic ranking
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdUserWarning)
        deterministic = trained_recommender.recommend(some_users, top_k=3)
    np.testing.assert_array_equal(sample(3, 1e-6)[:-1, :3], deterministic[:-1])


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_exclude_seen_uses_the_whole_history(trained_recommender, synthetic_table, temperature):
    histories = _histories(synthetic_table)
    users = [u for u, items in histories.items() if len(set(items)) > MAX_LEN + 2][:40]
    data = _subset(synthetic_table, users)
    user_ids, recs = trained_recommender.recommend(
        data, top_k=5, exclude_seen=True, sampling_temperature=temperature, random_state=0,
        return_user_ids=True,
    )
    old_items_hit = 0
    for user, row in zip(user_ids.tolist(), recs.tolist(), strict=True):
        assert not set(row) & set(histories[user])
        assert len(set(row)) == 5
        old_items_hit += bool(set(histories[user][:-MAX_LEN]))
    assert old_items_hit  # some excluded items lie beyond the max_len window
    plain = trained_recommender.recommend(data, top_k=5, exclude_seen=False)
    assert any(set(row) & set(histories[u]) for u, row in zip(user_ids, plain.tolist(),
                                                               strict=True))
    if temperature == 0.0:  # the default is exclude_seen=True
        np.testing.assert_array_equal(trained_recommender.recommend(data, top_k=5), recs)


def test_exclude_seen_clips_top_k_to_the_candidates_left(trained_recommender):
    data = {"USER_ID": [1] * 30, "ITEM_ID": list(range(1, 31)), "TIMESTAMP": list(range(30))}
    with pytest.warns(UserWarning, match="exclude_seen"):
        recs = trained_recommender.recommend(data, top_k=5, exclude_seen=True)
    assert recs.shape == (1, 2)
    assert sorted(recs[0].tolist()) == [31, 32]


@pytest.mark.parametrize(
    ("kwargs", "error", "builtin"),
    [
        ({"sampling_temperature": -0.5}, InvalidParameterError, ValueError),
        ({"sampling_temperature": float("nan")}, InvalidParameterError, ValueError),
        ({"sampling_temperature": float("inf")}, InvalidParameterError, ValueError),
        ({"sampling_temperature": "hot"}, InvalidParameterTypeError, TypeError),
        ({"top_k": 0}, InvalidParameterError, ValueError),
        ({"top_k": -2}, InvalidParameterError, ValueError),
        ({"top_k": 2.0}, InvalidParameterTypeError, TypeError),
        ({"random_state": "7", "sampling_temperature": 1.0}, InvalidParameterTypeError,
         TypeError),
        ({"random_state": 1.5}, InvalidParameterTypeError, TypeError),
        ({"random_state": np.random.RandomState(0)}, InvalidParameterTypeError, TypeError),
        ({"exclude_seen": "yes"}, InvalidParameterTypeError, TypeError),
    ],
)
def test_recommend_argument_errors(trained_recommender, synthetic_table, kwargs, error,
                                   builtin):
    with pytest.raises(error) as excinfo:
        trained_recommender.recommend(_subset(synthetic_table, [1, 2]), **kwargs)
    assert isinstance(excinfo.value, builtin)
    assert isinstance(excinfo.value, SeqrecError)


def test_top_k_larger_than_catalogue_is_clipped(trained_recommender, synthetic_table):
    data = _subset(synthetic_table, [1, 2])
    with pytest.warns(UserWarning, match="top_k"):
        recs = trained_recommender.recommend(data, top_k=1000, exclude_seen=False)
    assert recs.shape == (2, N_CATALOGUE)
    assert all(sorted(row) == list(range(1, N_CATALOGUE + 1)) for row in recs.tolist())


# ------------------------------------------------------------------ unknown items
def test_unknown_last_item_is_skipped(trained_recommender, synthetic_table):
    data = _subset(synthetic_table, [5])
    latest = int(data["TIMESTAMP"].max())
    extra = {"USER_ID": [5], "ITEM_ID": [99_999], "TIMESTAMP": [latest + 10], "OUTCOME": [1.0]}
    with_unknown = {k: np.concatenate([v, np.asarray(extra[k], dtype=v.dtype)])
                    for k, v in data.items()}
    scores = trained_recommender.score_items(with_unknown)
    np.testing.assert_array_equal(scores, trained_recommender.score_items(data))
    assert not np.allclose(scores[0], trained_recommender.scorer.popularity_)


def test_user_with_only_unknown_items_gets_popularity(trained_recommender, synthetic_table):
    data = _subset(synthetic_table, [5, 6])
    cold = {"USER_ID": [7, 7, 7], "ITEM_ID": [500, 501, 502], "TIMESTAMP": [1, 2, 3],
            "OUTCOME": [1.0, 1.0, 1.0]}
    mixed = {k: np.concatenate([v, np.asarray(cold[k], dtype=v.dtype)]) for k, v in data.items()}
    with pytest.warns(ColdUserWarning, match="7"):
        user_ids, scores = trained_recommender.score_items(mixed, return_user_ids=True)
    assert user_ids.tolist() == [5, 6, 7]
    np.testing.assert_array_equal(scores[2], trained_recommender.scorer.popularity_)
    np.testing.assert_allclose(scores[:2], trained_recommender.score_items(data), atol=1e-5)
    with pytest.warns(ColdUserWarning):
        recs = trained_recommender.recommend(mixed, top_k=3)
    popular = trained_recommender.item_ids_[
        np.argsort(-trained_recommender.scorer.popularity_, kind="stable")[:3]]
    np.testing.assert_array_equal(recs[2], popular)


def test_item_ids_of_another_type_are_an_error(trained_recommender):
    data = {"USER_ID": [1, 1], "ITEM_ID": ["3", "4"], "TIMESTAMP": [1, 2]}
    with pytest.raises(IdTypeError):
        trained_recommender.score_items(data)


@pytest.mark.parametrize(
    ("column", "values", "error"),
    [
        ("USER_ID", [1.0, np.nan], MissingValueError),
        ("ITEM_ID", [3, None], MissingValueError),
        ("TIMESTAMP", [1.0, np.nan], MissingValueError),
        ("TIMESTAMP", ["2024-01-01", "2024-01-02"], TimestampTypeError),
        ("ITEM_ID", [3, "4"], IdTypeError),
        ("ITEM_ID", [3.5, 4.0], IdTypeError),
    ],
)
@pytest.mark.parametrize("method", ["score_items", "recommend"])
def test_bad_inference_input_names_the_column(trained_recommender, column, values, error,
                                             method):
    data = {"USER_ID": [1, 1], "ITEM_ID": [3, 4], "TIMESTAMP": [1, 2], column: values}
    with pytest.raises(error, match=column) as excinfo:
        getattr(trained_recommender, method)(pd.DataFrame(data))
    assert isinstance(excinfo.value, (ValueError, TypeError))


@pytest.mark.parametrize("method", ["score_items", "recommend"])
def test_empty_or_incomplete_inference_input(trained_recommender, method):
    with pytest.raises(EmptyInputError):
        getattr(trained_recommender, method)({"USER_ID": [], "ITEM_ID": [], "TIMESTAMP": []})
    with pytest.raises(SchemaError, match="TIMESTAMP"):
        getattr(trained_recommender, method)({"USER_ID": [1], "ITEM_ID": [3]})


def test_verbose_logs_each_epoch(synthetic_table, make_recommender, caplog):
    recommender = make_recommender(verbose=2, epochs=2)
    with caplog.at_level(logging.INFO, logger="seqrec"):
        recommender.train(interactions_ds=InteractionsDataset(synthetic_table))
    epochs = [r for r in caplog.records if r.name == "seqrec" and "epoch" in r.getMessage()]
    assert len(epochs) == 2


# ------------------------------------------------------------------ known bugs
def test_recommender_max_len_above_the_trained_length(trained_recommender, synthetic_table,
                                                      monkeypatch):
    expected = trained_recommender.score_items(synthetic_table)
    monkeypatch.setattr(trained_recommender, "max_len", 20)
    try:
        scores = trained_recommender.score_items(synthetic_table)
    except SeqrecError as exc:  # a clear error is acceptable
        assert "max_len" in str(exc)
    else:  # so is reading only the last (trained) max_len items
        np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_empty_item_subset_is_refused(trained_recommender):
    scorer = trained_recommender.scorer
    try:
        with pytest.raises(InvalidParameterError):
            scorer.set_item_subset([])
    finally:
        scorer.clear_item_subset()


# ------------------------------------------------------------------ quick start
def test_quick_start_runs_as_written(tmp_path, synthetic_table):
    """The scikit-rec SequentialRecommender Quick Start with our import path."""
    from seqrec_trainer import (
        InteractionsDataset,
        ItemsDataset,
        SASRecClassifierEstimator,
        SequentialRecommender,
        SequentialScorer,
    )

    frame = pd.DataFrame(synthetic_table).sort_values(["USER_ID", "TIMESTAMP"])
    frame.to_csv(tmp_path / "interactions.csv", index=False)
    frame.groupby("USER_ID").nth(-2).to_csv(tmp_path / "valid.csv", index=False)
    pd.DataFrame({"ITEM_ID": np.arange(1, 36)}).to_csv(tmp_path / "items.csv", index=False)
    recent_interactions_df = frame.groupby("USER_ID").tail(5)[["USER_ID", "ITEM_ID",
                                                               "TIMESTAMP"]]
    recent_interactions_df = recent_interactions_df[recent_interactions_df.USER_ID <= 20]

    estimator = SASRecClassifierEstimator(
        hidden_units=50, num_blocks=2, num_heads=1,
        dropout_rate=0.2, epochs=3, max_len=50,  # epochs reduced from 200
        early_stopping_patience=5,
        restore_best_weights=True,
        random_state=42,
    )
    scorer = SequentialScorer(estimator)
    recommender = SequentialRecommender(scorer, max_len=50)
    items_dataset = ItemsDataset(data_location=str(tmp_path / "items.csv"))
    interactions_dataset = InteractionsDataset(data_location=str(tmp_path / "interactions.csv"))
    valid_interactions_ds = InteractionsDataset(data_location=str(tmp_path / "valid.csv"))
    recommender.train(
        items_ds=items_dataset,
        interactions_ds=interactions_dataset,
        valid_interactions_ds=valid_interactions_ds,
    )
    recs = recommender.recommend(interactions=recent_interactions_df, top_k=10)

    assert recs.shape == (20, 10)
    assert np.isin(recs, np.arange(1, 36)).all()
    assert all(len(set(row)) == 10 for row in recs.tolist())
    assert len(estimator.history_) == 3
    assert all("val_loss" in h for h in estimator.history_)
    assert estimator.best_epoch_ in (1, 2, 3)
    summary = recommender.training_summary_
    assert summary["n_valid_targets"] == frame.USER_ID.nunique()
    assert summary["n_items"] == 35


def test_scorer_can_be_refit_by_another_recommender(trained_recommender):
    """A scorer's fitted state lives on the scorer; a fresh recommender around it is usable."""
    other = SequentialRecommender(trained_recommender.scorer, max_len=MAX_LEN)
    data = {"USER_ID": [1, 1], "ITEM_ID": [3, 4], "TIMESTAMP": [1, 2]}
    np.testing.assert_array_equal(other.score_items(data), trained_recommender.score_items(data))
    assert isinstance(other.scorer, SequentialScorer)


def test_train_passes_callbacks_to_every_epoch(make_recommender, synthetic_table):
    epochs = []
    recommender = make_recommender(epochs=2)
    recommender.train(interactions_ds=InteractionsDataset(synthetic_table),
                      callbacks=[lambda epoch, network, record: epochs.append(epoch)])
    assert epochs == [1, 2]
