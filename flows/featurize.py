"""Fill the warehouse with video features for every post that has a video: wiring only.

`featurize_videos` is the plain function (the CLI and tests call it); `featurize_flow` wraps it as a
Prefect flow for the nightly run. Features are cached by the video file's SHA-256 and the feature
version, so an unchanged video is never decoded again and a changed one is. A file's hash is reused
while its size and modification time are unchanged, so a re-run costs one `stat` per video.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from features.video.extract import VideoResult, file_sha256
from features.video.pool import VideoTask, run_videos
from features.video.table import POST_VIDEOS_KEY, VIDEO_FEATURES_KEY, video_feature_rows
from sparkpick.config import Home, Settings
from sparkpick.contract import as_utc
from sparkpick.warehouse import Warehouse

POST_VIDEOS = "post_videos"
VIDEO_FEATURES = "video_features"
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


def _stat(path: Path) -> tuple[int, float] | str:
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as exc:
        return f"{path} cannot be read: {exc}"
    if not path.is_file():
        return f"{path} is not a file"
    return st.st_size, st.st_mtime_ns / 1e9


def _post_video_rows(posts: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """post_id -> video file, its hash (reused when size and mtime are unchanged) and any file error."""
    known: dict[str, tuple] = {}
    if not previous.empty:
        for row in previous.itertuples(index=False):
            known[str(row.video_path)] = (row.file_size, row.file_mtime, row.video_sha256)
    rows = []
    for post in posts[["post_id", "video_path"]].itertuples(index=False):
        raw = post.video_path
        row: dict = {"post_id": str(post.post_id), "video_path": None, "video_sha256": None,
                     "file_size": None, "file_mtime": None, "file_error": None}
        if raw is None or (isinstance(raw, float) and pd.isna(raw)) or str(raw).strip() == "":
            rows.append(row)
            continue
        path = Path(str(raw))
        row["video_path"] = str(path)
        stat = _stat(path)
        if isinstance(stat, str):
            row["file_error"] = stat
        else:
            size, mtime = stat
            row["file_size"], row["file_mtime"] = size, mtime
            old = known.get(str(path))
            if old is not None and old[0] == size and old[1] == mtime and isinstance(old[2], str):
                row["video_sha256"] = old[2]
            else:
                try:
                    row["video_sha256"] = file_sha256(path)
                except OSError as exc:
                    row["file_error"] = f"{path} cannot be read: {exc}"
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["post_id", "video_path", "video_sha256", "file_size", "file_mtime",
                                        "file_error"])
    for col in ("post_id", "video_path", "video_sha256", "file_error"):
        frame[col] = frame[col].astype("str")
    frame["file_size"] = pd.to_numeric(frame["file_size"]).astype("Int64")
    frame["file_mtime"] = pd.to_numeric(frame["file_mtime"]).astype("float64")
    return frame


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
    post_videos = _post_video_rows(posts, previous)

    summary = FeaturizeSummary()
    with_video = post_videos[post_videos["video_path"].notna()]
    summary.posts_with_video = len(with_video)
    for row in with_video[with_video["file_error"].notna()].itertuples(index=False):
        summary.missing += 1
        summary.failures.append({"post_id": row.post_id, "status": "missing", "reason": row.file_error})

    hashed = with_video[with_video["video_sha256"].notna()]
    by_sha = hashed.drop_duplicates("video_sha256")
    summary.videos = len(by_sha)
    cached_status = dict(zip(cached["video_sha256"], cached["status"], strict=True))
    tasks = []
    for row in by_sha.itertuples(index=False):
        status = cached_status.get(row.video_sha256)
        if status is None or (retry_failed and status == "failed"):
            tasks.append(VideoTask(key=row.video_sha256, path=row.video_path, video_sha256=row.video_sha256))
        else:
            summary.cached += 1
    # Previously cached failures still leave their posts without video features: say so every run.
    posts_of = hashed.groupby("video_sha256")["post_id"].apply(list).to_dict()
    cached_err = dict(zip(cached["video_sha256"], cached["error"], strict=True))
    for sha, status in cached_status.items():
        if status == "failed" and sha in posts_of and not any(t.key == sha for t in tasks):
            for post_id in posts_of[sha]:
                summary.failures.append({"post_id": post_id, "status": "failed (cached)",
                                         "reason": str(cached_err.get(sha))})

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
