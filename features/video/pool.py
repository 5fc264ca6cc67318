"""Run `extract_video` over many files in parallel processes, one short-lived process per video.

Why one process per video rather than a `ProcessPoolExecutor`: a decoder that segfaults breaks an
executor's whole pool (`BrokenProcessPool` fails every pending future) and an executor cannot stop one
task that hangs. Here each video runs in its own child, forked from a `forkserver` that has already
imported OpenCV, NumPy and PyAV (a fork costs milliseconds), so
- a native crash kills that child only: its video is `failed` with the signal named;
- a child over its time limit (`timeout_s` plus `kill_grace_s`; extraction itself stops decoding at
  `timeout_s` and returns `partial`) is killed and its video is `failed`;
- at most `workers` children run at once, and each holds one video's frames at a time.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType
from typing import Any

from features.video.extract import VideoResult, extract_video
from sparkpick import storage
from sparkpick.config import VideoConfig
from sparkpick.files import file_sha256

# The forkserver imports these once; "__main__" too, or every child would re-import the main module.
# `preload` also loads the face cascade, which children would otherwise each parse (~15 ms CPU).
_PRELOAD = ["__main__", "features.video.preload"]


@dataclass(frozen=True)
class VideoTask:
    """One video to extract: `key` is the caller's handle (a path, a hash) returned with the result."""

    key: str
    path: str
    video_sha256: str | None = None


Extract = Callable[..., VideoResult]


def extract_task(
    task: VideoTask, cfg: VideoConfig, thumbnail_dir: Path | None, scratch: Path | None, extract: Extract
) -> VideoResult:
    """One task's extraction; a URL is decoded from a local copy in `scratch` (removed afterwards).

    The result names the location the user gave, never the copy. A location that cannot be read, and a
    result that is not `ok` for a file that is no longer the bytes the task's hash names (it disappeared or
    changed while it was read), is `failed` and `unreadable`: reported, and read again by the next run.
    """
    try:
        with storage.readable_file(task.path, scratch) as local:
            result = extract(local, cfg, thumbnail_dir, video_sha256=task.video_sha256)
            if result.status != "ok" and task.video_sha256:
                changed = _not_the_hashed_bytes(local, task.video_sha256)
                if changed:
                    result = VideoResult(path=task.path, status="failed", video_sha256=task.video_sha256,
                                         error=f"{local}: {changed}; it is read again next run",
                                         unreadable=True, seconds=result.seconds)
    except storage.StorageError as exc:
        return VideoResult(path=task.path, status="failed", video_sha256=task.video_sha256, error=str(exc),
                           unreadable=True)
    if result.error and str(local) != task.path:
        result.error = result.error.replace(str(local), task.path)
    result.path = task.path
    return result


def _not_the_hashed_bytes(path: Path, video_sha256: str) -> str | None:
    """Why `path` is not (or no longer) the file whose SHA-256 is `video_sha256`, or None when it is.

    Asked only of a video that did not decode whole (rare), so one more read of its bytes is cheap."""
    try:
        found = file_sha256(path)
    except FileNotFoundError:
        return "it disappeared while it was read"
    except OSError as exc:
        return f"it could not be read ({exc.strerror or type(exc).__name__})"
    return None if found == video_sha256 else "it changed while it was read"


def _child(
    conn: Connection, task: VideoTask, cfg: VideoConfig, thumbnail_dir: str | None, extract: Extract,
    scratch: str | None,
) -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and kills this child if it stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import cv2

        # Workers already run in parallel: OpenCV's own threads would only fight over the cores.
        cv2.setNumThreads(1)
        result = extract_task(task, cfg, Path(thumbnail_dir) if thumbnail_dir else None,
                              Path(scratch) if scratch else None, extract)
    except BaseException as exc:  # extract_video should not raise; if it does, say so and exit cleanly
        result = VideoResult(path=task.path, status="failed", video_sha256=task.video_sha256,
                             error=f"{task.path}: extraction raised {type(exc).__name__}: {exc}")
    try:
        conn.send(result.to_dict())
    except OSError:  # the parent stopped (interrupted) and closed its end: nobody wants the result
        pass
    finally:
        conn.close()


@dataclass
class _Running:
    task: VideoTask
    process: mp.process.BaseProcess
    reader: Connection
    started: float


