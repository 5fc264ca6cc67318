"""Run `extract_video` over many files on a Dask cluster (`distributed`), the same contract as `pool.run_videos`.

No distribution code of our own: Dask places, runs and (when a worker dies) re-runs the work. What is
ours is the bookkeeping around it:
- Each video is one Dask task; at most one task per worker thread is in flight, so that a worker that
  dies takes only the video it was running with it (a video queued behind it on that worker would
  otherwise be counted as a suspect too) and memory stays bounded whatever the number of videos.
- A worker that dies mid-video makes the scheduler run that video again on another worker. A video
  that kills workers more often than the scheduler's `allowed-failures` (sparkpick's own local cluster
  sets it to 1: killed twice) comes back as `KilledWorker` and is `failed` with that reason.
- Workers return features and the thumbnail's JPEG bytes, never frames; the caller's side writes the
  thumbnail into its home, so workers need no access to it.
- A video location may be an fsspec URL (`s3://`, `gs://`, `file://`); a worker decodes a local
  temporary copy of a remote file.
- Temporary files stay in Dask's own worker space (`Worker.local_directory`): for the clusters sparkpick
  starts, under the run's scratch folder in the home (`local_cluster_kwargs`); on a remote cluster, where
  the home is not, in that machine's worker space, which Dask itself sweeps when a killed worker left it.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.video.extract import VideoResult, extract_video
from features.video.pool import Extract, VideoTask, extract_task
from sparkpick.config import VideoConfig
from sparkpick.files import write_atomic

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

# Scheduler settings for the clusters sparkpick starts itself: a video that killed two workers is not
# tried on a third; one task per worker thread at a time (see the module docstring).
ALLOWED_FAILURES = 1
_SCHEDULER_KWARGS = {"allowed_failures": ALLOWED_FAILURES}


@dataclass(frozen=True)
class WorkerOutput:
    """What a worker sends back for one video: the result and the thumbnail as JPEG bytes."""

    result: dict[str, Any]
    thumbnail: bytes | None


def local_cluster_kwargs(workers: int, local_directory: Path) -> dict[str, Any]:
    """`LocalCluster` arguments for `workers` single-threaded worker processes on this machine.

    Used as is by `distributed.LocalCluster(**kwargs)` and by prefect-dask's
    `DaskTaskRunner(cluster_class=LocalCluster, cluster_kwargs=kwargs)`. The dashboard takes any free
    port (":8787" may be taken by another cluster on the same machine). The scheduler, nannies and
    workers keep their files in `local_directory` (Dask's default is the system's temporary folder,
    where a killed run's files would stay).
    """
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "local_directory": str(local_directory),
        "scheduler_kwargs": {**_SCHEDULER_KWARGS, "local_directory": str(local_directory)},
    }


def start_local_cluster(workers: int, local_directory: Path) -> LocalCluster:
    """A `LocalCluster` of `workers` single-threaded processes keeping their files in `local_directory`
    (close it when done)."""
    return quiet_local_cluster(**local_cluster_kwargs(workers, local_directory))


def quiet_local_cluster(**kwargs: Any) -> LocalCluster:
    """`distributed.LocalCluster(**kwargs)` whose processes ignore Ctrl-C.

    Ctrl-C in a terminal reaches the whole process group: the worker and nanny processes would each
    print a `KeyboardInterrupt` traceback while the caller is already stopping them in order. Processes
    started while SIGINT is ignored inherit that (Python then installs no handler of its own). Usable as
    prefect-dask's `cluster_class`; from a thread other than the main one it cannot change signals and
    starts a plain `LocalCluster`.
    """
    from distributed import LocalCluster

    if threading.current_thread() is not threading.main_thread():
        return LocalCluster(**kwargs)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return LocalCluster(**kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)


def dashboard_link(client: Client) -> str | None:
    """The cluster's dashboard address, or None when its scheduler serves none (no bokeh there)."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # an old or odd scheduler: the link is only informative
        return None
    return client.dashboard_link if "dashboard" in services else None


_threads_pinned = False


def extract_on_worker(
    task: VideoTask, cfg: VideoConfig, with_thumbnail: bool, extract: Extract = extract_video
) -> WorkerOutput:
    """Runs on a Dask worker: one video in, its result and thumbnail bytes out (never raises)."""
    global _threads_pinned
    if not _threads_pinned:
        import cv2

        # One video per worker thread already keeps the cores busy; OpenCV's own threads would only
        # fight over them (and threaded reductions are not reproducible bit for bit).
        cv2.setNumThreads(1)
        _threads_pinned = True
    thumbnail: bytes | None = None
    try:
        from distributed import get_worker

        # The worker's own space: under the home for sparkpick's clusters, cleaned by Dask on a remote one.
        with tempfile.TemporaryDirectory(prefix="sparkpick-video-", dir=get_worker().local_directory) as scratch:
            thumbs = Path(scratch) / "thumbnails" if with_thumbnail else None
            result = extract_task(task, cfg, thumbs, Path(scratch), extract)
            if result.thumbnail_path:
                thumbnail = Path(result.thumbnail_path).read_bytes()
                result.thumbnail_path = None
    except Exception as exc:  # extraction should not raise; if it does, the video fails, not the run
        result = VideoResult(path=task.path, status="failed", video_sha256=task.video_sha256,
                             error=f"{task.path}: extraction raised {type(exc).__name__}: {exc}")
    return WorkerOutput(result=result.to_dict(), thumbnail=thumbnail)


def _save_thumbnail(data: bytes, thumbnail_dir: Path, sha: str | None, key: str) -> Path:
    thumbnail_dir.mkdir(parents=True, exist_ok=True)
    target = thumbnail_dir / f"{sha or key}.jpg"
    write_atomic(target, data)  # a reader never sees half a JPEG
    return target


def _killed_reason(task: VideoTask, exc: BaseException) -> str:
    deaths = getattr(exc, "allowed_failures", None)
    worker = getattr(getattr(exc, "last_worker", None), "address", None)
    times = f"{deaths + 1} times" if isinstance(deaths, int) else "repeatedly"
    where = f" (last {worker})" if worker else ""
    return (f"{task.path}: the Dask worker decoding it died {times}{where}, most likely a crash in the "
            "decoder on this file; it is not tried again")


def run_videos_on_cluster(
    tasks: Iterable[VideoTask],
    cfg: VideoConfig,
    on_result: Callable[[VideoTask, VideoResult], None],
    client: Client,
    thumbnail_dir: Path | None = None,
    extract: Extract = extract_video,
) -> None:
    """Extract every task on the cluster behind `client`, calling `on_result(task, result)` as each finishes.

    Never raises for a bad video (crashes that kill workers come back as `failed` results); raises if
    the cluster itself goes away. Interrupted, it cancels what is still queued or running.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    pending = iter(tasks)
    slots = max(1, sum(client.nthreads().values()))
    in_flight: dict[str, tuple[Any, VideoTask]] = {}
    counter = itertools.count()
    with_thumbnail = thumbnail_dir is not None

    def submit(task: VideoTask) -> Any:
        # Unique keys: the same file submitted again (retry_failed) is new work, not a cached result.
        key = f"extract_video-{(task.video_sha256 or task.key)[:16]}-{next(counter)}"
        future = client.submit(extract_on_worker, task, cfg, with_thumbnail, extract, key=key, pure=False)
        in_flight[str(future.key)] = (future, task)
        return future

    first = [submit(t) for t in itertools.islice(pending, slots)]
    if not first:
        return
    queue = as_completed(first, loop=client.loop)  # this client, not a default one (prefect-dask sets none)
    try:
        for future in queue:
            task = in_flight.pop(future.key)[1]
            try:
                output: WorkerOutput = future.result()
                result = VideoResult(**output.result)
                if output.thumbnail is not None and thumbnail_dir is not None:
                    try:
                        result.thumbnail_path = str(
                            _save_thumbnail(output.thumbnail, thumbnail_dir, result.video_sha256, task.key))
                    except OSError as exc:
                        result.error = (result.error + "; " if result.error else "") + f"thumbnail not written: {exc}"
            except KilledWorker as exc:
                result = VideoResult(path=task.path, status="failed", video_sha256=task.video_sha256,
                                     error=_killed_reason(task, exc))
            finally:
                future.release()
            on_result(task, result)
            nxt = next(pending, None)
            if nxt is not None:
                queue.add(submit(nxt))
    finally:
        if in_flight:  # interrupted: stop the cluster's work on our behalf
            # The cluster may be gone already: then there is nothing left to stop.
            with contextlib.suppress(Exception):
                client.cancel([f for f, _ in in_flight.values()], force=True)
