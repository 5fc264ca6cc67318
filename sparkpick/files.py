"""Files written whole or not at all, and files hashed: the one home of both.

A reader of a file sparkpick writes (a report, a thumbnail, a table, a kept night) sees the old file or
the new one, never half of one, also after a kill: the bytes go to a hidden temporary file beside it,
which one rename (`os.replace`, atomic on POSIX and Windows) puts in its place; a failed write leaves no
temporary file behind. No other module renames over a file or hashes one (`tests/test_one_home.py`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


def move_over(source: Path | str, target: Path | str) -> None:
    """Rename `source` to `target` in one step, replacing what is there (a file, or a link to swap)."""
    os.replace(source, target)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A hidden temporary path beside `target` for a writer to fill (`frame.to_parquet(tmp)`, an encoder);
    moved over `target` when the block ends, removed if it raises. It keeps `target`'s suffix, for writers
    that choose a format by it."""
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        yield tmp
        move_over(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, data: bytes | str) -> None:
    """Write `data` (text as UTF-8) to `target` whole or not at all."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def stream_sha256(handle: BinaryIO) -> str:
    """SHA-256 (hex) of what is left to read in a binary stream (a local file or an fsspec one), by chunks."""
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path | str) -> str:
    """SHA-256 (hex) of a local file's bytes."""
    with open(path, "rb") as handle:
        return stream_sha256(handle)
