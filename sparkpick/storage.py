"""Where a video file lives: a local path or an fsspec URL (`file://`, `s3://`, `gs://`, ...).

A post's `video_path` is either. Workers on a Dask cluster need a location every one of them can read: a
local path serves a cluster on this machine, an object-store URL a cluster anywhere. Remote files are
opened through fsspec (the protocol's package, e.g. `s3fs` or `gcsfs`, must be installed where they are
read); a decoder that needs a real file gets a temporary local copy.

Every function takes the location as the string stored in the warehouse and never raises for an
unreachable file: it returns or raises `StorageError` with a message naming the location.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sparkpick.files import stream_sha256

_CHUNK = 1 << 20


class StorageError(OSError):
    """A video location that cannot be read (the message names it and says why)."""


@dataclass(frozen=True)
class FileStat:
    """Size in bytes and a modification stamp (seconds; None when the store gives none)."""

    size: int
    mtime: float | None


def is_url(location: str) -> bool:
    """True for `scheme://...` locations (fsspec URLs); False for plain paths."""
    scheme = urlsplit(location).scheme
    return "://" in location and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").isalnum()


def local_path(location: str) -> Path | None:
    """The local file a location names (a plain path or a `file://` URL), or None for remote URLs."""
    if not is_url(location):
        return Path(location)
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return None


def _fs(location: str) -> tuple[Any, str]:
    import fsspec

    try:
        return fsspec.core.url_to_fs(location)
    except (ImportError, ValueError) as exc:  # unknown protocol, or its package is not installed
        raise StorageError(f"{location} cannot be read: {exc}") from exc


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    return None


def stat(location: str) -> FileStat:
    """Size and modification stamp of the file; `StorageError` when it is missing or unreadable."""
    path = local_path(location)
    if path is not None:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise StorageError(f"{location} does not exist") from None
        except OSError as exc:
            raise StorageError(f"{location} cannot be read: {exc}") from exc
        if not path.is_file():
            raise StorageError(f"{location} is not a file")
        return FileStat(st.st_size, st.st_mtime_ns / 1e9)
    fs, inner = _fs(location)
    try:
        info = fs.info(inner)
    except FileNotFoundError:
        raise StorageError(f"{location} does not exist") from None
    except Exception as exc:  # network, credentials, permissions: all say "cannot be read"
        raise StorageError(f"{location} cannot be read: {type(exc).__name__}: {exc}") from exc
    if info.get("type") not in (None, "file"):
        raise StorageError(f"{location} is not a file")
    return FileStat(int(info.get("size") or 0), _mtime(info))


@contextmanager
def _open(location: str) -> Iterator[Any]:
    path = local_path(location)
    try:
        if path is not None:
            with open(path, "rb") as handle:
                yield handle
            return
        fs, inner = _fs(location)
        with fs.open(inner, "rb") as handle:
            yield handle
    except FileNotFoundError:
        raise StorageError(f"{location} does not exist") from None
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"{location} cannot be read: {type(exc).__name__}: {exc}") from exc


def sha256(location: str) -> str:
    """SHA-256 of the file's bytes (hex): the cache key of its features, wherever the file lives."""
    with _open(location) as handle:
        return stream_sha256(handle)


def check(location: str) -> str | None:
    """None when the location names a readable, non-empty file; otherwise why not (for the contract check)."""
    try:
        info = stat(location)
    except StorageError as exc:
        return str(exc)
    return f"{location} is empty (0 bytes)" if info.size == 0 else None


@contextmanager
def readable_file(location: str, scratch: Path | None = None) -> Iterator[Path]:
    """A local file with the location's bytes: the file itself when local, else a temporary copy.

    The copy lives in `scratch` (the caller's own temporary folder) and is removed on exit. Never the
    system's temporary folder: a run killed mid-copy would leave the copy there for good.
    """
    path = local_path(location)
    if path is not None:
        yield path
        return
    if scratch is None:
        raise StorageError(f"{location}: a remote video needs a scratch folder to be copied to (none given)")
    suffix = Path(urlsplit(location).path).suffix[:16]
    fd, name = tempfile.mkstemp(prefix="sparkpick-video-", suffix=suffix, dir=scratch)
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, _open(location) as src:
            shutil.copyfileobj(src, out, _CHUNK)
        yield copy
    finally:
        copy.unlink(missing_ok=True)
