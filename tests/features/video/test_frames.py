"""The sampling plan (which frames get which work) and the motion tracker's arithmetic."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from features.video.cues.motion import MotionTracker
from features.video.frames import SampleClock
from sparkpick.config import with_overrides


def _plan(cfg, duration_s: float, fps: float) -> tuple[list[float], list[float], list[float]]:
    """(motion times, sample times, face times) the clock picks from a clip's frame timestamps."""
    clock = SampleClock(cfg, duration_s)
    clock.set_frame_duration(1 / fps)
    motion, samples, faces = [], [], []
    for i in range(int(duration_s * fps)):
        t = i / fps
        if clock.take_motion(t):
            motion.append(t)
        if clock.take_sample(t):
            samples.append(t)
            if clock.take_faces(t):
                faces.append(t)
    return motion, samples, faces


@pytest.mark.parametrize("duration_s", [6.0, 12.0, 30.0, 300.0])
def test_samples_and_faces_are_bounded_and_spread(settings, duration_s):
    cfg = settings.video
    motion, samples, faces = _plan(cfg, duration_s, fps=12)
    hook = cfg.hook_window_s
    hook_samples = [t for t in samples if t < hook]
    body_samples = [t for t in samples if t >= hook]
    # Every frame of a phone clip feeds the motion stream (cuts need consecutive frames).
    assert len(motion) == int(duration_s * 12)
    assert len(hook_samples) == pytest.approx(hook * cfg.hook_sample_fps, abs=1)
    assert 1 <= len(body_samples) <= cfg.max_body_samples + 1
    # The first frame (often black or a fade-in) is not a sample; samples reach the clip's last part.
    assert samples[0] > 0
    assert body_samples[-1] > duration_s - 2 * max(1 / cfg.sample_fps, duration_s / cfg.max_body_samples)
    # The face detector: a bounded number of samples, in the hook and spread over the rest.
    hook_faces = [t for t in faces if t < hook]
    body_faces = [t for t in faces if t >= hook]
    assert set(faces) <= set(samples)
    assert len(hook_faces) == min(cfg.face_hook_samples, len(hook_samples))
    assert len(body_faces) == min(cfg.face_body_samples, len(body_samples))
    if len(body_faces) > 1:
        assert body_faces[-1] - body_faces[0] >= 0.5 * (duration_s - hook)


def test_face_budget_is_configurable(settings):
    cfg = with_overrides(settings, {"video": {"face_hook_samples": 0, "face_body_samples": 1}}).video
    _m, samples, faces = _plan(cfg, 20.0, fps=10)
    assert len(faces) == 1 and faces[0] >= cfg.hook_window_s and len(samples) > 1


def test_a_single_frame_still_gets_a_sample(settings, tmp_path):
    """A clip that ends before the first sample is due is sampled on its last frame."""
    from features.video.extract import extract_video
    from tests.features.video.clips import Shot, write_clip

    path = tmp_path / "short.mp4"
    write_clip(path, [Shot(0.2, 1)], seed=0)
    result = extract_video(path, settings.video)
    assert result.status == "ok" and math.isfinite(result.cues["sharpness"])


def _reference_step(prev: np.ndarray, cur: np.ndarray) -> tuple[float, float, float, float]:
    """The tracker's numbers for one step, written plainly in NumPy (float64 means)."""
    prev, cur = prev.astype(np.float32), cur.astype(np.float32)
    (sx, sy), _ = cv2.phaseCorrelate(prev - prev.mean(), cur - cur.mean())
    h, w = cur.shape
    diff = float(np.abs(cur - prev).mean())
    mx, my = math.ceil(abs(sx)) + 1, math.ceil(abs(sy)) + 1
    moved = cv2.warpAffine(prev, np.float32([[1, 0, sx], [0, 1, sy]]), (w, h))
    residual = float(np.abs(moved[my : h - my, mx : w - mx] - cur[my : h - my, mx : w - mx]).mean())
    return diff, residual, sx / math.hypot(h, w), sy / math.hypot(h, w)


def test_motion_tracker_matches_the_plain_formulas(settings):
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur((rng.random((80, 120)) * 255).astype(np.uint8), (0, 0), 2)
    frames = [scene[10 + dy : 46 + dy, 20 + dx : 84 + dx].copy() for dx, dy in [(0, 0), (2, 1), (3, -1), (1, 0)]]
    frames[2] = cv2.add(frames[2], 25)  # a brightness step between frames changes diff, not the shift
    tracker = MotionTracker(settings.video)
    for i, f in enumerate(frames):
        tracker.add(i / 15, f)
    assert tracker.brightness == pytest.approx([float(f.mean()) for f in frames], abs=1e-6)
    for k in range(1, len(frames)):
        diff, residual, dx, dy = _reference_step(frames[k - 1], frames[k])
        assert tracker.diff[k - 1] == pytest.approx(diff, abs=1e-3)
        assert tracker.residual[k - 1] == pytest.approx(residual, abs=1e-3)
        assert tracker.dx[k - 1] == pytest.approx(dx, abs=1e-6)
        assert tracker.dy[k - 1] == pytest.approx(dy, abs=1e-6)
    # The shift is found: the scene moved right/down, so its content moves left/up in the frame.
    assert tracker.dx[0] < 0 and tracker.dy[0] < 0
