"""A night reuses scores only when the warehouse, the model store, the settings and the as-of time are
all exactly as they were when those scores were computed."""

from __future__ import annotations

import pandas as pd

from flows.unchanged import keep_scores, reuse_scores, scoring_inputs
from sparkpick.config import with_overrides
from sparkpick.warehouse import Warehouse


def _posts(caption: str) -> pd.DataFrame:
    return pd.DataFrame({
        "post_id": ["p1", "p2"], "advertiser_id": "a1", "creator_id": "c1",
        "posted_at": pd.Timestamp("2026-10-01"), "caption": [caption, "other"], "video_path": None,
        "spark_auth_status": "none", "spark_auth_expires_at": pd.NaT,
    })


def _load(home, caption: str) -> None:
    creators = pd.DataFrame({"creator_id": ["c1"], "handle": ["@c1"], "follower_count": [100],
                             "is_brand_account": [False]})
    with Warehouse(home.warehouse) as wh:
        wh.upsert({"creators": creators, "posts": _posts(caption)})


def test_scores_are_reused_only_for_identical_inputs(home, settings):
    as_of = pd.Timestamp("2026-11-01")
    _load(home, "first")
    store = home.mlruns / "mlflow.db"
    store.write_bytes(b"registry v1")
    scored = pd.DataFrame({"advertiser_id": ["a1", "a1"], "post_id": ["p1", "p2"], "rank": [1, 2],
                           "score": [0.9, 0.1], "why": ["a reason", "another"]})
    assert reuse_scores(home, scoring_inputs(home, settings, as_of)) is None  # nothing kept yet
    keep_scores(home, scoring_inputs(home, settings, as_of), scored)
    pd.testing.assert_frame_equal(reuse_scores(home, scoring_inputs(home, settings, as_of)), scored)

    # The same rows upserted again change nothing; writing the scores table is not an input.
    _load(home, "first")
    with Warehouse(home.warehouse) as wh:
        wh.upsert_frame("scores", scored.assign(run_id="r1"), ("run_id", "advertiser_id", "post_id"))
    assert reuse_scores(home, scoring_inputs(home, settings, as_of)) is not None

    # Any change to what the scores depend on means scoring again.
    assert reuse_scores(home, scoring_inputs(home, settings, as_of + pd.Timedelta(days=1))) is None
    other = with_overrides(settings, {"report": {"top_k": settings.report.top_k + 1}})
    assert reuse_scores(home, scoring_inputs(home, other, as_of)) is None
    store.write_bytes(b"registry v2, a new champion")
    assert reuse_scores(home, scoring_inputs(home, settings, as_of)) is None
    keep_scores(home, scoring_inputs(home, settings, as_of), scored)
    _load(home, "an edited caption")
    assert reuse_scores(home, scoring_inputs(home, settings, as_of)) is None


def test_a_remote_model_store_always_scores(home, settings):
    remote = with_overrides(settings, {"mlflow": {"tracking_uri": "http://127.0.0.1:5000"}})
    _load(home, "first")
    assert scoring_inputs(home, remote, pd.Timestamp("2026-11-01")) is None
