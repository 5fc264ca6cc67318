"""`featurize_videos` fills post_videos and video_features from the warehouse's posts, with a cache."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from features.video.cues.catalogue import video_feature_version
from features.video.table import post_video_features
from flows.featurize import featurize_videos, thumbnail_dir
from sparkpick.warehouse import POST_VIDEOS, VIDEO_FEATURES, Warehouse
from tests.features.video.clips import Shot, write_clip


def _load_posts(home, videos: dict[str, str | None]) -> None:
    creators = pd.DataFrame({"creator_id": ["c1"], "handle": ["@c1"], "follower_count": [100],
                             "is_brand_account": [False]})
    posts = pd.DataFrame({
        "post_id": list(videos),
        "advertiser_id": "a1",
        "creator_id": "c1",
        "posted_at": pd.Timestamp("2026-10-01"),
        "caption": "hi",
        "video_path": list(videos.values()),
        "spark_auth_status": "none",
        "spark_auth_expires_at": pd.NaT,
    })
    with Warehouse(home.warehouse) as wh:
        wh.upsert({"creators": creators, "posts": posts})


@pytest.fixture
def videos(tmp_path) -> dict[str, Path]:
    out = {}
    for name, shots in {"a": [Shot(1.5, 1), Shot(1.5, 2)], "b": [Shot(2.0, 3, shake_px=2.0)]}.items():
        out[name] = tmp_path / f"{name}.mp4"
        write_clip(out[name], shots)
    out["corrupt"] = tmp_path / "corrupt.mp4"
    out["corrupt"].write_bytes(b"\x00" * 5000)
    return out


def test_featurize_caches_by_content(home, settings, videos, tmp_path):
    _load_posts(home, {
        "p1": str(videos["a"]), "p2": str(videos["b"]), "p3": str(videos["a"]),  # p3 shares p1's video
        "p4": str(videos["corrupt"]), "p5": str(tmp_path / "missing.mp4"), "p6": None,
    })
    calls: list[tuple[int, int]] = []
    first = featurize_videos(home, settings, lambda done, total: calls.append((done, total)))
    assert (first.posts_with_video, first.videos) == (5, 3)
    assert (first.done, first.failed, first.missing, first.cached) == (2, 1, 1, 0)
    assert calls[-1] == (3, 3)
    reasons = {f["post_id"]: f["reason"] for f in first.failures}
    assert "missing.mp4 does not exist" in reasons["p5"] and "corrupt.mp4" in reasons["p4"]

    with Warehouse(home.warehouse) as wh:
        pv, vf = wh.read(POST_VIDEOS), wh.read(VIDEO_FEATURES)
    assert len(pv) == 6 and len(vf) == 3
    assert set(vf["status"]) == {"ok", "failed"}
    joined = post_video_features(pv, vf, video_feature_version(settings.video)).set_index("post_id")
    assert joined["video_status"].to_dict() == {"p1": "ok", "p2": "ok", "p3": "ok", "p4": "failed",
                                                "p5": "missing", "p6": "none"}
    assert joined.loc["p1", "video_hard_cuts"] == 1
    assert pd.isna(joined.loc["p4", "video_shake"])
    sha_a = pv.set_index("post_id").loc["p1", "video_sha256"]
    assert (thumbnail_dir(home) / f"{sha_a}.jpg").is_file()
    stamp = vf.set_index("video_sha256").loc[sha_a, "computed_at"]

    # Unchanged videos are not decoded again; the failure is still reported.
    second = featurize_videos(home, settings)
    assert (second.done, second.failed, second.cached) == (0, 0, 3)
    assert any(f["post_id"] == "p4" for f in second.failures)

    # A changed video is recomputed; its old features stay keyed by the old hash.
    write_clip(videos["a"], [Shot(2.0, 9, shake_px=2.0)])
    os.utime(videos["a"], None)
    third = featurize_videos(home, settings)
    assert (third.done, third.cached) == (1, 2)
    with Warehouse(home.warehouse) as wh:
        pv2, vf2 = wh.read(POST_VIDEOS), wh.read(VIDEO_FEATURES)
    new_sha = pv2.set_index("post_id").loc["p1", "video_sha256"]
    assert new_sha != sha_a and len(vf2) == 4
    assert vf2.set_index("video_sha256").loc[sha_a, "computed_at"] == stamp
    joined = post_video_features(pv2, vf2, video_feature_version(settings.video)).set_index("post_id")
    assert joined.loc["p1", "video_hard_cuts"] == 0


def test_a_video_that_disappears_while_the_run_reads_it_is_read_again_next_run(home, settings, videos, tmp_path):
    _load_posts(home, {"p1": str(videos["a"]), "p2": str(videos["b"])})
    away = tmp_path / "away.mp4"

    def vanish(done: int, total: int) -> None:  # called once planned (hashed), before any video is decoded
        if done == 0:
            videos["a"].rename(away)
            videos["b"].write_bytes(b"\x00" * 5000)  # replaced by bytes that will not decode

    first = featurize_videos(home, settings, vanish, workers=1)
    assert (first.done, first.failed) == (0, 2)
    reasons = {f["post_id"]: (f["status"], f["reason"]) for f in first.failures}
    assert reasons["p1"][0] == "unreadable" and "disappeared while it was read" in reasons["p1"][1]
    assert reasons["p2"][0] == "unreadable" and "changed while it was read" in reasons["p2"][1]
    with Warehouse(home.warehouse) as wh:
        assert wh.read(VIDEO_FEATURES).empty  # nothing cached under hashes whose bytes were not what failed

    away.rename(videos["a"])  # the file is back: the next run reads it, without --retry-failed
    second = featurize_videos(home, settings, workers=1)
    assert (second.done, second.failed, second.cached) == (1, 1, 0)
    failed = {f["post_id"]: (f["status"], f["reason"]) for f in second.failures}
    assert list(failed) == ["p2"] and failed["p2"][0] == "failed"  # garbage read whole: a cached failure
    third = featurize_videos(home, settings, workers=1)
    assert (third.done, third.failed, third.cached) == (0, 0, 2)


def _featurize_slowly(home, settings, planned, summary) -> None:
    def hold(done: int, total: int) -> None:
        if done == 0:  # planned, nothing stored yet: let the other run try now
            planned.set()
            time.sleep(2.0)

    result = featurize_videos(home, settings, hold, workers=1)
    summary.put((result.done, result.cached))


def test_two_featurize_runs_at_once_decode_each_video_once(home, settings, videos):
    _load_posts(home, {"p1": str(videos["a"]), "p2": str(videos["b"])})
    ctx = mp.get_context("spawn")  # a fork would inherit this process's video worker server
    planned, summary = ctx.Event(), ctx.Queue()
    first = ctx.Process(target=_featurize_slowly, args=(home, settings, planned, summary))
    first.start()
    try:
        assert planned.wait(60)
        said: list[str] = []
        second = featurize_videos(home, settings, workers=1, announce=said.append)
        assert summary.get(timeout=120) == (2, 0)  # the first decoded both
        assert (second.done, second.cached) == (0, 2)  # the second waited, then found them done
        assert len(said) == 1 and "Another featurize run holds" in said[0] and str(first.pid) in said[0]
    finally:
        first.join(60)


@pytest.mark.slow
def test_featurize_flow_runs_under_prefect(home, settings, videos, prefect_harness):
    from flows.featurize import featurize_flow

    _load_posts(home, {"p1": str(videos["a"]), "p2": str(videos["corrupt"])})
    summary = featurize_flow(home, settings)
    assert summary.done == 1 and summary.failed == 1


@pytest.mark.slow
def test_featurize_flow_on_prefect_dasks_task_runner(home, settings, videos, prefect_harness, tmp_path):
    """The nightly path: the featurize flow on a DaskTaskRunner (a LocalCluster of 2 workers) stores the
    same rows as the plain local run, and reports the dashboard."""
    from flows.featurize import dask_task_runner, run_featurize_flow
    from sparkpick.config import with_dask

    _load_posts(home, {"p1": str(videos["a"]), "p2": str(videos["b"]), "p3": str(videos["corrupt"])})
    on_dask = with_dask(settings, None, 2)
    assert type(dask_task_runner(on_dask, tmp_path)).__name__ == "DaskTaskRunner"
    summary = run_featurize_flow(home, on_dask)
    assert (summary.done, summary.failed) == (2, 1)
    with Warehouse(home.warehouse) as wh:
        cluster_rows = wh.read(VIDEO_FEATURES).drop(columns=["computed_at", "seconds"], errors="ignore")

    local_home = type(home).at(tmp_path / "local").ensure()
    _load_posts(local_home, {"p1": str(videos["a"]), "p2": str(videos["b"]), "p3": str(videos["corrupt"])})
    featurize_videos(local_home, settings)
    with Warehouse(local_home.warehouse) as wh:
        local_rows = wh.read(VIDEO_FEATURES).drop(columns=["computed_at", "seconds"], errors="ignore")
    key = "video_sha256"
    pd.testing.assert_frame_equal(
        cluster_rows.drop(columns=["thumbnail_path"]).sort_values(key).reset_index(drop=True),
        local_rows.drop(columns=["thumbnail_path"]).sort_values(key).reset_index(drop=True),
    )


@pytest.fixture
def empty_tmpdir(tmp_path, monkeypatch) -> Path:
    """TMPDIR pointed at an empty folder, for this process (tempfile caches it) and the ones it starts.

    multiprocessing's own folder (the forkserver's socket, once per process) is made first, where the
    process's temporary files went until now: whether an earlier test in this process (or pytest-xdist
    worker) already made it must not decide what lands in the empty folder."""
    import tempfile
    from multiprocessing.util import get_temp_dir

    get_temp_dir()
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return folder


@pytest.mark.slow
def test_featurize_on_a_local_dask_cluster_leaves_nothing_outside_the_home(home, settings, videos, empty_tmpdir):
    """Dask's worker space and the per-video scratch live under the home while the run lasts, then go;
    the system's temporary folder is not touched (a killed run would have littered it)."""
    from sparkpick.config import with_dask

    _load_posts(home, {"p1": str(videos["a"]), "p2": videos["b"].resolve().as_uri()})  # a URL: copied to scratch
    summary = featurize_videos(home, with_dask(settings, None, 2))
    assert (summary.done, summary.failed) == (2, 0), summary.failures
    assert sorted(p.name for p in empty_tmpdir.iterdir()) == []
    assert list(home.scratch.iterdir()) == []


def test_the_local_pool_copies_urls_into_the_home_and_sweeps_a_killed_runs_scratch(home, settings, videos,
                                                                                   empty_tmpdir):
    """A URL video decoded by the local pool is copied under the home's scratch, not the system's
    temporary folder; a scratch left by a killed run is swept at the next start, and nothing else there."""
    stale = home.scratch / "run-killed"
    (stale / "dask").mkdir(parents=True)
    (stale / "sparkpick-video-x.mp4").write_bytes(b"half a copy")
    keep = home.scratch / "not-ours.txt"
    keep.write_text("an operator's note")
    _load_posts(home, {"p1": videos["a"].resolve().as_uri(), "p2": str(videos["b"])})
    summary = featurize_videos(home, settings)
    assert (summary.done, summary.failed) == (2, 0), summary.failures
    assert not stale.exists()
    assert sorted(p.name for p in home.scratch.iterdir()) == ["not-ours.txt"]
    assert list(empty_tmpdir.iterdir()) == []
    # A run with nothing new to decode sweeps too.
    stale.mkdir()
    assert featurize_videos(home, settings).cached == 2
    assert sorted(p.name for p in home.scratch.iterdir()) == ["not-ours.txt"]
