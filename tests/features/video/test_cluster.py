"""Video extraction on a real `distributed.LocalCluster` of 2 worker processes.

One cluster serves the module (starting one costs a few seconds). The kill tests use a test-only
extraction that ends its worker process with `os._exit` for files with a given name: the nanny then
restarts the worker and the scheduler re-runs what it was running.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import pytest

from features.video.cluster import local_cluster_kwargs, run_videos_on_cluster
from features.video.extract import VideoResult, extract_video
from features.video.pool import VideoTask, run_videos
from tests.features.video.clips import Shot, write_clip


def exit_on_die_name(path, cfg, thumbnail_dir=None, video_sha256=None) -> VideoResult:
    """Extraction whose worker process dies for `die-always*` files, and once (first try) for `die-once*`."""
    p = Path(path)
    if p.name.startswith("die-always"):
        os._exit(3)
    if p.name.startswith("die-once"):
        marker = p.with_name(p.name + ".died")
        if not marker.exists():
            marker.write_text("the first worker died here")
            os._exit(3)
    return extract_video(path, cfg, thumbnail_dir, video_sha256)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    distributed = pytest.importorskip("distributed")

    scratch = tmp_path_factory.mktemp("dask")
    with distributed.LocalCluster(**local_cluster_kwargs(2, scratch)) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("cluster_clips")
    paths = []
    for i, shots in enumerate([
        [Shot(1.0, 1), Shot(1.0, 2)],
        [Shot(1.5, 3, noise=12.0, shake_px=2.0)],
        [Shot(0.8, 4, text=True), Shot(0.8, 5, blur=2.0), Shot(0.6, 6)],
    ]):
        path = folder / f"clip{i}.mp4"
        write_clip(path, shots)
        paths.append(path)
    return paths


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def _on_cluster(tasks, settings, client, thumbs=None, extract=extract_video):
    calls: list[tuple[str, VideoResult]] = []
    run_videos_on_cluster(tasks, settings.video, lambda t, r: calls.append((t.key, r)), client,
                          thumbnail_dir=thumbs, extract=extract)
    return calls


def test_cluster_features_equal_local_features_bit_for_bit(settings, client, clips, tmp_path):
    tasks = [VideoTask(str(i), str(p)) for i, p in enumerate(clips)]
    local: dict[str, VideoResult] = {}
    run_videos(tasks, settings.video, lambda t, r: local.__setitem__(t.key, r), start_method="forkserver")
    remote = dict(_on_cluster(tasks, settings, client, thumbs=tmp_path / "thumbs"))
    assert sorted(remote) == sorted(local)
    for key, result in local.items():
        assert result.status == remote[key].status == "ok"
        assert _same(result.cues, remote[key].cues), key
        assert result.polish_score == remote[key].polish_score
        assert result.polish_reasons == remote[key].polish_reasons
    # Thumbnails come back as bytes and are written on the caller's side, named by the video's hash.
    for result in remote.values():
        thumb = Path(result.thumbnail_path)
        assert thumb.parent == tmp_path / "thumbs" and thumb.stem == result.video_sha256
        assert thumb.read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_a_file_url_works_and_an_unreachable_url_fails_alone(settings, client, clips):
    tasks = [VideoTask("path", str(clips[0])), VideoTask("url", clips[0].resolve().as_uri()),
             VideoTask("gone", "file:///nonexistent/sparkpick/clip.mp4"),
             VideoTask("proto", "nosuchproto://bucket/clip.mp4")]
    out = dict(_on_cluster(tasks, settings, client))
    assert out["url"].status == "ok" and out["url"].path == clips[0].resolve().as_uri()
    assert _same(out["url"].cues, out["path"].cues)
    assert out["gone"].status == "failed" and "file:///nonexistent/sparkpick/clip.mp4" in out["gone"].error
    assert out["proto"].status == "failed" and "nosuchproto://bucket/clip.mp4" in out["proto"].error


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(settings, client, clips, tmp_path):
    dying = tmp_path / "die-once.mp4"
    dying.write_bytes(clips[1].read_bytes())
    tasks = [VideoTask(f"v{i}", str(clips[i % 3])) for i in range(6)]
    tasks.insert(2, VideoTask("dies-once", str(dying)))
    calls = _on_cluster(tasks, settings, client, extract=exit_on_die_name)
    assert Counter(k for k, _ in calls) == Counter(t.key for t in tasks)  # each exactly once
    assert (tmp_path / "die-once.mp4.died").exists()  # a worker really died on it
    out = dict(calls)
    assert all(r.status == "ok" for r in out.values()), {k: r.error for k, r in out.items()}
    assert _same(out["dies-once"].cues, out["v1"].cues)  # the retry computed the same features


@pytest.mark.slow
def test_a_video_that_kills_workers_twice_is_failed_with_the_reason(settings, client, clips, tmp_path):
    killer = tmp_path / "die-always.mp4"
    killer.write_bytes(clips[0].read_bytes())
    tasks = [VideoTask("a", str(clips[0])), VideoTask("killer", str(killer)), VideoTask("b", str(clips[2]))]
    out = dict(_on_cluster(tasks, settings, client, extract=exit_on_die_name))
    assert sorted(out) == ["a", "b", "killer"]
    assert out["a"].status == out["b"].status == "ok"
    assert out["killer"].status == "failed"
    assert "died 2 times" in out["killer"].error and str(killer) in out["killer"].error
