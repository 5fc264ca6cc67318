"""The written demo world: a valid local folder with real videos, identical on every run."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from sparkpick.config import with_overrides
from sparkpick.contract import SPECS
from sparkpick.sources.demo import build_world
from sparkpick.sources.local import read_folder
from tests.sparkpick.sources.demo.measures import clip_measures

TABLE_FILES = ("creators", "partnerships", "posts", "metrics", "spark_results", "baselines", "spark_hourly", "truth",
               "truth_boosts")


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_world_folder_passes_the_contract_validator(tiny_world: Path) -> None:
    data = read_folder(tiny_world)
    assert data.problems == []
    assert len(data.tables["posts"]) == len(_read(tiny_world, "posts"))


def test_csv_files_follow_the_contract_text_conventions(tiny_world: Path) -> None:
    for name in TABLE_FILES:
        assert (tiny_world / f"{name}.csv").is_file(), name
    for name, spec in SPECS.items():
        frame = _read(tiny_world, name)
        assert set(c.name for c in spec.columns if c.required) <= set(frame.columns)
        for col in spec.columns:
            values = frame[col.name][frame[col.name] != ""] if col.name in frame else pd.Series([], dtype=str)
            if col.kind == "time":
                assert values.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all(), (name, col.name)
            if col.kind == "bool":
                assert values.isin(["true", "false"]).all(), (name, col.name)
    posts = _read(tiny_world, "posts")
    assert posts["post_id"].str.fullmatch(r"\d{19}").all()
    truth = _read(tiny_world, "truth")
    assert {"post_id", "expected_uplift", "hook", "authenticity", "polish", "topic_fit", "produced"} <= set(truth)
    assert set(truth["post_id"]) == set(posts["post_id"])


def test_videos_open_with_the_size_rate_and_length_the_posts_say(tiny_world: Path) -> None:
    posts = _read(tiny_world, "posts")
    with_video = posts[posts["video_path"] != ""]
    assert len(with_video) >= 0.9 * len(posts)
    on_disk = {p.name for p in (tiny_world / "videos").glob("*.mp4")}
    assert on_disk == {Path(v).name for v in with_video["video_path"]}
    for row in with_video.itertuples():
        cap = cv2.VideoCapture(str(tiny_world / row.video_path))
        assert cap.isOpened(), row.video_path
        assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == int(row.width)
        assert int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == int(row.height)
        fps = cap.get(cv2.CAP_PROP_FPS)
        assert fps == pytest.approx(float(row.fps))
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        assert frames / fps == pytest.approx(float(row.duration_s), abs=1e-6)
        assert 6.0 <= float(row.duration_s) <= 30.0
        cap.release()


def test_produced_and_native_videos_differ_measurably(tiny_world: Path) -> None:
    posts = _read(tiny_world, "posts").merge(_read(tiny_world, "truth")[["post_id", "produced"]], on="post_id")
    posts = posts[posts["video_path"] != ""].groupby("produced").head(10)  # ten of each keeps this quick
    rows = [(r.produced == "true", *clip_measures(tiny_world / r.video_path)) for r in posts.itertuples()]
    m = pd.DataFrame(rows, columns=["produced", "cuts", "shake", "noise"]).groupby("produced").median()
    assert m.loc[True, "cuts"] > m.loc[False, "cuts"] + 0.3
    assert m.loc[False, "shake"] > 2 * m.loc[True, "shake"]
    assert m.loc[False, "noise"] > m.loc[True, "noise"]


def test_native_videos_show_a_detectable_face(tiny_world: Path) -> None:
    faces = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    posts = _read(tiny_world, "posts").merge(_read(tiny_world, "truth")[["post_id", "produced"]], on="post_id")
    native = posts[(posts["produced"] == "false") & (posts["video_path"] != "")].head(12)
    found = []
    for row in native.itertuples():
        cap = cv2.VideoCapture(str(tiny_world / row.video_path))
        hit, i = False, 0
        while not hit:
            ok, frame = cap.read()
            if not ok:
                break
            if i % 5 == 0:
                gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                hit = len(faces.detectMultiScale(gray, 1.1, 3, minSize=(24, 24))) > 0
            i += 1
        found.append(hit)
    assert np.mean(found) >= 0.8


def test_rebuilding_into_the_same_folder_gives_the_identical_folder(tiny_world: Path, tmp_path: Path,
                                                                    settings) -> None:
    copy = tmp_path / "world"
    shutil.copytree(tiny_world, copy)
    before = _digests(copy)
    victim = next((copy / "videos").glob("*.mp4"))
    victim.write_bytes(b"damaged")  # a damaged video is rendered again, the rest are kept
    (copy / "posts.csv").write_text("garbage")
    summary = build_world(copy, settings, size="tiny", seed=settings.world.seed, workers=1)
    assert summary.rendered == 1
    assert _digests(copy) == before


def test_a_different_seed_replaces_the_previous_world(tmp_path: Path, settings) -> None:
    """Re-using a folder for another world leaves no stale videos behind; progress reaches the total."""
    mini = with_overrides(settings, {"world": {"sizes": {"mini": {
        "advertisers": 1, "creators_per_advertiser": 3, "posts": 5, "days": 20, "max_duration_s": 6.5}}}})
    folder = tmp_path / "world"
    first = build_world(folder, mini, size="mini", seed=1, workers=1)
    calls: list[tuple[int, int]] = []
    second = build_world(folder, mini, size="mini", seed=2, workers=2, progress=lambda d, t: calls.append((d, t)))
    posts = _read(folder, "posts")
    wanted = {Path(v).name for v in posts["video_path"] if v}
    assert {p.name for p in (folder / "videos").glob("*.mp4")} == wanted
    assert first.posts == second.posts == 5 and second.rendered == second.videos == len(wanted)
    assert calls[0] == (0, len(wanted)) and calls[-1] == (len(wanted), len(wanted))
    again = build_world(folder, mini, size="mini", seed=2, workers=2)
    assert again.rendered == 0


def test_a_failing_clip_is_named_and_does_not_stop_the_others(tmp_path: Path) -> None:
    from sparkpick.errors import SparkpickError
    from sparkpick.sources.demo.build import _render
    from sparkpick.sources.demo.clip import ClipSpec

    def spec(post_id: str, preset: str) -> ClipSpec:
        return ClipSpec(post_id=post_id, path=str(tmp_path / f"{post_id}.mp4"), seed=1, width=180, height=320,
                        fps=10, n_frames=12, polish=0.3, produced=False, hook=0.5, authenticity=0.5, topic_fit=0.5,
                        primary=(1, 2, 3), accent=(4, 5, 6), initials="AB", skin=None, preset=preset)

    specs = [spec("7600000000000000001", "ultrafast"), spec("7600000000000000002", "no-such-preset"),
             spec("7600000000000000003", "ultrafast")]
    ticks: list[int] = []
    with pytest.raises(SparkpickError, match="7600000000000000002"):
        _render(specs, 2, ticks.append)
    assert sum(ticks) == 3
    assert (tmp_path / "7600000000000000001.mp4").is_file() and (tmp_path / "7600000000000000003.mp4").is_file()
    assert not (tmp_path / "7600000000000000002.mp4").exists()
