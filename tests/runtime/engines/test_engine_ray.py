"""seqrec_runtime.ray against the single-process runtime (one ray.init per session)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import runtime_fakes
import seqrec_runtime
from engine_helpers import as_dict, assert_matches_runtime, string_users
from seqrec_runtime import IdTypeError, SchemaError, TimestampTypeError
from seqrec_runtime.engine_checks import make_request
from seqrec_runtime.runtime_cache import artifact_sha256
from seqrec_runtime.user_batches import user_rng

pytestmark = [pytest.mark.ray,
              pytest.mark.filterwarnings("ignore::seqrec_runtime.ColdUserWarning")]
pa = pytest.importorskip("pyarrow")


def _dataset(ray_session, table, blocks: int = 3):
    import ray.data

    return ray.data.from_arrow(pa.table(table)).repartition(blocks)


def _recommend(ds, artifact, **kwargs):
    from seqrec_runtime import ray as seqrec_ray

    return as_dict(seqrec_ray.recommend(ds, artifact, **kwargs).take_all())


def test_int_and_string_ids_match_runtime(ray_session, fake_artifact, fake_string_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, n_users=80, seed=1)
    table["TIMESTAMP"] = np.arange(len(table["USER_ID"]))  # Ray keeps no row order for ties
    got = _recommend(_dataset(ray_session, table), fake_artifact, top_k=5, num_blocks=5)
    assert -1 in got  # cold user
    assert_matches_runtime(got, runtime, table, top_k=5, exclude_seen=True)

    runtime = seqrec_runtime.load(fake_string_artifact)
    table = string_users(runtime_fakes.make_interactions(runtime.item_ids_, seed=2))
    table["TIMESTAMP"] = np.arange(len(table["USER_ID"])) * 1.5
    got = _recommend(_dataset(ray_session, table, blocks=1), fake_string_artifact, top_k=12,
                     exclude_seen=False, num_blocks=2)
    assert_matches_runtime(got, runtime, table, top_k=12, exclude_seen=False)


def test_sampling_matches_the_per_user_rule(ray_session, fake_artifact):
    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=3)
    table["TIMESTAMP"] = np.arange(len(table["USER_ID"]))
    got = _recommend(_dataset(ray_session, table), fake_artifact, top_k=6,
                     sampling_temperature=2.0, random_state=11, num_blocks=4)
    for user, (items, _) in got.items():
        rows = table["USER_ID"] == user
        alone = runtime.recommend({k: v[rows] for k, v in table.items()}, top_k=6,
                                  sampling_temperature=2.0, exclude_seen=True,
                                  random_state=user_rng(11, user))
        assert items == alone[0].tolist()


def test_batch_recommender_in_map_batches_loads_once_per_actor(ray_session, fake_artifact,
                                                                load_log):
    from seqrec_runtime.ray import BatchRecommender

    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, n_users=50, seed=4)
    table["TIMESTAMP"] = np.arange(len(table["USER_ID"]))
    request = make_request(runtime, 4, True, None, None, "USER_ID", "ITEM_ID", "TIMESTAMP")
    grouped = pa.table(table).sort_by("USER_ID")
    ds = ray_session.data.from_arrow(grouped)  # one block: every user's rows together
    out = ds.map_batches(
        BatchRecommender, batch_size=None, batch_format="pyarrow", concurrency=1,
        fn_constructor_kwargs=dict(artifact=str(fake_artifact), request=request,
                                   threads=1),
    ).take_all()
    assert_matches_runtime(as_dict(out), runtime, table, top_k=4, exclude_seen=True)
    loads = [tuple(line.split("\t")) for line in load_log.read_text().splitlines()]
    ours = [load for load in loads if load[1] == artifact_sha256(fake_artifact)]
    assert ours and max(Counter(ours).values()) == 1


def test_driver_refuses_bad_input(ray_session, fake_artifact):
    from seqrec_runtime import ray as seqrec_ray

    runtime = seqrec_runtime.load(fake_artifact)
    table = runtime_fakes.make_interactions(runtime.item_ids_, seed=5)
    with pytest.raises(SchemaError, match="missing column"):
        seqrec_ray.recommend(_dataset(ray_session, table), fake_artifact, user_col="user")
    table["TIMESTAMP"] = table["TIMESTAMP"].astype(str)
    with pytest.raises(TimestampTypeError, match="is text"):
        seqrec_ray.recommend(_dataset(ray_session, table), fake_artifact)
    table["ITEM_ID"] = table["ITEM_ID"].astype(float)
    with pytest.raises(IdTypeError, match="is float"):
        seqrec_ray.recommend(_dataset(ray_session, table), fake_artifact)
