"""The renderer: real H.264 files whose look follows the hidden traits, measured with plain OpenCV."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sparkpick.sources.demo.clip import ClipSpec
from sparkpick.sources.demo.drawing import draw_face
from sparkpick.sources.demo.render import render_frames, write_clip
from tests.sparkpick.sources.demo.measures import global_motion, noise_level

FACES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _spec(tmp_path: Path, **kw) -> ClipSpec:
    base = dict(post_id="7600000000000000001", path=str(tmp_path / "a.mp4"), seed=5, width=180, height=320,
                fps=10, n_frames=40, polish=0.3, produced=False, hook=0.5, authenticity=0.7, topic_fit=0.6,
                primary=(60, 40, 200), accent=(80, 200, 250), initials="GB", skin=(150, 170, 220))
    base.update(kw)
    return ClipSpec(**base)


def _has_face(frame: np.ndarray) -> bool:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return len(FACES.detectMultiScale(gray, 1.1, 3, minSize=(24, 24))) > 0


@pytest.mark.parametrize("skin", [(170, 190, 235), (120, 150, 200), (75, 105, 160)])
@pytest.mark.parametrize("width", [60, 80, 95])
def test_drawn_face_is_found_by_the_haar_cascade(skin: tuple[int, int, int], width: int) -> None:
    img = np.full((320, 180, 3), (110, 130, 140), np.uint8)
    draw_face(img, 90, 130, width, skin, (30, 30, 40), 0.4)
    assert _has_face(img)
    assert not _has_face(np.full((320, 180, 3), (110, 130, 140), np.uint8))


def test_clip_opens_in_opencv_with_the_promised_shape(tmp_path: Path) -> None:
    spec = _spec(tmp_path, n_frames=37, fps=12)
    write_clip(spec)
    cap = cv2.VideoCapture(spec.path)
    assert cap.isOpened()
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 180 and int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 320
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12)
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    assert decoded == 37
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_same_spec_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    a, b = _spec(tmp_path), _spec(tmp_path, path=str(tmp_path / "b.mp4"))
    c = _spec(tmp_path, path=str(tmp_path / "c.mp4"), seed=6)
    for spec in (a, b, c):
        write_clip(spec)

    def digest(p: str) -> str:
        return hashlib.sha256(Path(p).read_bytes()).hexdigest()

    assert digest(a.path) == digest(b.path)
    assert digest(a.path) != digest(c.path)


def _early_face_share(tmp_path: Path, hook: float, produced: bool) -> float:
    hits = []
    for seed in range(8):
        spec = _spec(tmp_path, seed=seed, hook=hook, produced=produced, polish=0.8 if produced else 0.2,
                     n_frames=30)
        frames = list(render_frames(spec))[:25]
        hits.append(np.mean([_has_face(f) for f in frames[::4]]))
    return float(np.mean(hits))


def test_a_strong_hook_shows_a_face_in_the_first_seconds(tmp_path: Path) -> None:
    assert _early_face_share(tmp_path, 0.95, False) > _early_face_share(tmp_path, 0.05, False) + 0.2


def _early_activity(spec: ClipSpec) -> float:
    """Mean absolute change between frames in the first 2.5 seconds (motion, cuts, text appearing)."""
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in render_frames(spec)][:25]
    return float(np.mean([np.abs(a - b).mean() for a, b in pairwise(frames)]))


def test_a_strong_hook_moves_more_in_the_first_seconds(tmp_path: Path) -> None:
    for produced in (False, True):
        strong = np.mean([_early_activity(_spec(tmp_path, seed=s, hook=0.95, produced=produced)) for s in range(8)])
        weak = np.mean([_early_activity(_spec(tmp_path, seed=s, hook=0.05, produced=produced)) for s in range(8)])
        assert strong > weak, produced


def test_polish_is_a_continuum_of_cues(tmp_path: Path) -> None:
    """Within native footage, rougher clips shake more and are noisier than smoother ones."""

    def measures(polish: float) -> tuple[float, float]:
        motion, noise = [], []
        for seed in range(4):
            # No captions (low authenticity, weak hook): only the camera moves the picture.
            spec = _spec(tmp_path, seed=seed, polish=polish, hook=0.05, authenticity=0.01)
            gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in render_frames(spec)]
            smooth = [cv2.GaussianBlur(g, (0, 0), 1.5) for g in gray]  # track the scene, not the sensor noise
            motion.append(np.median([global_motion(a, b) for a, b in pairwise(smooth)]))
            noise.append(np.mean([noise_level(g) for g in gray]))
        return float(np.mean(motion)), float(np.mean(noise))

    rough, smooth = measures(0.05), measures(0.45)
    assert rough[0] > smooth[0]
    assert rough[1] > smooth[1]


def test_render_frames_match_the_spec(tmp_path: Path) -> None:
    spec = replace(_spec(tmp_path), n_frames=13)
    frames = list(render_frames(spec))
    assert len(frames) == 13
    assert all(f.shape == (320, 180, 3) and f.dtype == np.uint8 for f in frames)


@pytest.mark.parametrize("n_frames", [1, 2, 7])
@pytest.mark.parametrize("produced", [False, True])
def test_very_short_clips_render(tmp_path: Path, n_frames: int, produced: bool) -> None:
    for seed in range(10):
        frames = list(render_frames(_spec(tmp_path, seed=seed, n_frames=n_frames, produced=produced, hook=0.05,
                                          authenticity=0.99, polish=0.6 if produced else 0.1)))
        assert len(frames) == n_frames