def _context(method: str) -> mp.context.BaseContext:
    method = method if method in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "fork":
        # Children are copies of this process: load the face cascade here once, not in each child.
        from features.video.cues.composition import face_cascade

        face_cascade()
    if method == "forkserver":
        from multiprocessing import forkserver

        ctx.set_forkserver_preload(_PRELOAD)
        # Start it now, so that its imports do not count against the first videos' time limits.
        with _sigint_ignored():
            _start_forkserver_with_main(forkserver.ensure_running)
    return ctx


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Within: SIGINT is ignored, and so it is in the processes started meanwhile, from their start.

    A forkserver started so, and every child it forks, ignores Ctrl-C before it runs any Python code: a
    child forked just as Ctrl-C reaches the process group cannot print a `KeyboardInterrupt` traceback
    before `_child` ignores it; the parent decides and kills the children it stops."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_forkserver_with_main(ensure_running: Callable[[], None]) -> None:
    """Start the forkserver so that it really preloads the main module.

    CPython 3.11's forkserver looks for a "main_path" key that `spawn.get_preparation_data` never sets
    (it sets "init_main_from_path"), so the "__main__" preload silently does nothing and every child
    re-runs the main script with runpy: for `sparkpick` that re-imports the CLI, ~50 ms of CPU per
    video, as much as extracting a small clip. Adding the key while the server starts fixes that; the
    children then find the main module already loaded and skip it.
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data

    def with_main_path(name: str) -> dict[str, Any]:
        data = original(name)
        if "init_main_from_path" in data:
            data.setdefault("main_path", data["init_main_from_path"])
        return data

    spawn.get_preparation_data = with_main_path
    try:
        ensure_running()
    finally:
        spawn.get_preparation_data = original


@contextmanager
def signals_held() -> Iterator[None]:
    """Within: SIGINT and SIGTERM wait; on leaving, each one that arrived is raised again, to the handlers
    the caller had. Only the main thread runs signal handlers, so only it can hold them.

    Not by blocking the signals (`pthread_sigmask`): that blocks them for the main thread only, and a
    signal sent to the process then lands on another thread (the progress bar's refresh thread), whose
    handler still raises `KeyboardInterrupt` in the main thread, e.g. half-way through handing a child's
    pipes to the forkserver (which then prints an `EOFError` traceback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        if signum not in arrived:
            arrived.append(signum)

    # A handler not set from Python (None) could not be put back: such a signal is left alone.
    previous = {sig: handler for sig in (signal.SIGINT, signal.SIGTERM)
                if (handler := signal.getsignal(sig)) is not None}
    for sig in previous:
        signal.signal(sig, remember)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in arrived:
            signal.raise_signal(signum)


def _signal_name(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def run_videos(
    tasks: Iterable[VideoTask],
    cfg: VideoConfig,
    on_result: Callable[[VideoTask, VideoResult], None],
    thumbnail_dir: Path | None = None,
    workers: int | None = None,
    start_method: str | None = None,
    extract: Extract = extract_video,
    scratch: Path | None = None,
) -> None:
    """Extract every task in child processes, calling `on_result(task, result)` as each one finishes.

    Never raises for a bad video: crashes and timeouts come back as `failed` results. A URL task is
    decoded from a copy in `scratch` (the caller's folder, e.g. the home's; without one it fails). `start_method`
    overrides `cfg.start_method`: "fork" suits a single-threaded caller such as the CLI (children
    start instantly with everything imported); threaded callers (Prefect) need "forkserver".
    `extract` (an importable function with `extract_video`'s signature) is replaceable for tests.
    """
    queue = deque(tasks)
    if not queue:
        return
    ctx = _context(start_method or cfg.start_method)
    limit = cfg.timeout_s + cfg.kill_grace_s
    n_workers = max(1, min(workers or cfg.workers, len(queue)))
    running: list[_Running] = []
    thumbs = str(thumbnail_dir) if thumbnail_dir is not None else None
    scratch_dir = str(scratch) if scratch is not None else None
    try:
        while queue or running:
            while queue and len(running) < n_workers:
                task = queue.popleft()
                # Ctrl-C or SIGTERM while a child is being started would leave it half-started (it
                # prints a traceback) and unknown to the cleanup below: hold signals until it is listed.
                with signals_held():
                    reader, writer = ctx.Pipe(duplex=False)
                    proc = ctx.Process(  # type: ignore[attr-defined]  # every concrete context has Process
                        target=_child, args=(writer, task, cfg, thumbs, extract, scratch_dir), daemon=True
                    )
                    proc.start()
                    writer.close()  # the child holds the only writer: EOF on the reader means it is gone
                    running.append(_Running(task, proc, reader, time.monotonic()))
            now = time.monotonic()
            wait_s = max(0.0, min(r.started + limit for r in running) - now)
            wait([r.reader for r in running] + [r.process.sentinel for r in running], timeout=wait_s)
            still: list[_Running] = []
            for run in running:
                result = _collect(run, limit)
                if result is None:
                    still.append(run)
                else:
                    on_result(run.task, result)
            running = still
    finally:
        for run in running:  # interrupted: leave no orphans behind
            run.process.kill()
            run.process.join()
            run.reader.close()


def _collect(run: _Running, limit: float) -> VideoResult | None:
    """The finished task's result, a failure for a crashed or overdue child, or None if still running."""
    task = run.task
    if run.reader.poll():
        try:
            payload = run.reader.recv()
        except (EOFError, OSError):
            payload = None
        if payload is not None:
            run.process.join()
            run.reader.close()
            return VideoResult(**payload)
    if not run.process.is_alive():
        run.process.join()
        run.reader.close()
        return VideoResult(
            path=task.path, status="failed", video_sha256=task.video_sha256,
            error=f"{task.path}: the decoder process crashed ({_signal_name(run.process.exitcode)})",
        )
    if time.monotonic() - run.started > limit:
        run.process.kill()
        run.process.join()
        run.reader.close()
        return VideoResult(
            path=task.path, status="failed", video_sha256=task.video_sha256,
            error=f"{task.path}: timed out after {limit:g} s and was stopped",
        )
    return None
