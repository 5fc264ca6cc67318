"""Point-in-time guarantees: nothing after T changes a single feature value as of T.

Checked three ways: appending adversarial future rows (snapshots observed after T, posts posted after T,
results and baseline periods ending after T); a randomised property test over worlds, decision times
and future rows; and training rows, which must equal candidate rows computed from the data as it stood
at each boost's start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from features.matrix import FLAG_COLUMNS, candidate_matrix, feature_columns, training_matrix
from sparkpick.config import Settings
from tests.features.synth import START, make_tables

PROTECTED_FLAGS = list(FLAG_COLUMNS)


def _as_of_view(frame: pd.DataFrame) -> pd.DataFrame:
    cols = feature_columns(frame) + PROTECTED_FLAGS
    return frame.set_index("post_id")[cols].sort_index()


def future_rows(
    tables: dict[str, pd.DataFrame], t: pd.Timestamp, rng: np.random.Generator, n: int = 10
) -> dict[str, pd.DataFrame]:
    """Tables with rows appended that all lie after `t`: extreme values, so any leak shows."""
    posts, metrics = tables["posts"], tables["metrics"]
    known = posts[posts["posted_at"] <= t]
    pick = known.sample(min(n, len(known)), random_state=int(rng.integers(1 << 31)), replace=True)
    after = lambda k: t + pd.to_timedelta(rng.uniform(0.001, 24 * 20, k), unit="h")  # noqa: E731
    # Snapshots of existing posts observed after T, with huge (and backwards-going) counts.
    snaps = pd.DataFrame(
        {
            "post_id": pick["post_id"].to_numpy(),
            "observed_at": after(len(pick)).astype("datetime64[us]"),
            "views": pd.array(rng.integers(0, 10_000_000, len(pick)), dtype="Int64"),
            "likes": pd.array(rng.integers(0, 1_000_000, len(pick)), dtype="Int64"),
            "comments": pd.array(rng.integers(0, 100_000, len(pick)), dtype="Int64"),
            "shares": pd.array(rng.integers(0, 100_000, len(pick)), dtype="Int64"),
            "avg_watch_s": rng.uniform(0, 60, len(pick)),
            "full_watch_rate": rng.uniform(0, 1, len(pick)),
            "reach": pd.array(rng.integers(0, 10_000_000, len(pick)), dtype="Int64"),
        }
    )
    # New posts (by the same advertisers and creators) posted after T, with their own snapshots.
    new_posts = pick.assign(
        post_id=[f"future{i}" for i in range(len(pick))],
        posted_at=after(len(pick)).astype("datetime64[us]"),
    )
    new_snaps = snaps.assign(
        post_id=new_posts["post_id"].to_numpy(),
        observed_at=(new_posts["posted_at"] + pd.Timedelta(hours=30)).to_numpy(),
    )
    # Boosts of existing posts that end after T (some started before T), and their baselines.
    start = t - pd.to_timedelta(rng.uniform(-100, 100, len(pick)), unit="h")
    results = pd.DataFrame(
        {
            "post_id": pick["post_id"].to_numpy(),
            "boosted_at": start.astype("datetime64[us]"),
            "ended_at": start.where(start > t, t) + pd.to_timedelta(rng.uniform(0.01, 200, len(pick)), unit="h"),
            "spend": rng.uniform(0, 1e5, len(pick)),
            "impressions": pd.array(rng.integers(0, 10**7, len(pick)), dtype="Int64"),
            "views_2s": pd.array(rng.integers(0, 10**6, len(pick)), dtype="Int64"),
            "views_6s": pd.array(rng.integers(0, 10**6, len(pick)), dtype="Int64"),
            "likes": pd.array(rng.integers(0, 10**5, len(pick)), dtype="Int64"),
            "comments": pd.array(rng.integers(0, 10**4, len(pick)), dtype="Int64"),
            "shares": pd.array(rng.integers(0, 10**4, len(pick)), dtype="Int64"),
            "clicks": pd.array(rng.integers(0, 10**5, len(pick)), dtype="Int64"),
            "conversions": pd.array(rng.integers(0, 10**4, len(pick)), dtype="Int64"),
            "boost_propensity": rng.uniform(0, 1, len(pick)),
        }
    )
    results["ended_at"] = results["ended_at"].astype("datetime64[us]")
    results = results.drop_duplicates(["post_id", "boosted_at"])
    base = tables["baselines"]
    new_base = base.sample(3, random_state=0).assign(
        period_start=t - pd.Timedelta(days=3), period_end=t + pd.Timedelta(hours=1), spend=1.0, conversions=999
    )
    return {
        **tables,
        "posts": pd.concat([posts, new_posts], ignore_index=True),
        "metrics": pd.concat([metrics, snaps, new_snaps], ignore_index=True),
        "spark_results": pd.concat([tables["spark_results"], results], ignore_index=True),
        "baselines": pd.concat([base, new_base], ignore_index=True),
    }


def truncated(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as they stood at `t`."""
    posts = tables["posts"][tables["posts"]["posted_at"] <= t]
    metrics = tables["metrics"]
    metrics = metrics[(metrics["observed_at"] <= t) & metrics["post_id"].isin(posts["post_id"])]
    res = tables["spark_results"]
    res = res[(res["ended_at"] < t) & res["post_id"].isin(posts["post_id"])]
    base = tables["baselines"][tables["baselines"]["period_end"] < t]
    return {**tables, "posts": posts, "metrics": metrics, "spark_results": res, "baselines": base}


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    return make_tables(seed=5, n_posts=90, boost_rate=0.5)


