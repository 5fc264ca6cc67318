"""Joining posts' videos to cached features: statuses, NaN (never zero) for unusable videos."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from features.video.cues.catalogue import CUE_NAMES, VIDEO_FEATURE_DESCRIPTIONS
from features.video.table import post_video_features, video_feature_rows


def _result(sha: str, status: str, score: float | None, cue_value: float) -> dict:
    return {
        "video_sha256": sha, "status": status, "error": None if status == "ok" else "broken",
        "decoded_s": 5.0, "duration_s": 6.0, "polish_score": score, "polish_reasons": ["a", "b"],
        "thumbnail_path": f"/t/{sha}.jpg", "cues": dict.fromkeys(CUE_NAMES, cue_value),
    }


def test_rows_then_join(settings):
    at = pd.Timestamp("2026-11-01")
    vf = video_feature_rows(
        [_result("aaa", "ok", 80.0, 1.0), _result("bbb", "failed", None, 2.0), _result("ccc", "partial", 30.0, 3.0)],
        "v1", at,
    )
    assert list(vf.columns[:10]) == ["video_sha256", "feature_version", "status", "error", "decoded_s",
                                     "duration_s", "polish_score", "polish_reasons", "thumbnail_path",
                                     "computed_at"]
    assert json.loads(vf.loc[0, "polish_reasons"]) == ["a", "b"]
    assert vf.loc[vf["status"] == "failed", list(CUE_NAMES)].isna().all(axis=None)
    # an older version of the same video must be ignored
    old = video_feature_rows([_result("aaa", "ok", 10.0, 9.0)], "v0", at)
    post_videos = pd.DataFrame({
        "post_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "video_path": ["/v/a.mp4", "/v/b.mp4", "/v/c.mp4", "/v/gone.mp4", None, "/v/new.mp4"],
        "video_sha256": ["aaa", "bbb", "ccc", None, None, "ddd"],
    })
    out = post_video_features(post_videos, pd.concat([old, vf]), "v1").set_index("post_id")
    assert out["video_status"].to_dict() == {"p1": "ok", "p2": "failed", "p3": "partial", "p4": "missing",
                                             "p5": "none", "p6": "pending"}
    assert out.loc["p1", "polish_score"] == 80.0 and out.loc["p3", "polish_score"] == 30.0
    assert out.loc["p1", "video_cuts_per_10s"] == 1.0 and out.loc["p3", "video_cuts_per_10s"] == 3.0
    for post in ("p2", "p4", "p5", "p6"):
        assert math.isnan(out.loc[post, "polish_score"])
        assert out.loc[post, [f"video_{c}" for c in CUE_NAMES]].isna().all()
    for name in CUE_NAMES:
        assert out[f"video_{name}"].dtype == np.float64
        assert f"video_{name}" in VIDEO_FEATURE_DESCRIPTIONS
    assert out.loc["p1", "thumbnail_path"] == "/t/aaa.jpg"


def test_empty_inputs_give_an_empty_frame_with_the_columns():
    out = post_video_features(pd.DataFrame(columns=["post_id", "video_path", "video_sha256"]), pd.DataFrame(), "v1")
    assert out.empty and "video_status" in out.columns and "video_shake" in out.columns
    none_yet = post_video_features(
        pd.DataFrame({"post_id": ["p"], "video_path": ["/x.mp4"], "video_sha256": ["s"]}), pd.DataFrame(), "v1"
    )
    assert none_yet.loc[0, "video_status"] == "pending"
