"""The model's track record: pick-time predictions (as of the boost, never later), realised uplift,
rolling figures and the retraining verdict, on generated boosts whose right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from features.labels import uplift_labels
from models.track_record import (
    coverage_p_value,
    pick_time_predictions,
    rank_correlation_p_value,
    summarise_track_record,
    track_record_rows,
)
from sparkpick.config import LabelConfig

T0 = pd.Timestamp("2026-09-01")
LABEL = LabelConfig(kind="cpa_ratio", prior_strength_conversions=2.0, prior_strength_impressions=1000.0,
                    relevance_levels=5, relevance_scope="global")


def scores(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    """(post_id, as_of, predicted_uplift, model_version); the band is +-0.5 around the prediction."""
    frame = pd.DataFrame(rows, columns=["post_id", "as_of", "predicted_uplift", "model_version"])
    frame["as_of"] = pd.to_datetime(frame["as_of"], format="ISO8601")
    frame["uplift_low"] = frame["predicted_uplift"] - 0.5
    frame["uplift_high"] = frame["predicted_uplift"] + 0.5
    return frame


def test_pick_time_prediction_is_the_latest_score_by_the_boost_start() -> None:
    boosts = pd.DataFrame({"post_id": ["a", "b", "a", "c"],
                           "boosted_at": pd.to_datetime(["2026-09-05", "2026-09-05", "2026-09-02", "2026-09-05"])})
    s = scores([("a", "2026-09-01", 0.1, "1"), ("a", "2026-09-04", 0.2, "2"), ("a", "2026-09-06", 0.9, "3"),
                ("b", "2026-09-05", 0.4, "2"), ("c", "2026-09-05 00:00:01", 0.7, "2")])
    out = pick_time_predictions(boosts, s)
    assert out.index.equals(boosts.index)
    assert out["predicted_uplift"].tolist()[:3] == [0.2, 0.4, 0.1]  # never the later 0.9; same instant counts
    assert math.isnan(out["predicted_uplift"].iloc[3])  # scored one second after the boost started
    assert out["model_version"].tolist()[:3] == ["2", "2", "1"]
    assert out["scored_at"].iloc[0] == pd.Timestamp("2026-09-04")
    assert out["uplift_low"].iloc[0] == pytest.approx(-0.3)


def test_pick_time_prediction_without_scores() -> None:
    boosts = pd.DataFrame({"post_id": ["a"], "boosted_at": [T0]})
    out = pick_time_predictions(boosts, pd.DataFrame())
    assert out["predicted_uplift"].isna().all() and out["scored_at"].isna().all()


def world(n: int, seed: int, noise: float, *, ended_days_ago: float = 5.0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.Timestamp]:
    """n finished boosts of one advertiser (in-feed CPA 10) whose true log uplift is known; each post
    scored a day before its boost with the true uplift plus `noise` (sd, log units), band +-0.5."""
    rng = np.random.default_rng(seed)
    as_of = T0 + pd.Timedelta(days=70)
    truth = rng.normal(0.3, 0.6, n)
    spend = np.full(n, 5000.0)
    conversions = rng.poisson(spend / 10.0 * np.exp(truth))
    boosted = [as_of - pd.Timedelta(days=ended_days_ago + 7 + (i % 40)) for i in range(n)]
    results = pd.DataFrame({
        "post_id": [f"p{i}" for i in range(n)], "boosted_at": boosted,
        "ended_at": [b + pd.Timedelta(days=7) for b in boosted], "spend": spend, "impressions": 100_000,
        "views_2s": 30_000, "views_6s": 10_000, "likes": 100, "comments": 10, "shares": 10, "clicks": 500,
        "conversions": conversions,
    })
    tables = {
        "posts": pd.DataFrame({"post_id": results["post_id"], "advertiser_id": "adv"}),
        "spark_results": results,
        "baselines": pd.DataFrame({
            "advertiser_id": ["adv"], "period_start": [T0 - pd.Timedelta(days=100)], "period_end": [as_of - pd.Timedelta(days=1)],
            "spend": [1e6], "impressions": [1e8], "views_2s": [3e7], "likes": [1e5], "comments": [1e4],
            "shares": [1e4], "clicks": [1e6], "conversions": [1e5],
        }),
    }
    s = scores([(f"p{i}", str(b - pd.Timedelta(days=1)), float(truth[i] + rng.normal(0, noise)), "1")
                for i, b in enumerate(boosted)])
    return tables, s, as_of


def test_rows_carry_prediction_and_realised_label() -> None:
    tables, s, as_of = world(30, seed=1, noise=0.1)
    # A boost scored only after it started has no pick-time prediction: left out.
    s = s[s["post_id"] != "p0"]
    rows = track_record_rows(tables, s, LABEL, as_of, window_days=60)
    assert "p0" not in set(rows["post_id"]) and len(rows) == 29
    expected = uplift_labels(tables["spark_results"], tables["baselines"], tables["posts"], LABEL)
    by_post = dict(zip(tables["spark_results"]["post_id"], expected, strict=True))
    assert rows["realised_uplift"].tolist() == pytest.approx([by_post[p] for p in rows["post_id"]])
    inside = (rows["realised_uplift"] >= rows["uplift_low"]) & (rows["realised_uplift"] <= rows["uplift_high"])
    assert rows["inside"].astype(bool).tolist() == inside.tolist()
    assert set(rows["advertiser_id"]) == {"adv"}


def test_window_and_as_of_limit_the_boosts() -> None:
    tables, s, as_of = world(30, seed=2, noise=0.1)
    # Ten days earlier, boosts that end after that moment are unfinished: not in the record.
    earlier = as_of - pd.Timedelta(days=10)
    rows = track_record_rows(tables, s, LABEL, earlier, window_days=60)
    assert (rows["ended_at"] <= earlier).all() and len(rows) < 30
    narrow = track_record_rows(tables, s, LABEL, as_of, window_days=10)
    assert (narrow["ended_at"] > as_of - pd.Timedelta(days=10)).all() and 0 < len(narrow) < 30


def test_good_predictions_keep_their_promise() -> None:
    tables, s, as_of = world(120, seed=3, noise=0.15)
    rows = track_record_rows(tables, s, LABEL, as_of, 60)
    record = summarise_track_record(rows, as_of, 60, promised_coverage=0.8, promised_rank_correlation=0.6,
                                    alpha=0.01, min_count=20)
    assert record.count == len(rows) > 20
    assert record.rank_correlation > 0.6
    assert record.coverage >= 0.8
    assert not record.retrain_due and record.why == ()
    assert abs(record.mean_error) < 0.2
    assert record.metrics()["count"] == record.count


def test_random_predictions_make_retraining_due() -> None:
    tables, s, as_of = world(120, seed=4, noise=0.15)
    s = s.assign(predicted_uplift=np.random.default_rng(0).permutation(s["predicted_uplift"].to_numpy()))
    s = s.assign(uplift_low=s["predicted_uplift"] - 0.5, uplift_high=s["predicted_uplift"] + 0.5)
    rows = track_record_rows(tables, s, LABEL, as_of, 60)
    record = summarise_track_record(rows, as_of, 60, 0.8, 0.6, alpha=0.01, min_count=20)
    assert record.retrain_due
    assert record.rank_p < 0.01 and record.coverage_p < 0.01
    assert any("worse order" in w for w in record.why) and any("inside the predicted range" in w for w in record.why)


def test_too_few_boosts_are_not_tested() -> None:
    tables, s, as_of = world(8, seed=5, noise=2.0)
    rows = track_record_rows(tables, s, LABEL, as_of, 60)
    record = summarise_track_record(rows, as_of, 60, 0.8, 0.6, alpha=0.01, min_count=20)
    assert record.count == 8 and not record.retrain_due and record.coverage_p is None


def test_empty_record() -> None:
    record = summarise_track_record(pd.DataFrame(columns=["realised_uplift"]), T0, 60, 0.8, None, 0.01, 20)
    assert record.count == 0 and record.coverage is None and not record.retrain_due


def test_p_values() -> None:
    assert coverage_p_value(77, 100, 0.8) == pytest.approx(stats.binom.cdf(77, 100, 0.8))
    assert coverage_p_value(60, 100, 0.8) < 1e-4
    assert rank_correlation_p_value(0.5, 50, 0.5) == pytest.approx(0.5)
    assert rank_correlation_p_value(0.1, 50, 0.5) < 0.01 < rank_correlation_p_value(0.4, 50, 0.5)
