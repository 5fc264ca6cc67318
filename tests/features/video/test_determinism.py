"""Same input, same output: cues are exact where they can be, so they do not depend on where NumPy
places a buffer, on OpenCV's thread count or SIMD paths, or on which worker process ran the video."""

from __future__ import annotations

import math
from itertools import pairwise

import cv2
import numpy as np
import pytest

from features.video.cues.clip import frame_cues
from features.video.cues.motion import MotionTracker
from features.video.cues.picture import noise_sigma, sharpness

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)


def phone_frame(seed: int) -> np.ndarray:
    """A phone picture at analysis size: a grainy, textured scene shot large, then downscaled."""
    rng = np.random.default_rng(seed)
    big = (540, 960)
    base = cv2.resize((rng.random((24, 14, 3)) * 255).astype(np.uint8), big, interpolation=cv2.INTER_CUBIC)
    base = cv2.GaussianBlur(base, (0, 0), 6)
    for _ in range(40):
        centre = (int(rng.integers(0, big[0])), int(rng.integers(0, big[1])))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(base, centre, int(rng.integers(5, 60)), colour, -1, lineType=cv2.LINE_AA)
    base = np.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(np.uint8)
    return cv2.resize(base, (180, 320), interpolation=cv2.INTER_AREA)


def _reference(gray: np.ndarray, quantile: float, noise_k: float) -> tuple[float, float]:
    """(noise, sharpness) by the documented formulas in float64 with correctly rounded square roots."""
    g = gray.astype(np.float64)
    grad = np.sqrt(cv2.Sobel(g, cv2.CV_64F, 1, 0) ** 2 + cv2.Sobel(g, cv2.CV_64F, 0, 1) ** 2)
    sub = grad[::2, ::2].ravel()
    k = int(quantile * (sub.size - 1))
    flat = grad <= np.partition(sub, k)[k]
    response = np.abs(cv2.filter2D(g, -1, _IMMERKAER))[1:-1, 1:-1]
    noise = math.sqrt(math.pi / 2) * response[flat[1:-1, 1:-1]].mean() / 6.0
    lap2 = cv2.Laplacian(g, cv2.CV_64F, ksize=1) ** 2
    floor = noise_k * lap2[flat].mean()
    return noise, math.log10(1.0 + np.maximum(lap2 - floor, 0.0).mean())


@pytest.mark.parametrize("seed", range(8))
def test_noise_and_sharpness_are_the_exact_formulas(settings, seed):
    """Bit for bit for noise (a mean of whole numbers): the flat-area mask is exact. It was not with
    `cv2.magnitude`, whose IPP square roots depend on the output buffer's alignment."""
    cfg = settings.video
    gray = cv2.cvtColor(phone_frame(seed), cv2.COLOR_BGR2GRAY)
    noise, sharp = _reference(gray, cfg.noise_flat_quantile, cfg.sharpness_noise_k)
    assert noise_sigma(gray, cfg.noise_flat_quantile) == noise
    assert sharpness(gray, cfg.noise_flat_quantile, cfg.sharpness_noise_k) == pytest.approx(sharp, rel=1e-12)


def test_frame_cues_do_not_depend_on_buffer_placement_or_threads(settings):
    frames = [phone_frame(seed) for seed in range(3)]
    first = [frame_cues(f, settings.video) for f in frames]
    threads = cv2.getNumThreads()
    keep = []
    try:
        for k in range(1, 12):
            cv2.setNumThreads(1 + k % 4)
            keep.append(np.empty(16 * k + 8 * (k % 3), np.uint8))  # moves where later buffers start
            for f, expected in zip(frames, first, strict=True):
                assert frame_cues(f.copy(), settings.video) == expected
    finally:
        cv2.setNumThreads(threads)


def test_motion_differences_are_exact(settings):
    rng = np.random.default_rng(5)
    frames = [(rng.random((64, 36)) * 255).astype(np.uint8) for _ in range(4)]
    tracker = MotionTracker(settings.video)
    for i, f in enumerate(frames):
        tracker.add(i / 15, f)
    exact = [np.abs(b.astype(np.int64) - a).sum() / a.size for a, b in pairwise(frames)]
    assert tracker.diff == exact