@pytest.mark.parametrize("day", [20, 41.5, 55])
def test_future_rows_change_nothing(world: dict[str, pd.DataFrame], settings: Settings, day: float) -> None:
    t = START + pd.Timedelta(days=day)
    before = candidate_matrix(world, t, settings)
    assert len(before) > 5 and before["creator_prior_boosts"].sum() > 0  # the check has teeth
    after = candidate_matrix(future_rows(world, t, np.random.default_rng(int(day))), t, settings)
    pd.testing.assert_frame_equal(_as_of_view(before), _as_of_view(after))
    cut = candidate_matrix(truncated(world, t), t, settings)
    pd.testing.assert_frame_equal(_as_of_view(before), _as_of_view(cut))


def test_the_leak_check_would_catch_a_leak(world: dict[str, pd.DataFrame], settings: Settings) -> None:
    """Control: a snapshot observed at exactly T does change features (it is knowable at T)."""
    t = START + pd.Timedelta(days=41.5)
    before = candidate_matrix(world, t, settings)
    pid = before["post_id"].iloc[0]
    snap = world["metrics"].iloc[:1].assign(post_id=pid, observed_at=t, views=pd.array([10**9], dtype="Int64"))
    changed = {**world, "metrics": pd.concat([world["metrics"], snap], ignore_index=True)}
    after = candidate_matrix(changed, t, settings)
    assert not _as_of_view(before).equals(_as_of_view(after))


def test_training_rows_equal_candidates_at_their_boost_time(
    world: dict[str, pd.DataFrame], settings: Settings
) -> None:
    train = training_matrix(world, settings)
    assert len(train) >= 10
    for _, row in train.sample(6, random_state=2).iterrows():
        t = row["boosted_at"]
        cands = candidate_matrix(truncated(world, t), t, settings, advertiser_id=row["advertiser_id"])
        if row["post_id"] not in set(cands["post_id"]):  # boosted after the candidate window: compute directly
            wide = settings.model_copy(
                update={"features": settings.features.model_copy(update={"candidate_window_days": 10_000})}
            )
            cands = candidate_matrix(truncated(world, t), t, wide, advertiser_id=row["advertiser_id"])
        cand = cands.set_index("post_id").loc[row["post_id"]]
        for col in feature_columns(train):
            a, b = row[col], cand[col]
            assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b, rel=1e-12), (col, a, b)


def test_training_rows_until_ignore_everything_after(world: dict[str, pd.DataFrame], settings: Settings) -> None:
    until = START + pd.Timedelta(days=45)
    before = training_matrix(world, settings, until=until)
    assert len(before) >= 5
    after = training_matrix(future_rows(world, until, np.random.default_rng(9)), settings, until=until)
    cols = ["group_id", "uplift", "relevance", *feature_columns(before), *PROTECTED_FLAGS]
    key = ["post_id", "boosted_at"]
    pd.testing.assert_frame_equal(before.set_index(key)[cols], after.set_index(key)[cols])


_WORLDS = {
    "seed": st.integers(0, 10_000),
    "hours": st.floats(24 * 5, 24 * 70, allow_nan=False),
    "future_seed": st.integers(0, 10_000),
}
_HYP = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@hyp_settings(max_examples=8, **_HYP)
@given(**_WORLDS)
def test_property_future_rows_never_change_features(
    settings: Settings, seed: int, hours: float, future_seed: int
) -> None:
    check_no_leak(settings, seed, hours, future_seed)


@pytest.mark.slow
@hyp_settings(max_examples=30, **_HYP)
@given(**_WORLDS)
def test_property_future_rows_never_change_features_many(
    settings: Settings, seed: int, hours: float, future_seed: int
) -> None:
    check_no_leak(settings, seed, hours, future_seed)


def check_no_leak(settings: Settings, seed: int, hours: float, future_seed: int) -> None:
    tables = make_tables(seed=seed, n_posts=30, n_creators=4, boost_rate=0.5)
    t = (START + pd.Timedelta(hours=hours)).floor("us")
    before = candidate_matrix(tables, t, settings)
    after = candidate_matrix(future_rows(tables, t, np.random.default_rng(future_seed), n=6), t, settings)
    pd.testing.assert_frame_equal(_as_of_view(before), _as_of_view(after))
    cut = candidate_matrix(truncated(tables, t), t, settings)
    pd.testing.assert_frame_equal(_as_of_view(before), _as_of_view(cut))
