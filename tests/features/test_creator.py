"""Creator and relationship features on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import creator
from features.labels import uplift_labels
from sparkpick.config import Settings

T0 = pd.Timestamp("2026-04-01")


def d(days: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=days)


CREATORS = pd.DataFrame(
    {
        "creator_id": ["brand", "c1", "c2"],
        "handle": ["brand", "one", "two"],
        "follower_count": pd.array([50_000, 1200, None], dtype="Int64"),
        "is_brand_account": pd.array([True, False, False], dtype="boolean"),
    }
)
PARTNERSHIPS = pd.DataFrame(
    {
        "advertiser_id": ["a", "a", "a"],
        "creator_id": ["brand", "c1", "c2"],
        "kind": ["own", "ongoing", "one_off"],
        "started_at": [d(100), d(-10), d(5)],  # the own account's start date does not matter
        "usage_rights": pd.array([False, True, None], dtype="boolean"),
    }
)
POSTS = pd.DataFrame(
    {
        "post_id": ["b1", "x1", "x2", "x3", "y1", "z1"],
        "advertiser_id": ["a", "a", "a", "a", "a", "b"],
        "creator_id": ["brand", "c1", "c1", "c1", "c2", "c1"],
        "posted_at": [d(0), d(-40), d(-5), d(1), d(2), d(-3)],
    }
)


def q(post_ids: list[str], as_of: list[pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame({"post_id": post_ids, "as_of": as_of}).merge(POSTS, on="post_id")


def test_relationship_at_t() -> None:
    f = creator.relationship_features(q(["b1", "x3", "y1", "y1"], [d(3), d(3), d(3), d(6)]), CREATORS, PARTNERSHIPS)
    assert f["creator_followers"].iloc[:2].tolist() == [50_000.0, 1200.0]
    assert np.isnan(f["creator_followers"].iloc[2])
    assert f["own_account"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert f["usage_rights"].tolist() == [1.0, 1.0, 0.0, 0.0]  # own content always has rights
    assert f["partnership_ongoing"].tolist() == [0.0, 1.0, 0.0, 0.0]
    # c2's one-off partnership starts on day 5: not in force at day 3, in force at day 6.
    assert f["partnership_one_off"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert f["partnership_days"].iloc[1] == pytest.approx(13.0)
    assert np.isnan(f["partnership_days"].iloc[0]) and np.isnan(f["partnership_days"].iloc[2])
    assert f["partnership_days"].iloc[3] == pytest.approx(1.0)


def test_familiarity_counts_only_this_advertiser_and_earlier_posts() -> None:
    f = creator.familiarity_features(q(["x3", "x2"], [d(3), d(3)]), POSTS, window_days=30)
    # x3: x1 and x2 came before it (z1 is for another advertiser); x2, x3 are within 30 days of day 3.
    assert f["creator_prior_posts"].tolist() == [2.0, 1.0]
    assert f["creator_recent_posts"].tolist() == [2.0, 2.0]
    later = pd.concat([POSTS, pd.DataFrame({"post_id": ["x9"], "advertiser_id": ["a"], "creator_id": ["c1"],
                                            "posted_at": [d(10)]})])
    again = creator.familiarity_features(q(["x3", "x2"], [d(3), d(3)]), later, window_days=30)
    pd.testing.assert_frame_equal(f, again)


def test_spark_history_uses_only_results_ended_before_t(settings: Settings) -> None:
    results = pd.DataFrame(
        {
            "post_id": ["x1", "x2", "z1"],
            "boosted_at": [d(-30), d(-2), d(-2)],
            "ended_at": [d(-20), d(4), d(0)],
            "spend": [100.0, 100.0, 100.0], "impressions": [10_000] * 3, "views_2s": [3000] * 3,
            "views_6s": [1000] * 3, "likes": [100] * 3, "comments": [10] * 3, "shares": [10] * 3,
            "clicks": [50] * 3, "conversions": [20, 1, 5],
        }
    )
    baselines = pd.DataFrame(
        {
            "advertiser_id": ["a", "b"], "period_start": [d(-60), d(-60)], "period_end": [d(-15), d(-15)],
            "spend": [1000.0, 1000.0], "impressions": [100_000] * 2, "views_2s": [30_000] * 2,
            "likes": [1000] * 2, "comments": [100] * 2, "shares": [100] * 2, "clicks": [800] * 2,
            "conversions": [100, 100],
        }
    )
    f = creator.spark_history_features(q(["x3", "x3", "x1"], [d(3), d(5), d(-25)]), POSTS, results,
                                       baselines, settings.label)
    # At day 3 only x1's boost has ended (z1 is another advertiser's); at day 5 x2's too.
    assert f["creator_prior_boosts"].tolist() == [1.0, 2.0, 0.0]
    x1 = uplift_labels(results.iloc[:1], baselines, POSTS, settings.label).iloc[0]
    assert f["creator_prior_uplift"].iloc[0] == pytest.approx(x1)
    both = uplift_labels(results.iloc[:2], baselines, POSTS, settings.label).mean()
    assert f["creator_prior_uplift"].iloc[1] == pytest.approx(both)
    assert np.isnan(f["creator_prior_uplift"].iloc[2])
