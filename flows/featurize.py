"""Fill the warehouse with video features for every post that has a video: wiring only.

`featurize_videos` is the plain function (the CLI and tests call it); `featurize_flow` wraps it as a
Prefect flow for the nightly run (built on first use, so that a plain run never imports Prefect). What
to compute and what to report comes from the cache plan (`features/video/cache.py`: a video is cached by
its SHA-256 and the feature version); this module runs the plan's tasks, in local processes or on a Dask
cluster, and stores the results as they arrive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features.video.cache import plan_videos, post_video_rows
from features.video.cluster import run_videos_on_cluster
from features.video.cues.catalogue import video_feature_version
from features.video.extract import VideoResult
from features.video.pool import VideoTask, run_videos, signals_held
from features.video.table import video_feature_rows
from flows.lock import FEATURIZE_LOCK, run_lock
from flows.markdown_text import markdown_safe
from sparkpick.config import Settings
from sparkpick.contract import as_utc
from sparkpick.errors import SparkpickError
from sparkpick.home import Home
from sparkpick.scratch import run_scratch
from sparkpick.warehouse import POST_VIDEOS, POST_VIDEOS_KEY, VIDEO_FEATURES, VIDEO_FEATURES_KEY, Warehouse

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger("sparkpick.featurize")
THUMBNAILS = "thumbnails"
# In a run's scratch folder: the local Dask cluster's scheduler and worker space.
DASK_SPACE = "dask"
# Results are saved as they arrive, in small batches (one warehouse write per batch): at most this many
# results or this many seconds' worth wait in memory, so that even a hard kill loses little.
_WRITE_EVERY = 25
_WRITE_AFTER_S = 2.0


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def thumbnail_dir(home: Home) -> Path:
    return home.cache / THUMBNAILS


def uses_dask(settings: Settings) -> bool:
    """True when the settings send the video work to a Dask cluster (`video.dask_address`/`dask_workers`)."""
    return bool(settings.video.dask_address or settings.video.dask_workers)


@contextmanager
def _dask_client(settings: Settings, announce: Callable[[str], None], scratch: Path) -> Iterator[Client]:
    """A `distributed.Client` on the configured cluster: the scheduler at `video.dask_address`, or a
    `LocalCluster` of `video.dask_workers` processes started for this run, keeping its files in
    `scratch`, and closed after it."""
    from distributed import Client

    from features.video.cluster import start_local_cluster

    cfg = settings.video
    with ExitStack() as stack:
        if cfg.dask_address:
            try:
                client = stack.enter_context(Client(cfg.dask_address, timeout=cfg.dask_connect_timeout_s))
            except OSError as exc:
                raise SparkpickError(
                    f"cannot reach the Dask scheduler at {cfg.dask_address} (video.dask_address / "
                    f"--dask-address): {exc}"
                ) from exc
        else:
            cluster = stack.enter_context(start_local_cluster(int(cfg.dask_workers or 1), scratch / DASK_SPACE))
            client = stack.enter_context(Client(cluster))
        announce(describe_cluster(client))
        yield client


def describe_cluster(client: Client) -> str:
    """One line naming the cluster, its workers and its dashboard (where to watch the work)."""
    from features.video.cluster import dashboard_link

    threads = client.nthreads()
    link = dashboard_link(client)
    scheduler = client.scheduler
    assert scheduler is not None  # a connected client has one
    return (f"Dask cluster {scheduler.address}: {len(threads)} workers, {sum(threads.values())} threads; "
            + (f"dashboard {link}" if link else "no dashboard (install bokeh where the scheduler runs)"))


def featurize_videos(
    home: Home,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    *,
    retry_failed: bool = False,
    workers: int | None = None,
    as_of: pd.Timestamp | None = None,
    dask_client: Callable[[], Client] | None = None,
    announce: Callable[[str], None] | None = None,
) -> FeaturizeSummary:
    """Compute the video features that are missing for the warehouse's posts, and save them.

    `progress(done, total)` is called as videos finish. Failed videos are cached too (a corrupt file
    stays corrupt) unless `retry_failed`; a video that could not be read (missing, changed while read,
    permission, network) is reported and not cached, so the next run reads it again. `as_of` stamps
    `computed_at` (default: now, UTC).

    Where the videos are decoded: on the cluster of the client `dask_client()` returns (the caller owns
    it; the Prefect flow passes its Dask task runner's), else on the cluster the settings name
    (`video.dask_address`, `video.dask_workers`), else in `workers` local processes. A cluster is only
    contacted when there is something to compute; `announce` receives its address and dashboard.
    Results are stored as they arrive (a few seconds' worth at a time), so an interrupted run keeps
    everything that finished and a rerun computes only the rest. Two runs on one home never decode the
    same videos: the second waits for the first (`nightly.lock_timeout_s`, saying so), then plans again.
    """
    # One featurize at a time per home: a second waits, then plans again and computes only what is left.
    with run_lock(home.data / FEATURIZE_LOCK, settings.nightly.lock_timeout_s, what="featurize run",
                  on_wait=announce or log.warning):
        return _featurize(home, settings, progress, retry_failed=retry_failed, workers=workers, as_of=as_of,
                          dask_client=dask_client, announce=announce)


def _featurize(
    home: Home, settings: Settings, progress: Callable[[int, int], None] | None, *, retry_failed: bool,
    workers: int | None, as_of: pd.Timestamp | None, dask_client: Callable[[], Client] | None,
    announce: Callable[[str], None] | None,
) -> FeaturizeSummary:
    """`featurize_videos` under the home's featurize lock."""
    started = pd.Timestamp.now(tz="UTC")
    computed_at = as_utc(as_of if as_of is not None else started)
    cfg = settings.video
    version = video_feature_version(cfg)
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

    batch: list[dict[str, Any]] = []
    last_write = time.monotonic()
    finished = 0
    if progress:
        progress(0, len(tasks))

    saved = 0

    def save(rows: list[dict[str, Any]]) -> None:
        nonlocal saved
        if rows:
            # Ctrl-C or SIGTERM waits until the batch is stored: raised while DuckDB reads the frame, it
            # would come back as DuckDB's own error (a failure, exit 1) instead of a stop (exit 130 or 143).
            with signals_held(), Warehouse(home.warehouse) as wh:
                wh.upsert_frame(VIDEO_FEATURES, video_feature_rows(rows, version, computed_at), VIDEO_FEATURES_KEY)
            saved += len(rows)

    def on_result(task: VideoTask, result: VideoResult) -> None:
        nonlocal finished, batch, last_write
        result.video_sha256 = task.video_sha256
        if not result.unreadable:  # a reading error is not the video's: the next run reads it again
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
                summary.failures.append({"post_id": post_id,
                                         "status": "unreadable" if result.unreadable else result.status,
                                         "reason": result.error or "unknown"})
        if len(batch) >= _WRITE_EVERY or time.monotonic() - last_write >= _WRITE_AFTER_S:
            save(batch)  # cleared only once stored: interrupted mid-write, `finally` stores it again
            batch = []
            last_write = time.monotonic()
        if progress:
            progress(finished, len(tasks))

    thumbs = thumbnail_dir(home)
    try:
        if dask_client is not None:  # the caller's cluster (and the caller's scratch folder)
            if tasks:
                client = dask_client()
                (announce or _quiet)(describe_cluster(client))
                run_videos_on_cluster(tasks, cfg, on_result, client, thumbnail_dir=thumbs)
        else:
            # Also with nothing new: starting sweeps what a killed run left in the home's scratch.
            with run_scratch(home.scratch) as scratch:
                if not tasks:
                    pass  # nothing new: no worker process, no cluster
                elif uses_dask(settings):
                    with _dask_client(settings, announce or _quiet, scratch) as client:
                        run_videos_on_cluster(tasks, cfg, on_result, client, thumbnail_dir=thumbs)
                else:
                    run_videos(tasks, cfg, on_result, thumbnail_dir=thumbs, workers=workers, scratch=scratch)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: store what finished, then let the caller say so
        save(batch)
        batch = []
        exc.videos_saved, exc.videos_total = saved, len(tasks)  # type: ignore[attr-defined]
        raise
    finally:
        save(batch)
    summary.seconds = (pd.Timestamp.now(tz="UTC") - started).total_seconds()
    return summary


def _quiet(_line: str) -> None:
    pass


def dask_task_runner(settings: Settings, scratch: Path) -> Any:
    """prefect-dask's `DaskTaskRunner` for the configured cluster (None without one): connected to
    `video.dask_address`, or running a `LocalCluster` of `video.dask_workers` processes for the flow run,
    keeping its files in `scratch`."""
    if not uses_dask(settings):
        return None
    from prefect_dask.task_runners import DaskTaskRunner

    from features.video.cluster import local_cluster_kwargs

    cfg = settings.video
    if cfg.dask_address:
        return DaskTaskRunner(address=cfg.dask_address)
    return DaskTaskRunner(cluster_class="features.video.cluster.quiet_local_cluster",
                          cluster_kwargs=local_cluster_kwargs(int(cfg.dask_workers or 1), scratch / DASK_SPACE))


def _runner_client() -> Client | None:
    """The Dask client of the running flow's task runner, when that runner is prefect-dask's."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    runner = context.task_runner if context else None
    if type(runner).__name__ != "DaskTaskRunner":
        return None
    return runner.client  # type: ignore[union-attr]  # created on first use: the cluster starts only if there is work


def _featurize_flow_fn(home: Home, settings: Settings, retry_failed: bool = False,
                       as_of: pd.Timestamp | None = None) -> FeaturizeSummary:
    """Prefect flow: `featurize_videos` with its summary logged and published as a markdown artifact.

    Run with a `DaskTaskRunner` (`run_featurize_flow` picks it from the settings), the videos are decoded
    on that runner's cluster through its Dask client: one Dask task per video, not one Prefect task run,
    which would cost an API round trip per video for nothing the flow's log and artifact do not say.
    """
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact

    logger = get_run_logger()
    client = _runner_client()
    summary = featurize_videos(home, settings, retry_failed=retry_failed, as_of=as_of,
                               dask_client=(lambda: client) if client is not None else None,
                               announce=logger.info)
    logger.info(str(summary).splitlines()[0])
    for failure in summary.failures:
        logger.warning("post %s: %s: %s", failure["post_id"], failure["status"], failure["reason"])
    create_markdown_artifact(key="featurize-videos", markdown=featurize_markdown(summary),
                             description="Video featurization summary")
    return summary


def featurize_markdown(summary: FeaturizeSummary) -> str:
    """The featurize artifact: the summary line and a table of failed videos (outside text made inert)."""
    rows = "\n".join(
        f"| {markdown_safe(f['post_id'])} | {markdown_safe(f['status'])} | {markdown_safe(f['reason'])} |"
        for f in summary.failures
    )
    return (f"## Video features\n\n{markdown_safe(str(summary).splitlines()[0])}\n\n"
            + (f"| post | status | reason |\n|---|---|---|\n{rows}\n" if rows else "No failures.\n"))


def __getattr__(name: str) -> Any:
    # `featurize_flow` is built on first use: a plain run (CLI, --no-prefect) never imports Prefect.
    if name == "featurize_flow":
        from prefect import flow

        globals()[name] = flow(name="featurize-videos")(_featurize_flow_fn)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_featurize_flow(home: Home, settings: Settings, retry_failed: bool = False,
                       as_of: pd.Timestamp | None = None) -> FeaturizeSummary:
    """`featurize_flow` with the configured Dask task runner, if any (else Prefect's default runner)."""
    featurize_flow = __getattr__("featurize_flow")
    with run_scratch(home.scratch) as scratch:
        runner = dask_task_runner(settings, scratch)
        flow_ = featurize_flow.with_options(task_runner=runner) if runner is not None else featurize_flow
        return flow_(home, settings, retry_failed=retry_failed, as_of=as_of)


def featurize_stage(home: Home, settings: Settings, progress: Callable[[int, int], None] | None = None,
                    as_of: pd.Timestamp | None = None) -> FeaturizeSummary:
    """The nightly run's featurize stage: inside a Prefect run with a Dask cluster configured, the
    featurize flow on prefect-dask's task runner; otherwise the plain function (its own Dask client)."""
    if uses_dask(settings):
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
            return run_featurize_flow(home, settings, as_of=as_of)
    return featurize_videos(home, settings, progress, as_of=as_of, announce=log.info)
