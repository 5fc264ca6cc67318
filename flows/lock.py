"""One run of a kind at a time per home: an exclusive `fcntl.flock` on a file in `<home>/data/`.

- `nightly.lock`: one night at a time; a second waits up to `nightly.lock_timeout_s` for the first.
- `featurize.lock`: one featurize at a time (a night's or `sparkpick featurize`'s), so two never decode the
  same videos; the second waits as long, then plans again and computes only what the first left.
- `serve.lock`: one `sparkpick serve` for the life of the process; a second does not wait but stops (exit
  2) naming the first's process, since two would serve, and on stopping pause, the same deployments.

The operating system drops the lock when the holder exits, however it exits (crash, kill -9), so a stale
lock never blocks the next run. A run that waited and gave up names the holder. Re-running a night or a
featurize after waiting is safe: every step is idempotent.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sparkpick.errors import TransientError

LOCK_NAME = "nightly.lock"
FEATURIZE_LOCK = "featurize.lock"
SERVE_LOCK = "serve.lock"


class LockBusy(TransientError):
    """Another run holds the lock and did not let go in time."""


def holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"process {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(path: Path, timeout_s: float, poll_s: float = 0.2, on_wait: object = None, what: str = "nightly run",
             busy: Callable[[str], Exception] | None = None) -> Iterator[Path]:
    """Hold the exclusive lock at `path` for the body; wait up to `timeout_s` seconds for it.

    `on_wait(message)` (if given) is called once when the lock is busy, so the caller can say it waits.
    `what` names the kind of run in the messages. Given up, it raises `LockBusy`, or `busy(holder)` when
    given (`holder`: who holds the lock, e.g. "process 123 on host, started ...").
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
                if time.monotonic() >= deadline:
                    if busy is not None:
                        raise busy(holder(path)) from None
                    raise LockBusy(
                        f"Another {what} is in progress ({holder(path)}): it holds {path}. "
                        f"Waited {timeout_s:.0f} s; try again when it has finished."
                    ) from None
                if not told and callable(on_wait):
                    on_wait(f"Another {what} holds {path} ({holder(path)}); waiting up to {timeout_s:.0f} s.")
                    told = True
                time.sleep(poll_s)
        info = {"pid": os.getpid(), "host": os.uname().nodename,
                "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        yield path
    finally:
        # Closing the descriptor releases the lock (if held).
        os.close(fd)
