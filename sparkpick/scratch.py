"""A run's scratch folder inside the home (`Home.scratch`): temporary files stay in the home, and go.

Each run that needs temporary space (Dask's worker space, local copies of remote videos) gets its own
`run-*` folder there, removed when the run ends. A run that is killed cannot remove its folder; the next
run sweeps it. A folder is known to be alive by an exclusive `flock` its run holds on it, which the
operating system drops however the run ends, so two runs at once never sweep each other's files. Only
`run-*` folders are swept: nothing else in the home is touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PREFIX = "run-"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _folder_locked(path: Path) -> Iterator[int]:
    """The folder opened and exclusively locked (waits for the lock); closing the descriptor releases it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def sweep_stale(root: Path) -> list[Path]:
    """Remove the `run-*` folders under `root` whose run is gone (nobody holds their lock); returns them.

    Call with `root` locked (see `run_scratch`), so that a folder being created is never taken for stale.
    """
    swept = []
    for entry in sorted(root.glob(f"{_PREFIX}*")):
        if entry.is_symlink() or not entry.is_dir():
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue  # removed meanwhile, or unreadable: not ours to judge
        try:
            if not _try_lock(fd):
                continue  # a live run's folder
            shutil.rmtree(entry, ignore_errors=True)
            swept.append(entry)
        finally:
            os.close(fd)
    return swept


@contextmanager
def run_scratch(root: Path) -> Iterator[Path]:
    """A fresh folder under `root` for this run's temporary files, removed on exit; stale ones are swept first.

    The folder stays locked while the run lasts (child processes the run forks share the lock).
    """
    root.mkdir(parents=True, exist_ok=True)
    with _folder_locked(root):  # one process at a time creates or sweeps
        sweep_stale(root)
        folder = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=root))
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)
