"""Files written whole or not at all, and file hashes, through sparkpick/files.py's public functions."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from sparkpick.files import atomic_path, file_sha256, move_over, stream_sha256, write_atomic


def test_write_atomic_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    write_atomic(target, "new é")
    assert target.read_bytes() == "new é".encode()
    write_atomic(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "scored.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scored.parquet"]


def test_the_temporary_is_hidden_beside_the_target_with_its_suffix(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".clip.") and tmp.suffix == ".mp4"
        assert not target.exists()
        tmp.write_bytes(b"video")
    assert target.read_bytes() == b"video"


def test_move_over_swaps_a_link_in_one_step(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    latest, new = tmp_path / "latest", tmp_path / ".latest.link"
    latest.symlink_to("a")
    new.symlink_to("b")
    move_over(new, latest)
    assert latest.readlink() == Path("b") and not new.exists()


def test_hashes_are_sha256_of_the_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # more than one chunk
    path = tmp_path / "v.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == file_sha256(str(path)) == expected
    assert stream_sha256(io.BytesIO(data)) == expected
