"""One run of a kind at a time per home: a second run waits, then names the first; the lock never outlives
its holder, however the holder ends."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flows.lock import LockBusy, holder, run_lock

REPO = Path(__file__).resolve().parents[2]


def _hold_lock(path: str, seconds: float, ready: Any) -> None:
    with run_lock(Path(path), timeout_s=0):
        ready.set()
        time.sleep(seconds)


def test_second_holder_waits_then_gets_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nightly.lock"
    # fork is cheap here: the child only takes a file lock and sleeps.
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    holder_process = ctx.Process(target=_hold_lock, args=(str(path), 3.0, ready))
    holder_process.start()
    try:
        assert ready.wait(30)
        said: list[str] = []
        with pytest.raises(LockBusy, match=rf"process {holder_process.pid}.*holds .*nightly.lock"), \
                run_lock(path, timeout_s=0.5, on_wait=said.append):
            pass
        assert len(said) == 1 and "waiting" in said[0]
        start = time.monotonic()
        with run_lock(path, timeout_s=20):
            waited = time.monotonic() - start
        assert waited > 0.5, "the second run should have waited for the first"
    finally:
        holder_process.join(30)
    # The lock was released when the holder exited: taking it now is immediate.
    with run_lock(path, timeout_s=0):
        pass


def _killed_holder(path: Path) -> subprocess.Popen[str]:
    """A process that holds the lock at `path` until it is killed (it says `held` once it holds it)."""
    script = ("import sys, time; from pathlib import Path; from flows.lock import run_lock\n"
              "with run_lock(Path(sys.argv[1]), timeout_s=0):\n"
              "    print('held', flush=True); time.sleep(600)\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "data" / "featurize.lock"
    process = _killed_holder(path)
    try:
        with pytest.raises(LockBusy, match=rf"Another featurize is in progress \(process {process.pid} on "), \
                run_lock(path, timeout_s=0, what="featurize"):
            pass
    finally:
        process.send_signal(signal.SIGKILL)  # no cleanup of its own: the kernel drops the lock
        process.wait(30)
    with run_lock(path, timeout_s=0):
        recorded = json.loads(path.read_text(encoding="utf-8"))
    assert recorded["pid"] == os.getpid() and recorded["host"] == os.uname().nodename


def test_a_run_that_must_not_wait_raises_its_own_error_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "serve.lock"
    process = _killed_holder(path)
    said: list[str] = []
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=rf"^held by process {process.pid} on "), \
                run_lock(path, 0, on_wait=said.append, busy=lambda who: RuntimeError(f"held by {who}")):
            pass
        assert time.monotonic() - started < 5
        assert said == []  # it did not wait, so it did not say it waits
    finally:
        process.kill()
        process.wait(30)


def test_an_unreadable_lock_file_names_another_process(tmp_path: Path) -> None:
    path = tmp_path / "nightly.lock"
    for text in ("", "not json", json.dumps({"pid": 1}), json.dumps([1, 2])):
        path.write_text(text, encoding="utf-8")
        assert holder(path) == "another process"
    assert holder(tmp_path / "missing.lock") == "another process"
