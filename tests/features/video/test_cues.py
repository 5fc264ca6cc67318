"""Per-frame cues move the right way on synthetic frames with known properties."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from features.video.cues.catalogue import CUE_DESCRIPTIONS, CUE_NAMES, VIDEO_FEATURE_DESCRIPTIONS
from features.video.cues.clip import frame_cues
from features.video.cues.composition import blurred_fill_bars, border_bars, text_coverage
from features.video.cues.motion import detect_cuts
from features.video.cues.picture import colourfulness, noise_sigma, sharpness
from tests.features.video.clips import _banner, canvas


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [canvas(seed)[60:380, 60:240].copy() for seed in range(4)]


def _gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def _noisy(bgr: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(bgr + rng.normal(0, sigma, bgr.shape), 0, 255).astype(np.uint8)


def test_added_noise_raises_noise_and_lowers_sharpness(frames):
    for frame in frames:
        clean, noisy = _gray(frame), _gray(_noisy(frame, 8.0))
        assert noise_sigma(noisy, 0.5) > noise_sigma(clean, 0.5) + 4.0
        assert sharpness(noisy, 0.5, 8.0) < sharpness(clean, 0.5, 8.0)


def test_noise_estimate_is_close_to_the_added_sigma(frames):
    rng = np.random.default_rng(1)
    for frame in frames[:2]:
        gray = _gray(frame)
        for sigma in (3.0, 10.0):
            noisy = np.clip(gray + rng.normal(0, sigma, gray.shape), 0, 255).astype(np.uint8)
            assert noise_sigma(noisy, 0.5) == pytest.approx(sigma, rel=0.25)


def test_blur_lowers_sharpness(frames):
    for frame in frames:
        gray = _gray(frame)
        soft, softer = cv2.GaussianBlur(gray, (0, 0), 1.0), cv2.GaussianBlur(gray, (0, 0), 2.5)
        assert sharpness(gray, 0.5, 8.0) > sharpness(soft, 0.5, 8.0) > sharpness(softer, 0.5, 8.0)


def test_desaturating_lowers_colourfulness(frames):
    for frame in frames:
        grey = cv2.merge([_gray(frame)] * 3)
        half = cv2.addWeighted(frame, 0.5, grey, 0.5, 0)
        assert colourfulness(frame) > colourfulness(half) > colourfulness(grey)
        assert colourfulness(grey) < 1.0


def test_text_banner_raises_overlay_coverage(settings, frames):
    cfg = settings.video
    for frame in frames:
        with_text = frame.copy()
        _banner(with_text, 0.0)
        plain, captioned = text_coverage(_gray(frame), cfg), text_coverage(_gray(with_text), cfg)
        assert captioned > plain + 0.01
        assert plain < 0.02


def test_letterbox_bars_are_found_and_kept_out_of_the_picture_cues(settings, frames):
    cfg = settings.video
    frame = frames[0]
    boxed = np.zeros_like(frame)
    picture = cv2.resize(frame, (180, 100))
    boxed[110:210] = picture
    top, bottom, left, right = border_bars(_gray(boxed), cfg)
    assert top == pytest.approx(110, abs=2) and bottom == pytest.approx(110, abs=2)
    assert left == right == 0
    cues = frame_cues(boxed, cfg)
    assert cues["letterbox_share"] == pytest.approx(220 / 320, abs=0.02)
    assert cues["shadows_clipped"] < 0.1  # the black bars are not counted as crushed shadows
    assert border_bars(_gray(frame), cfg) == (0, 0, 0, 0)


def _blurred_fill(picture: np.ndarray, height: int = 320, width: int = 180, sigma: float = 12.0) -> np.ndarray:
    """`picture` (landscape) fitted to the frame's width and centred on a blurred, enlarged copy of itself."""
    ph, pw = picture.shape[:2]
    fitted = cv2.resize(picture, (width, round(ph * width / pw)))
    cover = cv2.resize(picture, (round(pw * height / ph), height))
    x0 = (cover.shape[1] - width) // 2
    frame = cv2.GaussianBlur(cover[:, x0 : x0 + width], (0, 0), sigma)
    y0 = (height - fitted.shape[0]) // 2
    frame[y0 : y0 + fitted.shape[0]] = fitted
    return frame


