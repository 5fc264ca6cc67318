"""Engagement features on hand-made snapshots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import engagement
from features.quality import clean_metrics
from sparkpick.config import FeaturesConfig, Settings

T0 = pd.Timestamp("2026-03-01 00:00")


def h(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def posts(n: int = 1, creator: str = "c1") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(n)],
            "advertiser_id": ["a"] * n,
            "creator_id": [creator] * n,
            "posted_at": [T0] * n,
        }
    )


def snaps(rows: list[tuple[str, float, int]]) -> pd.DataFrame:
    # (post, hours after T0, views): likes 10%, comments 1%, shares 2% of views.
    frame = pd.DataFrame(
        {
            "post_id": [r[0] for r in rows],
            "observed_at": [h(r[1]) for r in rows],
            "views": [r[2] for r in rows],
            "likes": [r[2] // 10 for r in rows],
            "comments": [r[2] // 100 for r in rows],
            "shares": [r[2] // 50 for r in rows],
            "avg_watch_s": [6.0] * len(rows),
            "full_watch_rate": [0.25] * len(rows),
        }
    )
    return frame


def queries(post_ids: list[str], as_of: list[pd.Timestamp], p: pd.DataFrame) -> pd.DataFrame:
    q = pd.DataFrame({"post_id": post_ids, "as_of": as_of})
    return q.merge(p, on="post_id", how="left")


@pytest.fixture
def cfg(settings: Settings) -> FeaturesConfig:
    return settings.features


def features_for(q: pd.DataFrame, p: pd.DataFrame, m: pd.DataFrame, cfg: FeaturesConfig,
                 duration: pd.Series | None = None) -> pd.DataFrame:
    clean, _ = clean_metrics(m, p)
    latest = engagement.latest_snapshots(q, clean)
    ages = engagement.views_at_ages(p, clean, cfg)
    return engagement.engagement_features(q, latest, ages, cfg, duration)


def test_pure_formulas() -> None:
    views = pd.Series([1000.0, 0.0, np.nan])
    assert engagement.per_view(pd.Series([50, 5, 5]), views).tolist()[0] == 0.05
    assert engagement.per_view(pd.Series([50, 5, 5]), views).iloc[1:].isna().all()
    rate = engagement.interaction_rate(pd.Series([10]), pd.Series([2]), pd.Series([3]), pd.Series([100]))
    assert rate.iloc[0] == pytest.approx(0.15)
    frac = engagement.watch_fraction(pd.Series([6.0, 6.0]), pd.Series([12.0, np.nan]))
    assert frac.iloc[0] == 0.5 and np.isnan(frac.iloc[1])
    vph = engagement.views_per_hour(pd.Series([300.0]), pd.Series([100.0]), pd.Series([4.0]))
    assert vph.iloc[0] == 50.0
    z = engagement.robust_z(
        pd.Series([5.0, 5.0, 5.0]), pd.Series([3.0, 3.0, 3.0]), pd.Series([1.0, 0.0, 1.0]),
        pd.Series([5, 5, 2]), min_peers=3,
    )
    assert z.iloc[0] == pytest.approx(2.0 / 1.4826)
    assert z.iloc[1:].isna().all()  # no spread; too few peers
    clipped = engagement.robust_z(pd.Series([100.0]), pd.Series([0.0]), pd.Series([1.0]), pd.Series([5]), 3, 10)
    assert clipped.iloc[0] == 10.0


def test_latest_snapshot_as_of_and_rates(cfg: FeaturesConfig) -> None:
    p = posts()
    m = snaps([("p0", 2, 100), ("p0", 10, 1000), ("p0", 30, 3000)])
    q = queries(["p0", "p0", "p0"], [h(1), h(10), h(20)], p)
    f = features_for(q, p, m, cfg, duration=pd.Series([12.0, 12.0, 12.0]))
    assert np.isnan(f["views_latest"].iloc[0])  # nothing observed yet
    assert f["snapshot_count"].tolist() == [0.0, 2.0, 2.0]
    assert f["views_latest"].iloc[1] == 1000  # observed exactly at T counts
    assert f["views_latest"].iloc[2] == 1000
    assert f["like_rate"].iloc[2] == pytest.approx(0.1)
    assert f["share_rate"].iloc[2] == pytest.approx(0.02)
    assert f["interaction_rate"].iloc[2] == pytest.approx(0.13)
    assert f["watch_fraction"].iloc[2] == pytest.approx(0.5)
    assert f["views_per_hour_recent"].iloc[2] == pytest.approx((1000 - 100) / 8)
    assert f["views_per_hour_lifetime"].iloc[2] == pytest.approx(100.0)
    assert f["age_hours"].tolist() == [1.0, 10.0, 20.0]
    assert f["organic_data_hours"].tolist() == [0.0, 10.0, 10.0]


def test_watch_fraction_missing_without_video_duration(cfg: FeaturesConfig) -> None:
    p = posts()
    f = features_for(queries(["p0"], [h(20)], p), p, snaps([("p0", 10, 1000)]), cfg)
    assert np.isnan(f["watch_fraction"].iloc[0])


def test_growth_interpolates_only_once_observed(cfg: FeaturesConfig) -> None:
    p = posts()
    m = snaps([("p0", 4, 400), ("p0", 8, 1200), ("p0", 20, 2400), ("p0", 30, 2900), ("p0", 200, 9000)])
    q = queries(["p0"] * 4, [h(7), h(8), h(29), h(300)], p)
    f = features_for(q, p, m, cfg)
    # 6 h: between 4 h (400) and 8 h (1200), known once the 8 h snapshot is in.
    assert np.isnan(f["views_6h"].iloc[0])
    assert f["views_6h"].iloc[1] == pytest.approx(800.0)
    # 24 h: between 20 h (2400) and 30 h (2900): unknown at 29 h.
    assert np.isnan(f["views_24h"].iloc[2])
    assert f["views_24h"].iloc[3] == pytest.approx(2600.0)
    # 48 h: the snapshots around it are 170 h apart (more than the allowed gap): never interpolated.
    assert np.isnan(f["views_48h"].iloc[3])


def test_growth_uses_posting_time_as_zero(cfg: FeaturesConfig) -> None:
    p = posts()
    f = features_for(queries(["p0"], [h(12)], p), p, snaps([("p0", 12, 1200)]), cfg)
    assert f["views_6h"].iloc[0] == pytest.approx(600.0)
    assert f["views_per_hour_recent"].iloc[0] == pytest.approx(100.0)


def test_peer_z_scores_compare_with_the_creators_other_posts(cfg: FeaturesConfig) -> None:
    p = posts(5)
    # Shares per view: p0 4%, peers 1%, 2%, 2%, 3%; all observed at 30 h.
    rows = []
    for pid, share in zip(["p0", "p1", "p2", "p3", "p4"], [40, 10, 20, 20, 30], strict=True):
        rows.append((pid, 30, 1000, share))
    m = pd.DataFrame(
        {
            "post_id": [r[0] for r in rows], "observed_at": [h(r[1]) for r in rows],
            "views": [r[2] for r in rows], "likes": [100] * 5, "comments": [10] * 5,
            "shares": [r[3] for r in rows], "avg_watch_s": [5.0] * 5, "full_watch_rate": [0.3] * 5,
        }
    )
    clean, _ = clean_metrics(m, p)
    q = queries(["p0", "p0"], [h(40), h(20)], p)
    latest = engagement.latest_snapshots(q, clean)
    ages = engagement.views_at_ages(p, clean, cfg)
    own = engagement.engagement_features(q, latest, ages, cfg)
    z = engagement.peer_features(q, own, p, clean, ages, cfg)
    # Peers' median 0.02, MAD 0.005 -> z = (0.04 - 0.02) / (1.4826 * 0.005).
    assert z["share_rate_vs_creator_z"].iloc[0] == pytest.approx(0.02 / (1.4826 * 0.005))
    assert z["share_rate_vs_advertiser_z"].iloc[0] == pytest.approx(0.02 / (1.4826 * 0.005))
    assert np.isnan(z["completion_rate_vs_creator_z"].iloc[0])  # all peers equal: no spread, no score
    # At 20 h nothing is observed yet for anyone: no comparison.
    assert z.iloc[1].isna().all()
