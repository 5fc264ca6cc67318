"""The video cache plan: which file each post has, its content hash, and what is left to compute.

Features are cached by the video file's SHA-256 and the feature version, so an unchanged video is never
decoded again and a changed one is. A file's hash is reused while its size and modification time are
unchanged, so a re-run costs one `stat` per video. A video's location is a local path or an fsspec URL
(`sparkpick/storage.py`). Nothing here decodes or writes: the featurize flow
runs the plan's tasks and stores the results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.video.pool import VideoTask
from sparkpick import storage

# How an earlier release worded "the file could not be read" in a cached failure (`features/video/frames.py`).
_READING_ERRORS = (" does not exist", " is not a file")
POST_VIDEO_COLUMNS = ("post_id", "video_path", "video_sha256", "file_size", "file_mtime", "file_error")


def post_video_rows(posts: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """post_id -> video file, its hash (reused when size and mtime are unchanged) and any file error.

    `previous` is the stored `post_videos` table (empty on a first run). A post without a video keeps a
    row with an empty path; a file that cannot be read gets `file_error` and no hash.
    """
    known: dict[str, tuple[Any, Any, Any]] = {}
    if not previous.empty:
        for seen in previous.itertuples(index=False):
            known[str(seen.video_path)] = (seen.file_size, seen.file_mtime, seen.video_sha256)
    rows = []
    for post in posts[["post_id", "video_path"]].itertuples(index=False):
        raw = post.video_path
        row: dict[str, Any] = {"post_id": str(post.post_id), "video_path": None, "video_sha256": None,
                               "file_size": None, "file_mtime": None, "file_error": None}
        if raw is None or (isinstance(raw, float) and pd.isna(raw)) or str(raw).strip() == "":
            rows.append(row)
            continue
        location = str(raw).strip()
        location = location if storage.is_url(location) else str(Path(location))
        row["video_path"] = location
        try:
            stat = storage.stat(location)
        except storage.StorageError as exc:
            row["file_error"] = str(exc)
            rows.append(row)
            continue
        row["file_size"], row["file_mtime"] = stat.size, stat.mtime
        old = known.get(location)
        # A store that gives no modification time (stat.mtime None) is hashed again every run.
        if (old is not None and stat.mtime is not None and old[0] == stat.size and old[1] == stat.mtime
                and isinstance(old[2], str)):
            row["video_sha256"] = old[2]
        else:
            try:
                row["video_sha256"] = storage.sha256(location)
            except storage.StorageError as exc:
                row["file_error"] = str(exc)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(POST_VIDEO_COLUMNS))
    for col in ("post_id", "video_path", "video_sha256", "file_error"):
        frame[col] = frame[col].astype("str")
    frame["file_size"] = pd.to_numeric(frame["file_size"]).astype("Int64")
    frame["file_mtime"] = pd.to_numeric(frame["file_mtime"]).astype("float64")
    return frame


@dataclass
class VideoPlan:
    """What a featurize run must do, and what it must report without doing anything.

    `tasks`: one per distinct video hash to extract. `posts_of`: hash -> the posts that share it (a
    result is reported for each). `missing`: posts whose file cannot be read. `cached_failures`: posts
    whose video failed in an earlier run and is not retried (they still lack video features, so every
    run says so).
    """

    posts_with_video: int
    videos: int
    cached: int
    tasks: list[VideoTask]
    posts_of: dict[str, list[str]]
    missing: list[dict[str, str]] = field(default_factory=list)
    cached_failures: list[dict[str, str]] = field(default_factory=list)


def plan_videos(post_videos: pd.DataFrame, cached: pd.DataFrame, retry_failed: bool = False) -> VideoPlan:
    """The plan for `post_videos` (from `post_video_rows`) given the cached results of this feature version.

    `cached` holds `video_sha256`, `status` and `error` of the stored `video_features` rows of the current
    feature version. A hash with no cached row is computed; a cached failure is computed again only with
    `retry_failed`; anything else is cached.
    """
    with_video = post_videos[post_videos["video_path"].notna()]
    missing = [
        {"post_id": row.post_id, "status": "missing", "reason": row.file_error}
        for row in with_video[with_video["file_error"].notna()].itertuples(index=False)
    ]
    hashed = with_video[with_video["video_sha256"].notna()]
    by_sha = hashed.drop_duplicates("video_sha256")
    cached_status: Mapping[str, str] = dict(zip(cached["video_sha256"], cached["status"], strict=True))
    cached_error: Mapping[str, Any] = dict(zip(cached["video_sha256"], cached["error"], strict=True))
    tasks: list[VideoTask] = []
    n_cached = 0
    for row in by_sha.itertuples(index=False):
        status = cached_status.get(row.video_sha256)
        # A failure cached because the file could not be read (by a run from before such failures were
        # told apart and left uncached) is stale: the file was just read whole to hash it.
        unread = status == "failed" and str(cached_error.get(row.video_sha256) or "").endswith(_READING_ERRORS)
        if status is None or unread or (retry_failed and status == "failed"):
            tasks.append(VideoTask(key=row.video_sha256, path=row.video_path, video_sha256=row.video_sha256))
        else:
            n_cached += 1
    posts_of: dict[str, list[str]] = hashed.groupby("video_sha256")["post_id"].apply(list).to_dict()
    to_compute = {t.key for t in tasks}
    cached_failures = [
        {"post_id": post_id, "status": "failed (cached)", "reason": str(cached_error.get(sha))}
        for sha, status in cached_status.items()
        if status == "failed" and sha in posts_of and sha not in to_compute
        for post_id in posts_of[sha]
    ]
    return VideoPlan(
        posts_with_video=len(with_video), videos=len(by_sha), cached=n_cached, tasks=tasks, posts_of=posts_of,
        missing=missing, cached_failures=cached_failures,
    )
