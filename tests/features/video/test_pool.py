"""Crash isolation and time limits of the per-video worker processes."""

from __future__ import annotations

import ctypes
import math
import time
from pathlib import Path

import pytest

from features.video.extract import VideoResult, extract_video
from features.video.pool import VideoTask, run_videos
from sparkpick.config import with_overrides
from tests.features.video.clips import Shot, write_clip


def segfault_on_crash_name(path, cfg, thumbnail_dir=None, video_sha256=None) -> VideoResult:
    """Extraction that dies in native code (a real SIGSEGV) for files named crash*."""
    if Path(path).name.startswith("crash"):
        ctypes.string_at(0)  # dereference NULL: the process gets SIGSEGV
    return extract_video(path, cfg, thumbnail_dir, video_sha256)


def hang_on_hang_name(path, cfg, thumbnail_dir=None, video_sha256=None) -> VideoResult:
    if Path(path).name.startswith("hang"):
        time.sleep(600)
    return extract_video(path, cfg, thumbnail_dir, video_sha256)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pool") / "ok.mp4"
    write_clip(path, [Shot(1.0, 1), Shot(1.0, 2)])
    return path


def _run(tasks, cfg, extract=extract_video, start_method=None) -> dict[str, VideoResult]:
    out: dict[str, VideoResult] = {}
    run_videos(tasks, cfg, lambda task, result: out.__setitem__(task.key, result), extract=extract,
               start_method=start_method)
    return out


def test_a_segfault_kills_one_worker_not_the_run(settings, clip, tmp_path):
    crash = tmp_path / "crash.mp4"
    crash.write_bytes(clip.read_bytes())
    tasks = [VideoTask("a", str(clip)), VideoTask("crash", str(crash)), VideoTask("b", str(clip))]
    out = _run(tasks, settings.video, extract=segfault_on_crash_name)
    assert out["a"].status == out["b"].status == "ok"
    assert out["crash"].status == "failed"
    assert "crashed" in out["crash"].error and "SIGSEGV" in out["crash"].error


def test_a_hung_worker_is_killed_at_its_time_limit(settings, clip, tmp_path):
    cfg = with_overrides(settings, {"video": {"timeout_s": 3.0, "kill_grace_s": 1.0}}).video
    hang = tmp_path / "hang.mp4"
    hang.write_bytes(clip.read_bytes())
    started = time.monotonic()
    out = _run([VideoTask("hang", str(hang)), VideoTask("ok", str(clip))], cfg, extract=hang_on_hang_name)
    assert time.monotonic() - started < 60
    assert out["hang"].status == "failed" and "timed out" in out["hang"].error
    assert out["ok"].status == "ok"


def test_results_come_back_for_every_task(settings, clip, tmp_path):
    # (Plain fork is for single-threaded callers such as the CLI, tested there: this pytest process has
    # run OpenCV's thread pool, and a forked child could inherit one of its locks held.)
    missing = str(tmp_path / "missing.mp4")
    tasks = [VideoTask(str(i), str(clip) if i % 2 == 0 else missing) for i in range(5)]
    out = _run(tasks, settings.video, start_method="forkserver")
    assert sorted(out) == [str(i) for i in range(5)]
    assert [out[str(i)].status for i in range(5)] == ["ok", "failed", "ok", "failed", "ok"]
    a, b = out["0"].cues, out["2"].cues  # deterministic across processes
    assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def test_a_ctrl_c_while_a_worker_starts_waits_until_it_is_listed():
    """Ctrl-C (to the process, as a terminal sends it) while signals are held is raised only on leaving,
    also when another thread is running (a progress bar's): the kernel hands a process's signal to any
    thread that does not block it, so blocking it in the main thread alone does not hold it."""
    import os
    import signal
    import threading

    from features.video.pool import signals_held

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    reached_the_end = False
    # A terminal's Ctrl-C handler, whatever the test runner set (pytest-xdist's workers ignore SIGINT).
    runner_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(50):  # handlers run between bytecodes: give the interrupt every chance
                time.sleep(0.01)
            reached_the_end = True
    finally:
        signal.signal(signal.SIGINT, runner_handler)
        stop.set()
        other.join()
    assert reached_the_end
