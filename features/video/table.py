"""Pure joins between posts, their video files and the cached video features (tables in, tables out)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.video import VIDEO_PREFIX
from features.video.cues.catalogue import CUE_NAMES, VIDEO_FEATURE_DESCRIPTIONS
from sparkpick.warehouse import ModelInputs

__all__ = [
    "VIDEO_FEATURE_DESCRIPTIONS",
    "post_video_features",
    "video_feature_rows",
    "video_of_posts",
]

_META_STR = ("video_sha256", "feature_version", "status", "error", "polish_reasons", "thumbnail_path")
_META_NUM = ("decoded_s", "duration_s", "polish_score")


def _num(x: Any) -> float:
    if x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def video_feature_rows(
    results: Iterable[Mapping[str, Any]], feature_version: str, computed_at: pd.Timestamp
) -> pd.DataFrame:
    """`video_features` rows from extraction results (`VideoResult.to_dict()`), one per video hash.

    Failed videos keep NaN cues: a cue that could not be measured is unknown, not zero.
    """
    rows = []
    for r in results:
        failed = r["status"] == "failed"
        cues = r.get("cues") or {}
        row: dict[str, Any] = {
            "video_sha256": r["video_sha256"],
            "feature_version": feature_version,
            "status": r["status"],
            "error": r.get("error"),
            "decoded_s": _num(r.get("decoded_s")),
            "duration_s": _num(r.get("duration_s")),
            "polish_score": _num(r.get("polish_score")),
            "polish_reasons": json.dumps(list(r.get("polish_reasons") or [])),
            "thumbnail_path": r.get("thumbnail_path"),
            "computed_at": computed_at,
        }
        for name in CUE_NAMES:
            row[name] = math.nan if failed else _num(cues.get(name))
        rows.append(row)
    columns = [*_META_STR[:4], *_META_NUM[:2], "polish_score", "polish_reasons", "thumbnail_path",
               "computed_at", *CUE_NAMES]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("video_sha256", "feature_version", "status", "error", "polish_reasons", "thumbnail_path"):
        frame[col] = frame[col].astype("str")
    for col in (*_META_NUM, *CUE_NAMES):
        frame[col] = frame[col].astype("float64")
    frame["computed_at"] = pd.to_datetime(frame["computed_at"]).astype("datetime64[us]")
    return frame


def post_video_features(
    post_videos: pd.DataFrame, video_features: pd.DataFrame, feature_version: str
) -> pd.DataFrame:
    """One row per post in `post_videos` with its video's status, polish score, thumbnail and cues.

    Columns: `post_id`, `video_status`, `polish_score`, `polish_reasons` (JSON list of phrases),
    `thumbnail_path`, `video_duration_s`, `video_decoded_s`, and every cue as `video_<cue>`.
    `video_status` is ok, partial, failed, missing (the file could not be read), pending (not yet
    featurised for `feature_version`) or none (the post has no video). Posts without usable features
    keep NaN cues, never zeros.
    """
    cue_cols = [f"{VIDEO_PREFIX}{c}" for c in CUE_NAMES]
    out_cols = ["post_id", "video_status", "polish_score", "polish_reasons", "thumbnail_path",
                "video_duration_s", "video_decoded_s", *cue_cols]
    if post_videos.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in cue_cols else "object") for c in out_cols})
    pv = post_videos.drop_duplicates("post_id", keep="last").copy()
    if video_features.empty or "feature_version" not in video_features.columns:
        vf = pd.DataFrame(columns=["video_sha256", "status", "polish_score", "polish_reasons",
                                   "thumbnail_path", "duration_s", "decoded_s", *CUE_NAMES])
    else:
        vf = video_features[video_features["feature_version"] == feature_version]
        vf = vf.drop_duplicates("video_sha256", keep="last")
    keep = ["video_sha256", "status", "polish_score", "polish_reasons", "thumbnail_path", "duration_s",
            "decoded_s", *[c for c in CUE_NAMES if c in vf.columns]]
    merged = pv[["post_id", "video_path", "video_sha256"]].merge(vf[keep], on="video_sha256", how="left")

    has_path = merged["video_path"].notna() & (merged["video_path"].astype("str") != "")
    has_hash = merged["video_sha256"].notna()
    status = np.where(
        ~has_path, "none",
        np.where(~has_hash, "missing", np.where(merged["status"].isna(), "pending", merged["status"].astype(object))),
    )
    result = pd.DataFrame({"post_id": merged["post_id"].astype("str"), "video_status": status})
    result["video_status"] = result["video_status"].astype("str")
    usable = result["video_status"].isin(["ok", "partial"]).to_numpy()
    result["polish_score"] = np.where(usable, pd.to_numeric(merged["polish_score"], errors="coerce"), np.nan)
    result["polish_reasons"] = merged["polish_reasons"].where(usable).astype("str")
    result["thumbnail_path"] = merged["thumbnail_path"].where(usable).astype("str")
    result["video_duration_s"] = pd.to_numeric(merged["duration_s"], errors="coerce").where(usable)
    result["video_decoded_s"] = pd.to_numeric(merged["decoded_s"], errors="coerce").where(usable)
    for cue in CUE_NAMES:
        values = pd.to_numeric(merged[cue], errors="coerce") if cue in merged.columns else np.nan
        result[f"{VIDEO_PREFIX}{cue}"] = np.where(usable, values, np.nan).astype("float64")
    return result[out_cols].reset_index(drop=True)


def video_of_posts(inputs: ModelInputs, feature_version: str) -> pd.DataFrame | None:
    """`post_video_features` of the stored video tables; None when no video has been featurised yet."""
    if inputs.post_videos is None or inputs.video_features is None:
        return None
    return post_video_features(inputs.post_videos, inputs.video_features, feature_version)
