"""Fill the warehouse with video features for every post that has a video: wiring only.

`featurize_videos` is the plain function (the CLI and tests call it); `featurize_flow` wraps it as a
Prefect flow for the nightly run. What to compute and what to report comes from the cache plan
(`features/video/cache.py`: a video is cached by its SHA-256 and the feature version); this module runs
the plan's tasks and stores the results in batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from features.video.cache import plan_videos, post_video_rows
from features.video.extract import VideoResult
from features.video.pool import VideoTask, run_videos
from features.video.table import video_feature_rows
from sparkpick.config import Home, Settings
from sparkpick.contract import as_utc
from sparkpick.warehouse import POST_VIDEOS, POST_VIDEOS_KEY, VIDEO_FEATURES, VIDEO_FEATURES_KEY, Warehouse

THUMBNAILS = "thumbnails"
_WRITE_EVERY = 25  # results are saved in batches so that an interrupted run keeps its work


@dataclass
class FeaturizeSummary:
    """What one featurize run did."""

    posts_with_video: int = 0
    videos: int = 0
    done: int = 0
    cached: int = 0
    partial: int = 0
    failed: int = 0
    missing: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        head = (
            f"{self.posts_with_video} posts with a video ({self.videos} distinct files): "
            f"{self.done} done, {self.cached} cached, {self.partial} partial, {self.failed} failed, "
            f"{self.missing} missing, in {self.seconds:.1f} s"
        )
        lines = [head]
        for f in self.failures:
            lines.append(f"  {f['status']:<8} post {f['post_id']}: {f['reason']}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


def thumbnail_dir(home: Home) -> Path:
    return home.cache / THUMBNAILS


def featurize_videos(
    home: Home,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    *,
    retry_failed: bool = False,
    workers: int | None = None,
    as_of: pd.Timestamp | None = None,
) -> FeaturizeSummary:
    """Compute the video features that are missing for the warehouse's posts, and save them.

    `progress(done, total)` is called as videos finish. Failed videos are cached too (a corrupt file
    stays corrupt) unless `retry_failed`. `as_of` stamps `computed_at` (default: now, UTC).
    """
    started = pd.Timestamp.now(tz="UTC")
    computed_at = as_utc(as_of if as_of is not None else started)
    cfg = settings.video
    version = cfg.feature_version
    with Warehouse(home.warehouse) as wh:
        posts = wh.read("posts")
        previous = wh.read(POST_VIDEOS) if wh.has_table(POST_VIDEOS) else pd.DataFrame()
        cached = (
            wh.read(VIDEO_FEATURES, "feature_version = ?", [version])[["video_sha256", "status", "error"]]
            if wh.has_table(VIDEO_FEATURES) else pd.DataFrame(columns=["video_sha256", "status", "error"])
        )
    post_videos = post_video_rows(posts, previous)
    plan = plan_videos(post_videos, cached, retry_failed=retry_failed)
    tasks, posts_of = plan.tasks, plan.posts_of
    summary = FeaturizeSummary(
        posts_with_video=plan.posts_with_video, videos=plan.videos, cached=plan.cached, missing=len(plan.missing),
        failures=[*plan.missing, *plan.cached_failures],
    )

    with Warehouse(home.warehouse) as wh:
        wh.upsert_frame(POST_VIDEOS, post_videos, POST_VIDEOS_KEY)
        gone = post_videos["post_id"].tolist()
        if gone:  # posts deleted from the warehouse lose their video row
            wh.delete(POST_VIDEOS, f"post_id NOT IN ({', '.join('?' * len(gone))})", gone)

    batch: list[dict] = []
    finished = 0
    if progress:
        progress(0, len(tasks))

    def save(rows: list[dict]) -> None:
        if rows:
            with Warehouse(home.warehouse) as wh:
                wh.upsert_frame(VIDEO_FEATURES, video_feature_rows(rows, version, computed_at), VIDEO_FEATURES_KEY)

    def on_result(task: VideoTask, result: VideoResult) -> None:
        nonlocal finished, batch
        result.video_sha256 = task.video_sha256
        batch.append(result.to_dict())
        finished += 1
        if result.status == "ok":
            summary.done += 1
        elif result.status == "partial":
            summary.partial += 1
        else:
            summary.failed += 1
        if result.status != "ok":
            for post_id in posts_of.get(task.key, []):
                summary.failures.append({"post_id": post_id, "status": result.status,
                                         "reason": result.error or "unknown"})
        if len(batch) >= _WRITE_EVERY:
            save(batch)
            batch = []
        if progress:
            progress(finished, len(tasks))

    try:
        run_videos(tasks, cfg, on_result, thumbnail_dir=thumbnail_dir(home), workers=workers)
    finally:
        save(batch)
    summary.seconds = (pd.Timestamp.now(tz="UTC") - started).total_seconds()
    return summary


@flow(name="featurize-videos")
def featurize_flow(home: Home, settings: Settings, retry_failed: bool = False) -> dict:
    """Prefect flow: `featurize_videos` with its summary logged and published as a markdown artifact."""
    logger = get_run_logger()
    summary = featurize_videos(home, settings, retry_failed=retry_failed)
    logger.info(str(summary).splitlines()[0])
    for failure in summary.failures:
        logger.warning("post %s: %s: %s", failure["post_id"], failure["status"], failure["reason"])
    rows = "\n".join(
        f"| {f['post_id']} | {f['status']} | {f['reason'].replace('|', '/')} |" for f in summary.failures
    )
    create_markdown_artifact(
        key="featurize-videos",
        markdown=f"## Video features\n\n{str(summary).splitlines()[0]}\n\n"
        + (f"| post | status | reason |\n|---|---|---|\n{rows}\n" if rows else "No failures.\n"),
        description="Video featurization summary",
    )
    return json.loads(json.dumps(summary.to_dict()))
