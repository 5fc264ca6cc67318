"""A night reuses what an earlier one computed only when everything it depends on is exactly as it was:
the scores and live boosts when the warehouse, the model store, the settings and the as-of time are the
same; the whole night when the source folder's files are the same too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from flows.unchanged import (
    KeptNight,
    folder_state,
    forget_night,
    keep_night,
    load_kept,
    night_inputs,
    nothing_to_do,
    source_state,
)
from sparkpick.config import with_overrides
from sparkpick.report import MonitorView
from sparkpick.warehouse import POST_VIDEOS, Warehouse


def _posts(caption: str) -> pd.DataFrame:
    return pd.DataFrame({
        "post_id": ["p1", "p2"], "advertiser_id": "a1", "creator_id": "c1",
        "posted_at": pd.Timestamp("2026-10-01"), "caption": [caption, "other"], "video_path": None,
        "spark_auth_status": "none", "spark_auth_expires_at": pd.NaT,
    })


def _load(home, caption: str) -> None:
    creators = pd.DataFrame({"creator_id": ["c1"], "handle": ["@c1"], "follower_count": [100],
                             "is_brand_account": [False]})
    with Warehouse(home.warehouse) as wh:
        wh.upsert({"creators": creators, "posts": _posts(caption)})


def _scored() -> pd.DataFrame:
    return pd.DataFrame({"advertiser_id": ["a1", "a1"], "post_id": ["p1", "p2"], "rank": [1, 2],
                         "score": [0.9, 0.1], "why": ["a reason", "another"]})


def _monitor() -> MonitorView:
    boosts = pd.DataFrame({"post_id": ["p1"], "boosted_at": [pd.Timestamp("2026-10-30 10:00")],
                           "spend": [310.0], "conversions": [3], "decision": ["pause"],
                           "reason": ["36 h in, 3 conversions for $310: pause"], "caption": ["<b>hi</b>"]})
    hourly = pd.DataFrame({"post_id": ["p1"], "boosted_at": [pd.Timestamp("2026-10-30 10:00")],
                           "hour_start": [pd.Timestamp("2026-10-30 10:00")], "spend": [12.5], "conversions": [0]})
    return MonitorView(boosts=boosts, hourly=hourly, track_record={"count": 4, "band_coverage": 0.75})


def _with_state(home, settings, as_of, source):
    """The night's inputs with the source's state taken now (as a night takes it before ingesting)."""
    return night_inputs(home, settings, as_of, source_state(home, source))


def test_scores_are_reused_only_for_identical_inputs(home, settings):
    as_of = pd.Timestamp("2026-11-01")
    _load(home, "first")
    store = home.mlruns / "mlflow.db"
    store.write_bytes(b"registry v1")
    assert load_kept(home) is None  # nothing kept yet
    keep_night(home, KeptNight(inputs=night_inputs(home, settings, as_of), scored=_scored(), monitor=_monitor()))
    kept = load_kept(home)
    pd.testing.assert_frame_equal(kept.scored, _scored())
    pd.testing.assert_frame_equal(kept.monitor.boosts, _monitor().boosts)
    pd.testing.assert_frame_equal(kept.monitor.hourly, _monitor().hourly)
    assert kept.monitor.track_record == {"count": 4, "band_coverage": 0.75}
    assert night_inputs(home, settings, as_of).same_scoring(kept.inputs)

    # The same rows upserted again change nothing; writing the scores table is not an input.
    _load(home, "first")
    with Warehouse(home.warehouse) as wh:
        wh.upsert_frame("scores", _scored().assign(run_id="r1"), ("run_id", "advertiser_id", "post_id"))
    assert night_inputs(home, settings, as_of).same_scoring(kept.inputs)

    # Any change to what the scores depend on means scoring again.
    assert not night_inputs(home, settings, as_of + pd.Timedelta(days=1)).same_scoring(kept.inputs)
    other = with_overrides(settings, {"report": {"top_k": settings.report.top_k + 1}})
    assert not night_inputs(home, other, as_of).same_scoring(kept.inputs)
    store.write_bytes(b"registry v2, a new champion")
    assert not night_inputs(home, settings, as_of).same_scoring(kept.inputs)
    keep_night(home, KeptNight(inputs=night_inputs(home, settings, as_of), scored=_scored(), monitor=None))
    _load(home, "an edited caption")
    assert not night_inputs(home, settings, as_of).same_scoring(load_kept(home).inputs)


def test_a_models_files_deleted_mean_the_night_runs_again(home, settings):
    # A champion's artifact folder deleted leaves the store's file as it was: the kept night must not be
    # repeated as if the model were whole (the next night loads it and names what is damaged).
    as_of = pd.Timestamp("2026-11-01")
    _load(home, "first")
    (home.mlruns / "mlflow.db").write_bytes(b"registry v1")
    artifacts = home.mlruns / "1" / "models" / "m-1" / "artifacts"
    (artifacts / "ranker").mkdir(parents=True)
    (artifacts / "ranker" / "booster_0.txt").write_text("tree", encoding="utf-8")
    kept = night_inputs(home, settings, as_of)
    assert night_inputs(home, settings, as_of) == kept
    (artifacts / "ranker" / "booster_0.txt").unlink()
    assert not night_inputs(home, settings, as_of).same_scoring(kept)
    kept = night_inputs(home, settings, as_of)
    shutil.rmtree(home.mlruns / "1" / "models" / "m-1")
    assert not night_inputs(home, settings, as_of).same_scoring(kept)


def test_a_whole_night_repeats_only_while_the_source_folder_is_unchanged(home, settings, tmp_path):
    as_of = pd.Timestamp("2026-11-01")
    folder = tmp_path / "export"
    (folder / "videos").mkdir(parents=True)
    (folder / "posts.csv").write_text("post_id\np1\n")
    (folder / "videos" / "p1.mp4").write_bytes(b"not really a video")
    source = f"local:{folder}"
    local = with_overrides(settings, {"ingest": {"source": source}})
    _load(home, "first")
    (home.mlruns / "mlflow.db").write_bytes(b"registry v1")
    assert not nothing_to_do(home, local, as_of)  # nothing kept yet
    before = _with_state(home, local, as_of, source)
    assert before.source is not None and before.source.startswith(source)
    keep_night(home, KeptNight(inputs=before, scored=_scored(), monitor=None, failures=("video: post p9: failed",)))
    assert nothing_to_do(home, local, as_of)
    assert load_kept(home).failures == ("video: post p9: failed",)

    # A file touched, added or resized: the folder may hold something new, so the night ingests.
    video = folder / "videos" / "p1.mp4"
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 1_000_000_000))
    assert not nothing_to_do(home, local, as_of)
    keep_night(home, KeptNight(inputs=_with_state(home, local, as_of, source), scored=_scored(), monitor=None))
    assert nothing_to_do(home, local, as_of)
    (folder / "videos" / "p2.mp4").write_bytes(b"new")
    assert not nothing_to_do(home, local, as_of)
    # ... but the scores still serve: the warehouse did not change.
    assert night_inputs(home, local, as_of).same_scoring(load_kept(home).inputs)

    # A forgotten night (a failed stage) repeats nothing; neither does a damaged fingerprint.
    keep_night(home, KeptNight(inputs=_with_state(home, local, as_of, source), scored=_scored(), monitor=None))
    forget_night(home)
    assert load_kept(home) is None and not nothing_to_do(home, local, as_of)
    keep_night(home, KeptNight(inputs=_with_state(home, local, as_of, source), scored=_scored(), monitor=None))
    (home.cache / "nightly" / "night.json").write_text("{not json")
    assert load_kept(home) is None and not nothing_to_do(home, local, as_of)


def test_sources_whose_state_cannot_be_read_cheaply_always_ingest(home, settings, tmp_path):
    as_of = pd.Timestamp("2026-11-01")
    _load(home, "first")
    (home.mlruns / "mlflow.db").write_bytes(b"registry v1")
    assert source_state(home, "tiktok") is None
    assert source_state(home, f"local:{tmp_path / 'missing'}") is None
    assert _with_state(home, settings, as_of, "tiktok").source is None
    # A source folder whose posts have videos at URLs: a video may change while the folder does not.
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "posts.csv").write_text("post_id\np1\n")
    assert _with_state(home, settings, as_of, f"local:{folder}").source is not None
    with Warehouse(home.warehouse) as wh:
        wh.con.execute(f'CREATE TABLE "{POST_VIDEOS}" (post_id VARCHAR, video_path VARCHAR)')
        wh.con.execute(f"INSERT INTO \"{POST_VIDEOS}\" VALUES ('p1', 's3://bucket/p1.mp4')")
    assert _with_state(home, settings, as_of, f"local:{folder}").source is None


def test_folder_state_sees_tables_by_content_and_other_files_by_size_and_time(tmp_path: Path):
    (tmp_path / "a").mkdir()
    table, video = tmp_path / "posts.csv", tmp_path / "a" / "v.mp4"
    table.write_text("post_id\np1\n")
    video.write_bytes(b"frames")
    first = folder_state(tmp_path)
    assert first == folder_state(tmp_path)
    # An export rewritten whole with the same rows is the same source; other rows are not.
    table.write_text("post_id\np1\n")
    os.utime(table, ns=(table.stat().st_atime_ns, table.stat().st_mtime_ns + 5_000_000_000))
    assert folder_state(tmp_path) == first
    table.write_text("post_id\np2\n")
    assert folder_state(tmp_path) != first
    table.write_text("post_id\np1\n")
    assert folder_state(tmp_path) == first
    # A video goes by size and time, as the video cache does.
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 5_000_000_000))
    assert folder_state(tmp_path) != first
    second = folder_state(tmp_path)
    # Tables outside the contract (a demo world's hidden truth) are never opened, so never counted.
    (tmp_path / "truth.csv").write_text("post_id,true_uplift\np1,0.3\n")
    assert folder_state(tmp_path) == second
    table.rename(tmp_path / "creators.csv")
    assert folder_state(tmp_path) != second
    assert folder_state(tmp_path / "nothing-here") is None


def test_a_remote_model_store_is_never_fingerprinted(home, settings):
    remote = with_overrides(settings, {"mlflow": {"tracking_uri": "http://127.0.0.1:5000"}})
    _load(home, "first")
    assert night_inputs(home, remote, pd.Timestamp("2026-11-01")) is None


def test_the_fingerprint_is_taken_beside_the_nights_own_connection_and_never_waits_for_another(home, settings):
    as_of = pd.Timestamp("2026-11-01")
    _load(home, "first")
    (home.mlruns / "mlflow.db").write_bytes(b"registry v1")
    with Warehouse(home.warehouse) as wh:  # the night's own connection, still open
        wh.count("posts")
        assert night_inputs(home, settings, as_of) is not None
    # Another process writing the warehouse: no shortcut, and no error either.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(60)", str(home.warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert night_inputs(home, settings, as_of) is None
        assert not nothing_to_do(home, settings, as_of)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_night_hashes_the_source_folder_once(home, settings, tmp_path, monkeypatch):
    """The source's state is taken once a night, before ingesting, and used for both fingerprints."""
    from flows import unchanged
    from flows.nightly import run_nightly
    from sparkpick.sources.demo.build import to_csv_text
    from sparkpick.sources.demo.tables import generate_tables
    from tests.flows.test_train import FAST

    folder = tmp_path / "export"
    folder.mkdir()
    for name, frame in generate_tables(settings.world, "small", 7).tables().items():
        frame = frame.assign(video_path=None) if name == "posts" else frame  # no videos: a quick night
        (folder / f"{name}.csv").write_text(to_csv_text(frame), encoding="utf-8")
    local = with_overrides(settings, {**FAST, "ingest": {"source": f"local:{folder}"}})
    hashed: list[Path] = []
    real = unchanged.folder_state
    monkeypatch.setattr(unchanged, "folder_state", lambda path: hashed.append(path) or real(path))
    as_of = pd.Timestamp(settings.world.end)

    first = run_nightly(home, local, as_of=as_of, ran_at=as_of)
    assert first.ok, first.stage_failures
    assert hashed == [folder.resolve()]
    hashed.clear()
    html = first.report.html.read_bytes()
    second = run_nightly(home, local, as_of=as_of, ran_at=as_of + pd.Timedelta(hours=1))
    assert second.ok and any("nothing changed since this night last ran" in n for n in second.notes), second.notes
    assert hashed == [folder.resolve()]
    # The repeat keeps the report the night wrote (not rendered again) and latest shows it.
    assert "report" not in second.timings_s and second.report.html.read_bytes() == html
    assert (home.reports / "latest" / "shortlist.html").read_bytes() == html
