"""Whole-clip cues and statuses from real H.264 files written with PyAV."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from features.video.extract import extract_video
from sparkpick.config import with_overrides
from sparkpick.files import file_sha256
from tests.features.video.clips import Shot, write_audio_only, write_clip

TOLERANCE_S = 0.15


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def cut_clips(clip_dir) -> list[tuple[Path, list[float]]]:
    """Three handheld clips with hard cuts at known, irregular times."""
    out = []
    for k in range(3):
        rng = np.random.default_rng(k)
        shots = [Shot(float(rng.uniform(0.6, 1.6)), 10 * k + i, shake_px=2.0, pan_px_s=8.0) for i in range(6)]
        path = clip_dir / f"cuts{k}.mp4"
        out.append((path, write_clip(path, shots, seed=k)))
    return out


def _found_cut_times(path: Path, cfg) -> list[float]:
    from features.video.cues.motion import MotionTracker, detect_cuts
    from features.video.frames import DecodeOutcome, iter_frames, open_video

    container, info = open_video(path, cfg)
    tracker = MotionTracker(cfg)
    with container:
        for _info, frame in iter_frames(container, info, cfg, DecodeOutcome(), float("inf")):
            if frame.tiny is not None:
                tracker.add(frame.t, frame.tiny)
    return [tracker.times[i] for i in detect_cuts(tracker.times, tracker.residual, cfg)]


def test_hard_cuts_are_found_at_the_right_times(settings, cut_clips):
    hits = total = false = 0
    for path, truth in cut_clips:
        found = _found_cut_times(path, settings.video)
        matched = {t for t in truth if any(abs(f - t) <= TOLERANCE_S for f in found)}
        hits += len(matched)
        total += len(truth)
        false += sum(not any(abs(f - t) <= TOLERANCE_S for t in truth) for f in found)
    assert hits / total >= 0.9
    assert false <= 1


def test_the_result_says_when_the_cuts_are(settings, cut_clips):
    path, truth = cut_clips[0]
    result = extract_video(path, settings.video)
    assert len(result.cut_times_s) == result.cues["hard_cuts"]
    assert sum(any(abs(f - t) <= TOLERANCE_S for f in result.cut_times_s) for t in truth) >= len(truth) - 1
    assert result.cut_times_s == sorted(result.cut_times_s)


def test_a_moving_handheld_shot_has_few_false_cuts(settings, clip_dir):
    path = clip_dir / "handheld_long.mp4"
    write_clip(path, [Shot(10.0, 99, shake_px=3.0, pan_px_s=12.0)], seed=5)
    result = extract_video(path, settings.video)
    assert result.status == "ok"
    assert result.cues["hard_cuts"] <= 1


def test_shaken_reads_shakier_than_steady(settings, clip_dir):
    steady, shaky = clip_dir / "steady.mp4", clip_dir / "shaky.mp4"
    write_clip(steady, [Shot(4.0, 7, pan_px_s=8.0)])
    write_clip(shaky, [Shot(4.0, 7, shake_px=2.5, pan_px_s=8.0)])
    a, b = extract_video(steady, settings.video), extract_video(shaky, settings.video)
    assert b.cues["shake"] > 4 * a.cues["shake"]
    assert a.cues["hard_cuts"] == b.cues["hard_cuts"] == 0


def test_static_and_drifting_exposure_read_as_such(settings, clip_dir):
    locked, drifting = clip_dir / "locked.mp4", clip_dir / "drift.mp4"
    write_clip(locked, [Shot(4.0, 3, moving_object=False)])
    write_clip(drifting, [Shot(4.0, 3, moving_object=False, exposure_drift=0.25)])
    a, b = extract_video(locked, settings.video), extract_video(drifting, settings.video)
    assert a.cues["static_share"] > 0.9
    assert b.cues["exposure_drift"] > 3 * a.cues["exposure_drift"] + 1.0


def test_noise_blur_and_text_move_the_clip_cues(settings, clip_dir):
    base, noisy, blurred, text = (clip_dir / f"{n}.mp4" for n in ("base", "noisy", "blurred", "text"))
    write_clip(base, [Shot(2.0, 4)])
    write_clip(noisy, [Shot(2.0, 4, noise=10.0)])
    write_clip(blurred, [Shot(2.0, 4, blur=2.0)])
    write_clip(text, [Shot(2.0, 4, text=True)])
    r = {p.stem: extract_video(p, settings.video).cues for p in (base, noisy, blurred, text)}
    assert r["noisy"]["noise"] > r["base"]["noise"] + 1.0
    assert r["noisy"]["sharpness"] < r["base"]["sharpness"]
    assert r["blurred"]["sharpness"] < r["base"]["sharpness"] - 0.3
    assert r["text"]["text_coverage"] > r["base"]["text_coverage"] + 0.01
    assert r["text"]["text_frame_share"] > 0.8 and r["base"]["text_frame_share"] < 0.2
    assert r["text"]["hook_text_coverage"] > 0.01


def test_container_facts_and_hook(settings, clip_dir):
    path = clip_dir / "facts.mp4"
    write_clip(path, [Shot(1.0, 1), Shot(2.0, 2)], fps=24)
    result = extract_video(path, settings.video, thumbnail_dir=clip_dir / "thumbs")
    c = result.cues
    assert result.status == "ok" and result.error is None
    assert (c["width"], c["height"], c["fps"], c["rotation"]) == (180, 320, 24, 0)
    assert c["vertical"] == 1 and c["native_vertical"] == 1
    assert result.duration_s == pytest.approx(3.0, abs=0.1)
    assert c["hook_cuts"] == 1
    thumb = Path(result.thumbnail_path)
    assert thumb.name == f"{file_sha256(path)}.jpg" and thumb.stat().st_size > 500


def test_rotation_metadata_is_honoured(settings, clip_dir):
    path = clip_dir / "rotated.mp4"
    # Landscape-coded 320x180 frames, displayed rotated by 90 degrees: a portrait video.
    write_clip(path, [Shot(2.0, 5, text=True)], size=(320, 180), rotation=90)
    result = extract_video(path, settings.video)
    assert result.status == "ok"
    assert result.cues["rotation"] == 90
    assert (result.cues["width"], result.cues["height"]) == (180, 320)
    assert result.cues["vertical"] == 1


# -- bad input: every case gives a status and a reason, never an exception ----------------------------
def test_missing_and_empty_files_fail_with_a_reason(settings, tmp_path):
    missing = extract_video(tmp_path / "nope.mp4", settings.video)
    assert missing.status == "failed" and "does not exist" in missing.error
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = extract_video(empty, settings.video)
    assert result.status == "failed" and "0 bytes" in result.error
    assert np.isnan(result.cues["sharpness"]) and result.polish_score is None


def test_non_video_and_audio_only_fail(settings, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    assert extract_video(text, settings.video).status == "failed"
    still = tmp_path / "photo.jpg"
    import cv2

    cv2.imwrite(str(still), np.full((320, 180, 3), 128, np.uint8))
    result = extract_video(still, settings.video)
    assert result.status == "failed" and "still image" in result.error
    audio = tmp_path / "voice.m4a"
    write_audio_only(audio)
    result = extract_video(audio, settings.video)
    assert result.status == "failed" and "no video stream" in result.error


def test_truncated_files(settings, clip_dir, tmp_path):
    # Index at the end (the default): cut short, the file cannot be opened at all.
    full = clip_dir / "to_truncate.mp4"
    write_clip(full, [Shot(4.0, 8, shake_px=1.0)])
    tail_less = tmp_path / "tail_less.mp4"
    tail_less.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert extract_video(tail_less, settings.video).status == "failed"
    # Index at the front: opens, states 4 s, and stops half way: partial, not ok.
    front = clip_dir / "faststart.mp4"
    write_clip(front, [Shot(4.0, 8, shake_px=1.0)], faststart=True)
    assert extract_video(front, settings.video).status == "ok"
    half = tmp_path / "half.mp4"
    half.write_bytes(front.read_bytes()[: front.stat().st_size // 2])
    result = extract_video(half, settings.video)
    assert result.status == "partial", result.error
    assert result.duration_s == pytest.approx(4.0, abs=0.1)
    assert 0.5 < result.decoded_s < 3.5
    assert "decoded" in result.error and result.polish_score is not None


def test_corrupted_middle_does_not_crash(settings, clip_dir, tmp_path):
    src = clip_dir / "faststart.mp4"
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(0)
    start = len(data) // 3
    data[start : start + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    result = extract_video(broken, settings.video)
    assert result.status in {"ok", "partial"}
    assert result.decoded_s > 1.0


def test_huge_frames_are_refused(settings, clip_dir):
    cfg = with_overrides(settings, {"video": {"max_frame_pixels": 100 * 100}}).video
    path = clip_dir / "huge.mp4"  # its own clip: under xdist no other test's file can be counted on
    write_clip(path, [Shot(1.0, 1)], fps=24)
    result = extract_video(path, cfg)
    assert result.status == "failed" and "max_frame_pixels" in result.error


def test_the_time_limit_stops_decoding_and_marks_partial(settings, clip_dir, tmp_path):
    cfg = with_overrides(settings, {"video": {"timeout_s": 0.01}}).video
    path = tmp_path / "long.mp4"
    shutil.copy(clip_dir / "handheld_long.mp4", path)
    result = extract_video(path, cfg)
    assert result.status in {"partial", "failed"}
    assert "time limit" in result.error
