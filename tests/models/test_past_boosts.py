"""What past boosts say at scoring time (models/past_boosts.py): the policy's boost history, finished counts."""

from __future__ import annotations

import pandas as pd
import pytest

from models.past_boosts import boost_history_at, finished_boosts
from sparkpick.config import Settings

AS_OF = pd.Timestamp("2026-10-01")


def tables() -> dict[str, pd.DataFrame]:
    """Three boosts of two advertisers: p1 finished (a1), p2 live at AS_OF (a1), p3 finished (a2)."""
    results = pd.DataFrame({
        "post_id": ["p1", "p2", "p3"],
        "boosted_at": pd.to_datetime(["2026-09-01", "2026-09-28", "2026-09-10"]),
        "ended_at": pd.to_datetime(["2026-09-08", "2026-10-03", "2026-09-17"]),
        "spend": [1000.0, 500.0, 1000.0], "impressions": 100_000, "views_2s": 30_000, "views_6s": 10_000,
        "likes": 100, "comments": 10, "shares": 10, "clicks": 500, "conversions": [200, 10, 50],
    })
    baselines = pd.DataFrame({
        "advertiser_id": ["a1", "a2"], "period_start": pd.Timestamp("2026-06-01"),
        "period_end": pd.Timestamp("2026-08-31"), "spend": 1e5, "impressions": 1e7, "views_2s": 3e6,
        "likes": 1e4, "comments": 1e3, "shares": 1e3, "clicks": 1e5, "conversions": 1e4,
    })
    posts = pd.DataFrame({"post_id": ["p1", "p2", "p3", "p4"], "advertiser_id": ["a1", "a1", "a2", "a2"]})
    return {"spark_results": results, "baselines": baselines, "posts": posts}


def test_the_history_knows_live_and_finished_boosts_with_their_realised_uplift(settings: Settings) -> None:
    h = boost_history_at(tables(), AS_OF, settings).set_index("post_id")
    assert set(h.index) == {"p1", "p2", "p3"}
    assert h.loc["p2", "live"] and not h.loc["p1", "live"] and not h.loc["p3", "live"]
    # In-feed CPA 10; p1 paid 5 a conversion (cheaper: positive log uplift), p3 paid 20 (more expensive).
    assert h.loc["p1", "realised_uplift"] > 0 > h.loc["p3", "realised_uplift"]
    assert pd.isna(h.loc["p2", "realised_uplift"])
    # An aware as-of time is the same instant as the naive UTC one.
    aware = boost_history_at(tables(), AS_OF.tz_localize("UTC"), settings).set_index("post_id")
    pd.testing.assert_frame_equal(aware, h)


def test_no_boosts_give_an_empty_history(settings: Settings) -> None:
    empty = {**tables(), "spark_results": tables()["spark_results"].iloc[:0]}
    assert boost_history_at(empty, AS_OF, settings).empty
    assert finished_boosts(empty, AS_OF).empty


@pytest.mark.parametrize(("as_of", "expected"), [
    ("2026-09-05", {}), ("2026-09-10", {"a1": 1}), ("2026-10-01", {"a1": 1, "a2": 1}),
    ("2026-10-05", {"a1": 2, "a2": 1}),
])
def test_finished_boosts_are_counted_per_advertiser_by_the_as_of_time(as_of: str, expected: dict[str, int]) -> None:
    assert finished_boosts(tables(), pd.Timestamp(as_of)).to_dict() == expected
