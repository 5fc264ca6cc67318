"""Uplift labels and relevance grades on hand-made results."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.labels import (
    global_grades,
    grade,
    match_baselines,
    relevance_grades,
    shrunk_log_cpa_ratio,
    uplift_labels,
)
from sparkpick.config import LabelConfig

T0 = pd.Timestamp("2026-05-04")


def cfg(kind: str = "cpa_ratio", k: float = 5.0, m: float = 1000.0) -> LabelConfig:
    return LabelConfig(kind=kind, prior_strength_conversions=k, prior_strength_impressions=m, relevance_levels=5,
                       relevance_scope="global")


def posts() -> pd.DataFrame:
    return pd.DataFrame({"post_id": ["p1", "p2", "p3"], "advertiser_id": ["a", "a", "b"]})


def baselines(spend: float = 1000.0, conversions: int = 100) -> pd.DataFrame:
    # Advertiser a: two weekly periods (CPA 10 then 20); advertiser b: one period long before.
    return pd.DataFrame(
        {
            "advertiser_id": ["a", "a", "b"],
            "period_start": [T0, T0 + pd.Timedelta(days=7), T0 - pd.Timedelta(days=60)],
            "period_end": [T0 + pd.Timedelta(days=7), T0 + pd.Timedelta(days=14), T0 - pd.Timedelta(days=53)],
            "spend": [spend, 2000.0, 500.0],
            "impressions": [100_000, 100_000, 50_000],
            "views_2s": [30_000, 30_000, 10_000],
            "likes": [1000, 1000, 500],
            "comments": [100, 100, 50],
            "shares": [100, 100, 50],
            "clicks": [800, 800, 400],
            "conversions": [conversions, 100, 50],
        }
    )


def result(post_id: str, start_day: float, days: float, spend: float, conv: int, **kw: int) -> dict:
    row = {
        "post_id": post_id, "boosted_at": T0 + pd.Timedelta(days=start_day),
        "ended_at": T0 + pd.Timedelta(days=start_day + days), "spend": spend, "impressions": 10_000,
        "views_2s": 4000, "views_6s": 2000, "likes": 200, "comments": 20, "shares": 20, "clicks": 100,
        "conversions": conv,
    }
    row.update(kw)
    return row


def test_cpa_label_matches_the_formula_and_shrinks() -> None:
    res = pd.DataFrame([result("p1", 1, 3, spend=100.0, conv=20)])  # raw CPA 5 vs baseline 10
    k = 5.0
    got = uplift_labels(res, baselines(), posts(), cfg(k=k)).iloc[0]
    expected = math.log(10.0 * (20 + k) / (100.0 + k * 10.0))
    assert got == pytest.approx(expected)
    raw = math.log(10.0 / 5.0)
    assert 0 < got < raw  # shrunk toward 0, same sign
    no_prior = uplift_labels(res, baselines(), posts(), cfg(k=0.0)).iloc[0]
    assert no_prior == pytest.approx(raw)


def test_zero_conversions_and_tiny_spend_stay_finite_and_near_zero() -> None:
    res = pd.DataFrame(
        [
            result("p1", 1, 3, spend=0.0, conv=0),  # nothing spent: exactly the baseline
            result("p1", 1, 3, spend=1.0, conv=2),  # 2 conversions on $1: not a miracle
            result("p1", 1, 3, spend=1000.0, conv=0),  # real spend, nothing: clearly bad
        ]
    )
    y = uplift_labels(res, baselines(), posts(), cfg())
    assert np.isfinite(y).all()
    assert y.iloc[0] == pytest.approx(0.0)
    assert 0 < y.iloc[1] < 0.5  # raw ratio would be log(10 / 0.5) = 3.0
    assert y.iloc[2] < -0.5
    assert y.iloc[2] < y.iloc[0] < y.iloc[1]


def test_overlapping_periods_are_pooled_and_earlier_period_is_the_fallback() -> None:
    res = pd.DataFrame(
        [
            result("p1", 5, 4, spend=100.0, conv=10),  # overlaps both of a's weeks
            result("p3", 0, 3, spend=100.0, conv=10),  # b: no overlap, nearest earlier period
            result("p1", -30, 3, spend=100.0, conv=10),  # a: nothing overlaps or precedes
            result("p1", 14, 3, spend=100.0, conv=10),  # starts as a's second week ends: that week
        ]
    )
    base = match_baselines(res, baselines(), posts())
    assert base["spend"].iloc[0] == pytest.approx(3000.0)
    assert base["baseline_periods"].iloc[0] == 2
    assert base["spend"].iloc[1] == pytest.approx(500.0)
    y = uplift_labels(res, baselines(), posts(), cfg(k=0.0))
    assert y.iloc[0] == pytest.approx(math.log((3000 / 200) / 10.0))
    assert y.iloc[1] == pytest.approx(math.log((500 / 50) / 10.0))
    assert np.isnan(y.iloc[2])
    assert base["baseline_periods"].iloc[3] == 1 and base["spend"].iloc[3] == pytest.approx(2000.0)


def test_as_of_hides_baselines_that_had_not_ended() -> None:
    res = pd.DataFrame([result("p1", 8, 2, spend=100.0, conv=10)])  # inside a's second week
    seen = uplift_labels(res, baselines(), posts(), cfg(k=0.0))
    as_of = pd.Series([T0 + pd.Timedelta(days=10)])  # second week not over: falls back to the first
    early = uplift_labels(res, baselines(), posts(), cfg(k=0.0), as_of=as_of)
    assert seen.iloc[0] == pytest.approx(math.log(20.0 / 10.0))
    assert early.iloc[0] == pytest.approx(math.log(10.0 / 10.0))


def test_zero_baseline_conversions_give_no_label() -> None:
    res = pd.DataFrame([result("p1", 1, 3, spend=100.0, conv=10)])
    y = uplift_labels(res, baselines(conversions=0), posts(), cfg())
    assert np.isnan(y.iloc[0])


@pytest.mark.parametrize("kind", ["engagement_ratio", "thumbstop_ratio"])
def test_rate_ratio_labels(kind: str) -> None:
    # Baseline week 1: engagement 1200/100000 = 1.2%, thumb-stop 30%.
    res = pd.DataFrame(
        [
            result("p1", 1, 3, spend=50.0, conv=1),  # engagement 2.4%, thumb-stop 40%
            result("p1", 1, 3, spend=50.0, conv=1, impressions=0, likes=0, comments=0, shares=0, views_2s=0),
        ]
    )
    y = uplift_labels(res, baselines(), posts(), cfg(kind=kind, m=0.0))
    raw = math.log(2.0) if kind == "engagement_ratio" else math.log(0.4 / 0.3)
    assert y.iloc[0] == pytest.approx(raw)
    shrunk = uplift_labels(res, baselines(), posts(), cfg(kind=kind, m=10_000.0))
    assert 0 < shrunk.iloc[0] < raw
    assert shrunk.iloc[1] == pytest.approx(0.0)  # no impressions: the baseline rate
    assert np.isnan(y.iloc[1])  # without a prior an empty boost has no rate


def test_shrunk_cpa_ratio_is_monotone_in_conversions() -> None:
    values = shrunk_log_cpa_ratio(np.full(5, 100.0), np.arange(5.0), np.full(5, 10.0), 5.0)
    assert np.all(np.diff(values) > 0)


def test_relevance_grades_within_groups() -> None:
    uplift = pd.Series([0.5, -1.0, 2.0, 0.1, 0.3, 9.0, 0.0, 0.0, np.nan])
    groups = pd.Series(["g1"] * 5 + ["single"] + ["tie"] * 2 + ["g1"])
    grades = relevance_grades(uplift, groups, levels=5)
    assert grades.dtype == "Int64"
    assert grades.iloc[:5].tolist() == [3, 0, 4, 1, 2]  # a full spread in a group of 5
    assert grades.iloc[5] == 2  # a single-row group sits in the middle
    assert grades.iloc[6] == grades.iloc[7]  # ties share a grade
    assert pd.isna(grades.iloc[8])
    assert grades.dropna().between(0, 4).all()


def test_relevance_grades_are_order_preserving_in_big_groups() -> None:
    rng = np.random.default_rng(3)
    uplift = pd.Series(rng.normal(size=40))
    grades = relevance_grades(uplift, pd.Series(["g"] * 40), levels=4)
    order = uplift.sort_values().index
    assert grades[order].is_monotonic_increasing
    assert set(grades) == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        relevance_grades(uplift, pd.Series(["g"] * 40), levels=1)


def test_global_grades_use_the_reference_cut_points() -> None:
    reference = pd.Series(np.arange(100, dtype=float))
    grades = global_grades(reference, reference, levels=5)
    assert grades.value_counts().sort_index().tolist() == [20] * 5  # equal-sized on the reference itself
    # other rows are graded with the reference's cut points, not their own
    later = pd.Series([-5.0, 10.0, 50.0, 99.0, 500.0, np.nan])
    assert global_grades(later, reference, levels=5).tolist()[:5] == [0, 0, 2, 4, 4]
    assert global_grades(later, reference, levels=5).isna().tolist() == [False] * 5 + [True]
    # unlike grades within groups, a week of poor boosts gets low grades
    groups = pd.Series(["poor"] * 3 + ["good"] * 3)
    uplift = pd.Series([-1.0, -0.9, -0.8, 0.8, 0.9, 1.0])
    by_scope = {
        scope: grade(uplift, groups, LabelConfig(kind="cpa_ratio", prior_strength_conversions=5, prior_strength_impressions=1,
                                                 relevance_levels=5, relevance_scope=scope)).tolist()
        for scope in ("global", "group")
    }
    assert by_scope["group"][:3] == by_scope["group"][3:]
    assert max(by_scope["global"][:3]) < min(by_scope["global"][3:])
    assert global_grades(pd.Series([], dtype=float), pd.Series([], dtype=float), 5).empty
