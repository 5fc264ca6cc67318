"""One nightly run at a time per home: an exclusive `fcntl.flock` on `<home>/data/nightly.lock`.

The operating system drops the lock when the holder exits, however it exits (crash, kill -9), so a stale
lock never blocks the next night. A second run waits up to `timeout_s` for the first, then stops with a
message naming the holder. Re-running a night after waiting is safe: every step is idempotent.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sparkpick.errors import TransientError

LOCK_NAME = "nightly.lock"


class LockBusy(TransientError):
    """Another run holds the lock and did not let go in time."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"process {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(path: Path, timeout_s: float, poll_s: float = 0.2, on_wait: object = None) -> Iterator[Path]:
    """Hold the exclusive lock at `path` for the body; wait up to `timeout_s` seconds for it.

    `on_wait(message)` (if given) is called once when the lock is busy, so the caller can say it waits.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and callable(on_wait):
                    on_wait(f"Another nightly run holds {path} ({_holder(path)}); waiting up to {timeout_s:.0f} s.")
                    told = True
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"Another nightly run is in progress ({_holder(path)}): it holds {path}. "
                        f"Waited {timeout_s:.0f} s; try again when it has finished."
                    ) from None
                time.sleep(poll_s)
        info = {"pid": os.getpid(), "host": os.uname().nodename,
                "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        yield path
    finally:
        # Closing the descriptor releases the lock (if held).
        os.close(fd)
