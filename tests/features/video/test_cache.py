"""The video cache plan: hash reuse by size and mtime, and which videos to compute or report."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from features.video.cache import plan_videos, post_video_rows


def _posts(videos: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({"post_id": list(videos), "video_path": list(videos.values())})


def _file(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def _cached(rows: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"video_sha256": sha, "status": status, "error": error} for sha, (status, error) in rows.items()],
        columns=["video_sha256", "status", "error"],
    )


def test_rows_hash_files_and_name_the_unreadable(tmp_path):
    sha_a = _file(tmp_path / "a.mp4", b"video a")
    (tmp_path / "folder.mp4").mkdir()
    rows = post_video_rows(_posts({
        "p1": str(tmp_path / "a.mp4"), "p2": str(tmp_path / "gone.mp4"), "p3": None, "p4": "  ",
        "p5": str(tmp_path / "folder.mp4"),
    }), pd.DataFrame()).set_index("post_id")
    assert rows.loc["p1", "video_sha256"] == sha_a and rows.loc["p1", "file_size"] == len(b"video a")
    assert pd.isna(rows.loc["p1", "file_error"])
    assert "gone.mp4 does not exist" in rows.loc["p2", "file_error"] and pd.isna(rows.loc["p2", "video_sha256"])
    assert pd.isna(rows.loc["p3", "video_path"]) and pd.isna(rows.loc["p4", "video_path"])
    assert "is not a file" in rows.loc["p5", "file_error"]


def test_hash_is_reused_only_while_size_and_mtime_are_unchanged(tmp_path):
    path = tmp_path / "a.mp4"
    real = _file(path, b"original")
    first = post_video_rows(_posts({"p1": str(path)}), pd.DataFrame())
    # A stored hash that is not the file's: reused as long as size and mtime say the file is unchanged.
    previous = first.assign(video_sha256="stored-hash")
    assert post_video_rows(_posts({"p1": str(path)}), previous)["video_sha256"].iloc[0] == "stored-hash"

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert post_video_rows(_posts({"p1": str(path)}), previous)["video_sha256"].iloc[0] == real
    changed = _file(path, b"edited, and longer")
    assert post_video_rows(_posts({"p1": str(path)}), previous)["video_sha256"].iloc[0] == changed


def test_plan_computes_each_new_hash_once_and_skips_cached_ones(tmp_path):
    sha_a = _file(tmp_path / "a.mp4", b"a")
    sha_b = _file(tmp_path / "b.mp4", b"b")
    rows = post_video_rows(_posts({
        "p1": str(tmp_path / "a.mp4"), "p2": str(tmp_path / "a.mp4"), "p3": str(tmp_path / "b.mp4"),
        "p4": str(tmp_path / "missing.mp4"), "p5": None,
    }), pd.DataFrame())
    plan = plan_videos(rows, _cached({sha_b: ("ok", None)}))
    assert (plan.posts_with_video, plan.videos, plan.cached) == (4, 2, 1)
    assert [t.key for t in plan.tasks] == [sha_a] and plan.tasks[0].path.endswith("a.mp4")
    assert sorted(plan.posts_of[sha_a]) == ["p1", "p2"]
    assert [(m["post_id"], m["status"]) for m in plan.missing] == [("p4", "missing")]
    assert plan.cached_failures == []


def test_cached_failures_are_reported_every_run_unless_retried(tmp_path):
    sha_bad = _file(tmp_path / "bad.mp4", b"not a video")
    rows = post_video_rows(_posts({"p1": str(tmp_path / "bad.mp4"), "p2": str(tmp_path / "bad.mp4")}), pd.DataFrame())
    cached = _cached({sha_bad: ("failed", "cannot decode"), "other-hash": ("failed", "elsewhere")})

    plan = plan_videos(rows, cached)
    assert plan.tasks == [] and plan.cached == 1
    assert sorted((f["post_id"], f["status"], f["reason"]) for f in plan.cached_failures) == [
        ("p1", "failed (cached)", "cannot decode"), ("p2", "failed (cached)", "cannot decode"),
    ]

    retried = plan_videos(rows, cached, retry_failed=True)
    assert [t.key for t in retried.tasks] == [sha_bad] and retried.cached == 0
    assert retried.cached_failures == []


def test_a_failure_cached_because_the_file_was_missing_is_read_again(tmp_path):
    # Cached by a release that did not tell reading errors apart: the file is back (it was just hashed).
    sha = _file(tmp_path / "back.mp4", b"bytes")
    rows = post_video_rows(_posts({"p1": str(tmp_path / "back.mp4")}), pd.DataFrame())
    plan = plan_videos(rows, _cached({sha: ("failed", f"{tmp_path / 'back.mp4'} does not exist")}))
    assert [t.key for t in plan.tasks] == [sha] and plan.cached_failures == []
