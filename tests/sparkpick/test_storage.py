"""Video locations: plain paths and fsspec URLs read alike; an unreachable one says which and why."""

from __future__ import annotations

import hashlib

import pytest

from sparkpick import storage


def test_a_file_url_reads_like_its_path(tmp_path):
    path = tmp_path / "a clip.mp4"  # a space: the URL quotes it
    path.write_bytes(b"\x00video bytes" * 1000)
    url = path.as_uri()
    assert "%20" in url and storage.is_url(url) and not storage.is_url(str(path))
    assert storage.local_path(url) == path
    assert storage.stat(url) == storage.stat(str(path))
    assert storage.sha256(url) == storage.sha256(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert storage.check(url) is None


def test_a_remote_url_is_read_through_fsspec_and_copied_for_the_decoder(tmp_path):
    import fsspec

    with fsspec.open("memory://sparkpick-test/clip.mp4", "wb") as out:
        out.write(b"remote bytes")
    url = "memory://sparkpick-test/clip.mp4"
    assert storage.local_path(url) is None
    assert storage.stat(url).size == len(b"remote bytes")
    assert storage.sha256(url) == hashlib.sha256(b"remote bytes").hexdigest()
    with storage.readable_file(url, tmp_path) as copy:
        assert copy.parent == tmp_path and copy.suffix == ".mp4" and copy.read_bytes() == b"remote bytes"
    assert not copy.exists()  # the temporary copy is gone afterwards


@pytest.mark.parametrize(("location", "words"), [
    ("file:///nonexistent/sparkpick/clip.mp4", "does not exist"),
    ("memory://sparkpick-test/missing.mp4", "does not exist"),
    ("nosuchproto://bucket/clip.mp4", "cannot be read"),
])
def test_an_unreachable_location_is_named_with_the_reason(location, words):
    problem = storage.check(location)
    assert problem is not None and location in problem and words in problem
    with pytest.raises(storage.StorageError, match=words):
        storage.sha256(location)


def test_an_empty_file_is_reported(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in storage.check((tmp_path / "empty.mp4").as_uri())


def test_a_remote_file_is_never_copied_to_the_system_temporary_folder(tmp_path):
    import fsspec

    with fsspec.open("memory://sparkpick-test/other.mp4", "wb") as out:
        out.write(b"remote bytes")
    with pytest.raises(storage.StorageError, match="scratch folder"), \
            storage.readable_file("memory://sparkpick-test/other.mp4"):
        pass
    with storage.readable_file(str(tmp_path / "local.mp4")) as path:  # a local file needs no copy
        assert path == tmp_path / "local.mp4"