def test_blurred_fill_bars_are_found_like_black_bars(settings, frames):
    cfg = settings.video
    for i, frame in enumerate(frames):
        landscape = cv2.resize(frame, (320, 180))  # a 16:9 picture from the textured canvas
        boxed = _blurred_fill(landscape, sigma=8.0 + 2 * i)
        inside = round(180 * 180 / 320)
        band = (320 - inside) // 2
        assert border_bars(_gray(boxed), cfg) == (0, 0, 0, 0)  # neither dark nor flat: not black bars
        top, bottom = blurred_fill_bars(_gray(boxed), cfg)
        assert top == pytest.approx(band, abs=2) and bottom == pytest.approx(320 - band - inside, abs=2)
        cues = frame_cues(boxed, cfg, detect_faces=False)
        assert cues["letterbox_share"] == pytest.approx(1 - inside / 320, abs=0.02)
        # the blurred bands are kept out of the picture cues: sharpness is the picture's own
        assert cues["sharpness"] == pytest.approx(frame_cues(landscape, cfg, detect_faces=False)["sharpness"], abs=0.35)


def test_blurred_fill_does_not_fire_on_portrait_pictures(settings, frames):
    cfg = settings.video
    for frame in frames:
        assert blurred_fill_bars(_gray(frame), cfg) == (0, 0)
        # a soft sky over a sharp ground, with a straight horizon: one soft band, not two
        sky = frame.copy()
        sky[:110] = cv2.GaussianBlur(frame, (0, 0), 12)[:110]
        assert blurred_fill_bars(_gray(sky), cfg) == (0, 0)
        # soft at both ends but not centred (a shelf photo, a doorway): not a fitted landscape clip
        ends = frame.copy()
        ends[:60] = cv2.GaussianBlur(frame, (0, 0), 12)[:60]
        ends[200:] = cv2.GaussianBlur(frame, (0, 0), 12)[200:]
        assert blurred_fill_bars(_gray(ends), cfg) == (0, 0)
    flat = np.full((320, 180), 128, np.uint8)
    assert blurred_fill_bars(flat, cfg) == (0, 0)


def test_a_dark_frame_is_not_all_bars(settings):
    night = np.full((320, 180), 12, np.uint8)
    assert border_bars(night, settings.video) == (0, 0, 0, 0)


def test_frame_cues_cover_the_documented_per_frame_names(settings, frames):
    cues = frame_cues(frames[0], settings.video)
    for name in ("sharpness", "noise", "colourfulness", "saturation", "brightness", "contrast",
                 "highlights_clipped", "shadows_clipped", "edge_density", "text_coverage", "letterbox_share"):
        assert name in CUE_DESCRIPTIONS and np.isfinite(cues[name])
    assert cues["faces"] == 0  # random shapes are no face


def test_brightness_contrast_and_clipping_follow_the_pixels(settings):
    cfg = settings.video
    yy, xx = np.mgrid[0:320, 0:180]
    half = np.where((((yy // 40) + (xx // 45)) % 2 == 0)[..., None], 255, 0).astype(np.uint8).repeat(3, 2)
    cues = frame_cues(half, cfg, detect_faces=False)
    assert cues["brightness"] == pytest.approx(0.5, abs=0.01)
    assert cues["contrast"] == pytest.approx(0.5, abs=0.01)
    assert cues["highlights_clipped"] == pytest.approx(0.5, abs=0.01)
    assert cues["shadows_clipped"] == pytest.approx(0.5, abs=0.01)


def test_cut_detector_fires_on_spikes_not_on_steady_change(settings):
    cfg = settings.video
    times = [i / cfg.motion_fps for i in range(60)]
    rng = np.random.default_rng(0)
    scores = list(3.0 + rng.random(60))  # busy handheld shot: steady change everywhere
    for i in (15, 40):
        scores[i] = 40.0
    assert detect_cuts(times, scores, cfg) == [15, 40]
    assert detect_cuts(times, list(3.0 + rng.random(60)), cfg) == []


def test_every_cue_has_a_description_and_prefixed_names_exist():
    assert len(CUE_NAMES) == len(set(CUE_NAMES))
    for name in CUE_NAMES:
        assert CUE_DESCRIPTIONS[name]
        assert f"video_{name}" in VIDEO_FEATURE_DESCRIPTIONS
