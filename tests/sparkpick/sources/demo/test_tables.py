"""The demo world's tables: contract shape, determinism, and the behaviour the domain brief describes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparkpick.contract import AUTH_STATUSES, PARTNERSHIP_KINDS, SPECS, as_utc
from sparkpick.errors import InputError
from sparkpick.sources.demo import paid
from sparkpick.sources.demo.build import to_csv_text
from sparkpick.sources.demo.tables import WorldTables, generate_tables


@pytest.fixture(scope="module")
def small(settings) -> WorldTables:
    return generate_tables(settings.world, "small", 11)


def _spearman(a: pd.Series, b: pd.Series) -> float:
    return float(a.rank().corr(b.rank()))


def _organic_er(world: WorldTables, min_h: float = 40, max_h: float = 100) -> pd.Series:
    """Engagement rate per post from its last snapshot 40-100 hours after posting."""
    m = world.metrics.merge(world.posts[["post_id", "posted_at"]], on="post_id")
    age = (m["observed_at"] - m["posted_at"]) / pd.Timedelta(hours=1)
    last = m[(age >= min_h) & (age <= max_h)].groupby("post_id").last()
    return (last["likes"] + last["comments"] + last["shares"]) / last["views"].clip(lower=1)


def test_same_seed_gives_identical_tables_and_another_seed_does_not(settings) -> None:
    a = generate_tables(settings.world, "tiny", 3)
    b = generate_tables(settings.world, "tiny", 3)
    c = generate_tables(settings.world, "tiny", 4)
    for name in ("creators", "partnerships", "posts", "metrics", "spark_results", "baselines", "spark_hourly", "truth",
                 "truth_boosts"):
        assert to_csv_text(getattr(a, name)) == to_csv_text(getattr(b, name)), name
    assert to_csv_text(a.posts) != to_csv_text(c.posts)


def test_unknown_size_is_an_input_error(settings) -> None:
    with pytest.raises(InputError, match="huge"):
        generate_tables(settings.world, "huge", 1)


def test_every_table_has_the_contract_columns_and_string_ids(small: WorldTables) -> None:
    for name, frame in small.contract().items():
        required = [c.name for c in SPECS[name].columns if c.required]
        assert set(required) <= set(frame.columns), name
        key = list(SPECS[name].key)
        assert not frame.duplicated(key).any(), f"duplicate keys in {name}"
    ids = small.posts["post_id"]
    assert ids.map(type).eq(str).all()
    assert ids.str.fullmatch(r"\d{19}").all()
    assert int(ids.astype("int64").max()) > 2**53  # big enough that a float would corrupt them
    assert small.creators["creator_id"].map(type).eq(str).all()
    assert set(small.posts["creator_id"]) <= set(small.creators["creator_id"])


def test_times_end_at_the_world_end(settings, small: WorldTables) -> None:
    end = as_utc(settings.world.end)
    assert small.posts["posted_at"].max() <= end
    assert small.metrics["observed_at"].max() <= end
    assert small.spark_results["ended_at"].max() <= end
    assert small.baselines["period_end"].max() <= end
    span = small.posts["posted_at"].max() - small.posts["posted_at"].min()
    assert span > pd.Timedelta(days=settings.world.sizes["small"].days * 0.8)


def test_cast_has_own_accounts_partner_kinds_and_missing_rights(small: WorldTables) -> None:
    p = small.partnerships
    assert set(p["kind"]) == set(PARTNERSHIP_KINDS)
    own = p[p["kind"] == "own"]
    assert own["advertiser_id"].is_unique and len(own) == p["advertiser_id"].nunique()
    brand_ids = set(small.creators.loc[small.creators["is_brand_account"], "creator_id"])
    assert set(own["creator_id"]) == brand_ids
    assert own["usage_rights"].all()
    assert not p["usage_rights"].all()


def test_auth_codes_in_every_state_with_consistent_expiry(settings, small: WorldTables) -> None:
    posts = small.posts
    end = as_utc(settings.world.end)
    assert set(posts["spark_auth_status"]) == set(AUTH_STATUSES)
    has_code = posts["spark_auth_status"].isin(["authorized", "expired"])
    assert posts.loc[has_code, "spark_auth_expires_at"].notna().all()
    assert posts.loc[~has_code, "spark_auth_expires_at"].isna().all()
    assert (posts.loc[posts["spark_auth_status"] == "authorized", "spark_auth_expires_at"] > end).all()
    assert (posts.loc[posts["spark_auth_status"] == "expired", "spark_auth_expires_at"] <= end).all()
    lifetimes = (small.hidden["spark_auth_expires_at"] - small.hidden["auth_start"]).dropna().dt.days
    assert set(lifetimes) <= set(settings.world.auth.lifetimes_days)


def test_snapshots_are_cumulative_late_and_sparse_near_the_end(small: WorldTables) -> None:
    m = small.metrics
    for col in ("views", "likes", "comments", "shares"):
        assert (m.groupby("post_id")[col].diff().dropna() >= 0).all(), col
    assert m["full_watch_rate"].between(0, 1).all()
    assert m["reach"].isna().any() and m["reach"].notna().any()
    counts = m.groupby("post_id").size()
    posted = small.posts.set_index("post_id")["posted_at"]
    recent = posted[posted > posted.max() - pd.Timedelta(days=3)].index
    older = posted[posted < posted.max() - pd.Timedelta(days=30)].index
    assert counts.reindex(recent).fillna(0).mean() < counts.reindex(older).mean()
    # Heavy tails: the top post has far more views than the median one.
    final = m.groupby("post_id")["views"].max()
    assert final.max() > 20 * final.median()


def test_brand_accounts_and_creators_differ_in_reach(small: WorldTables) -> None:
    m = small.metrics.merge(small.posts[["post_id", "creator_id"]], on="post_id")
    m = m.merge(small.creators[["creator_id", "follower_count", "is_brand_account"]], on="creator_id")
    per_post = m.groupby("post_id").agg(views=("views", "max"), followers=("follower_count", "first"),
                                         brand=("is_brand_account", "first"))
    ratio = (per_post["views"] / per_post["followers"]).groupby(per_post["brand"]).median()
    assert ratio[True] < ratio[False]


def test_policy_boosts_posts_with_higher_organic_engagement(small: WorldTables) -> None:
    er = _organic_er(small)
    boosted = er.index.isin(small.spark_results["post_id"])
    assert boosted.sum() >= 20
    assert er[boosted].mean() > er[~boosted].mean()
    props = small.spark_results["boost_propensity"]
    assert props.between(0, 1, inclusive="neither").all()
    assert props.nunique() > 10  # a real probability per post, not a constant


def test_boosts_run_inside_the_authorisation_window(small: WorldTables) -> None:
    r = small.spark_results.merge(small.hidden[["post_id", "posted_at", "auth_start", "spark_auth_expires_at"]],
                                  on="post_id")
    assert (r["boosted_at"] >= r["posted_at"]).all()
    assert (r["boosted_at"] >= r["auth_start"]).all()
    assert (r["ended_at"] <= r["spark_auth_expires_at"]).all()
    assert (r["ended_at"] > r["boosted_at"]).all()
    assert (r["conversions"] <= r["clicks"]).all() and (r["views_6s"] <= r["views_2s"]).all()
    assert (r["views_2s"] <= r["impressions"]).all()


def test_expected_uplift_falls_with_polish_all_else_equal(settings, small: WorldTables) -> None:
    advertisers = {a.advertiser_id: a for a in small.advertisers}
    base = small.hidden.head(50)
    low = paid.paid_rates(base.assign(polish=0.15), advertisers, settings.world.effects).expected_uplift
    high = paid.paid_rates(base.assign(polish=0.85), advertisers, settings.world.effects).expected_uplift
    assert (high < low).all()
    hook_low = paid.paid_rates(base.assign(hook=0.1), advertisers, settings.world.effects).expected_uplift
    hook_high = paid.paid_rates(base.assign(hook=0.9), advertisers, settings.world.effects).expected_uplift
    assert (hook_high > hook_low).all()


def test_familiarity_with_a_creator_compounds(settings, small: WorldTables) -> None:
    advertisers = {a.advertiser_id: a for a in small.advertisers}
    creators = small.hidden[small.hidden["kind"] != "own"].head(40)
    uplift = [paid.paid_rates(creators.assign(prior_posts=k), advertisers, settings.world.effects).expected_uplift
              for k in (0, 3, 12)]
    assert (uplift[1] > uplift[0]).all() and (uplift[2] > uplift[1]).all()


def test_polish_hurts_paid_more_than_organic_and_organic_is_an_imperfect_guide(small: WorldTables) -> None:
    er = _organic_er(small)
    truth = small.truth.set_index("post_id").loc[er.index]
    rho_er = _spearman(er, truth["expected_uplift"])
    assert 0.1 < rho_er < 0.8  # informative, but far from the answer
    assert _spearman(truth["polish"], truth["expected_uplift"]) < _spearman(truth["polish"], er) - 0.1
    produced = truth["produced"].astype(bool)
    # Produced posts hold up organically much better than they do as Spark Ads.
    er_gap = np.log(er[produced].median() / er[~produced].median())
    uplift_gap = truth.loc[produced, "expected_uplift"].median() - truth.loc[~produced, "expected_uplift"].median()
    assert uplift_gap < er_gap


def test_realised_cpa_ratio_follows_expected_uplift_with_noise(small: WorldTables) -> None:
    r = small.spark_results.merge(small.posts[["post_id", "advertiser_id"]], on="post_id")
    r["period_start"] = r["boosted_at"].dt.to_period("M").dt.to_timestamp()
    b = small.baselines.assign(base_cpa=lambda x: x["spend"] / x["conversions"])
    r = r.merge(b[["advertiser_id", "period_start", "base_cpa"]], on=["advertiser_id", "period_start"])
    r = r[r["conversions"] > 0]
    label = np.log(r["base_cpa"] / (r["spend"] / r["conversions"]))
    expected = r["post_id"].map(small.truth.set_index("post_id")["expected_uplift"])
    rho = _spearman(label, expected)
    assert 0.3 < rho < 0.95  # signal, not an identity


def test_truth_covers_every_post_with_traits(small: WorldTables) -> None:
    t = small.truth
    assert list(t["post_id"]) == list(small.posts["post_id"])
    for col in ("hook", "authenticity", "polish", "topic_fit"):
        assert t[col].between(0, 1).all()
    own = small.posts["creator_id"].isin(small.creators.loc[small.creators["is_brand_account"], "creator_id"])
    # Brand posts lean produced, creators' lean native, with overlap both ways.
    assert t.loc[own.to_numpy(), "produced"].mean() > 0.6
    assert t.loc[~own.to_numpy(), "produced"].mean() < 0.35
    assert t.loc[own.to_numpy(), "produced"].mean() < 1.0 and t.loc[~own.to_numpy(), "produced"].any()


HOURLY_COUNTS = ["spend", "impressions", "views_2s", "views_6s", "likes", "comments", "shares", "clicks", "conversions"]


def test_hourly_rows_of_past_boosts_sum_exactly_to_their_results(settings, small: WorldTables) -> None:
    h = small.spark_hourly
    assert (h["hour_start"] == h["hour_start"].dt.floor("h")).all()
    assert (h["hour_start"] + pd.Timedelta(hours=1) <= as_utc(settings.world.end)).all()
    assert not h.duplicated(["post_id", "boosted_at", "hour_start"]).any()
    assert (h[HOURLY_COUNTS] >= 0).all().all()
    assert (h["views_2s"] <= h["impressions"]).all() and (h["views_6s"] <= h["views_2s"]).all()
    sums = h.groupby(["post_id", "boosted_at"])[HOURLY_COUNTS].sum()
    results = small.spark_results.set_index(["post_id", "boosted_at"])[HOURLY_COUNTS]
    joined = results.merge(sums, left_index=True, right_index=True, how="left", suffixes=("", "_h"))
    for col in HOURLY_COUNTS[1:]:
        assert (joined[col] == joined[f"{col}_h"]).all(), col
    np.testing.assert_array_equal(joined["spend"].to_numpy(), joined["spend_h"].round(2).to_numpy())
    # the first row is the hour the boost started in
    first = h.groupby(["post_id", "boosted_at"])["hour_start"].min().reset_index()
    assert (first["hour_start"] == first["boosted_at"].dt.floor("h")).all()


def test_live_boosts_run_at_the_world_end_without_results(settings, small: WorldTables) -> None:
    end = as_utc(settings.world.end)
    tb = small.truth_boosts
    live = tb[tb["live"]]
    assert len(live) >= small.posts["advertiser_id"].nunique() - 1  # about one per advertiser at least
    assert (live["boosted_at"] >= end - pd.Timedelta(days=5)).all() and (live["planned_end"] > end).all()
    keys = set(zip(small.spark_results["post_id"], small.spark_results["boosted_at"], strict=True))
    assert not any(k in keys for k in zip(live["post_id"], live["boosted_at"], strict=True))
    hourly_keys = set(zip(small.spark_hourly["post_id"], small.spark_hourly["boosted_at"], strict=True))
    assert all(k in hourly_keys for k in zip(live["post_id"], live["boosted_at"], strict=True))
    assert len(tb) == len(small.spark_results) + len(live)
    assert (tb["true_cost_ratio"] > 0).all()


def test_delivery_has_a_daily_rhythm_a_learning_phase_and_a_reporting_lag(small: WorldTables) -> None:
    h = small.spark_hourly.merge(small.truth_boosts[["post_id", "boosted_at", "planned_end"]])
    age = (h["hour_start"] - h["boosted_at"].dt.floor("h")) / pd.Timedelta(hours=1)
    by_hour = h.groupby(h["hour_start"].dt.hour)["spend"].sum()
    assert by_hour.max() > 2.5 * by_hour.min()  # evenings, not nights
    # conversions per dollar on day one well below days 4-7 (learning), pooled over boosts
    day1, settled = h[age < 24], h[(age >= 96) & (age < 168) & (h["hour_start"] < h["planned_end"])]
    assert day1["conversions"].sum() / day1["spend"].sum() < 0.8 * settled["conversions"].sum() / settled["spend"].sum()
    # conversions keep arriving after the spend stopped (reported late)
    after = h[h["hour_start"] >= h["planned_end"]]
    assert (after["spend"] == 0).all() and after["conversions"].sum() > 0
    # the true settled cost ratio follows the post's expected uplift (truth side agrees with itself)
    tb = small.truth_boosts.merge(small.truth[["post_id", "expected_uplift"]])
    assert _spearman(-np.log(tb["true_cost_ratio"]), tb["expected_uplift"]) > 0.5
