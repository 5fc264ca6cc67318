"""Synthetic clips with known properties, written as real H.264 files with PyAV (small: 180x320).

A clip is a list of shots; each shot films a textured canvas through a camera path (steady, panning or
handheld shake), optionally with noise, blur, a text banner or exposure drift. Hard cuts fall exactly
at shot boundaries, so their times are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

W, H, FPS = 180, 320, 30


def canvas(seed: int, w: int = W, h: int = H, margin: int = 60, saturation: float = 1.0) -> np.ndarray:
    """A scene bigger than the frame: smooth shading plus random shapes in random colours."""
    rng = np.random.default_rng(seed)
    cw, ch = w + 2 * margin, h + 2 * margin
    shade = cv2.resize((rng.random((12, 8, 3)) * 255).astype(np.uint8), (cw, ch), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(shade, (0, 0), 8)
    for _ in range(60):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, cw)), int(rng.integers(0, ch))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(4, 30)), color, -1, lineType=cv2.LINE_AA)
        else:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(4, 50)), y + int(rng.integers(4, 50))), color, -1)
    if saturation != 1.0:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
        img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    return img


@dataclass
class Shot:
    seconds: float
    seed: int
    shake_px: float = 0.0  # std of the frame-to-frame jitter (handheld)
    pan_px_s: float = 0.0  # slow drift of the camera
    noise: float = 0.0  # std of added Gaussian noise (8-bit levels)
    blur: float = 0.0  # Gaussian blur sigma (pixels)
    text: bool = False  # a caption banner across the lower third
    exposure_drift: float = 0.0  # brightness swing (fraction) over the shot
    saturation: float = 1.0
    moving_object: bool = True


def _banner(frame: np.ndarray, t: float) -> None:
    h, w = frame.shape[:2]
    y0 = int(h * 0.62)
    cv2.rectangle(frame, (8, y0), (w - 8, y0 + 58), (20, 20, 20), -1)
    cv2.putText(frame, "SALE 50% OFF", (14, y0 + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    cv2.putText(frame, "shop the link now", (14, y0 + 48), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 230, 255), 1)


def shot_frames(shot: Shot, rng: np.random.Generator, w: int = W, h: int = H, fps: int = FPS):
    """Yield the BGR frames of one shot."""
    margin = 60
    scene = canvas(shot.seed, w, h, margin, shot.saturation)
    n = max(1, round(shot.seconds * fps))
    jitter = np.zeros(2)
    for i in range(n):
        t = i / fps
        if shot.shake_px:
            # Handheld: a mean-reverting random walk, so the frame shakes but stays on the scene.
            jitter = 0.6 * jitter + rng.normal(0, shot.shake_px, 2)
        x = margin + shot.pan_px_s * t + jitter[0]
        y = margin + jitter[1]
        m = np.float32([[1, 0, -x], [0, 1, -y]])
        frame = cv2.warpAffine(scene, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        if shot.moving_object:
            cx = int(w * (0.2 + 0.6 * ((t * 0.3) % 1.0)))
            cv2.circle(frame, (cx, int(h * 0.3)), 12, (240, 240, 240), -1, lineType=cv2.LINE_AA)
        if shot.exposure_drift:
            gain = 1.0 + shot.exposure_drift * np.sin(2 * np.pi * t / max(shot.seconds, 1e-6))
            frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        if shot.blur:
            frame = cv2.GaussianBlur(frame, (0, 0), shot.blur)
        if shot.text:
            _banner(frame, t)
        if shot.noise:
            frame = np.clip(frame + rng.normal(0, shot.noise, frame.shape), 0, 255).astype(np.uint8)
        yield frame


def write_clip(
    path: Path,
    shots: list[Shot],
    fps: int = FPS,
    size: tuple[int, int] = (W, H),
    rotation: int = 0,
    seed: int = 0,
    crf: int = 20,
    faststart: bool = False,
) -> list[float]:
    """Write the shots as one H.264 .mp4; return the cut times (seconds)."""
    rng = np.random.default_rng(seed)
    w, h = size
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "g": str(fps)}
        if rotation:
            stream.set_display_rotation(rotation)
        for shot in shots:
            for frame in shot_frames(shot, rng, w, h, fps):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    cuts, t = [], 0.0
    for shot in shots[:-1]:
        t += max(1, round(shot.seconds * fps)) / fps
        cuts.append(t)
    return cuts


def write_audio_only(path: Path, seconds: float = 1.0) -> None:
    """An .m4a-style file holding only an AAC tone (no video stream)."""
    rate = 16000
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        samples = (np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate) * 0.3).astype(np.float32)
        for start in range(0, samples.size, 1024):
            chunk = samples[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def produced(seed: int, seconds: float = 6.0) -> list[Shot]:
    """Studio-style: a cut every ~1 s, locked-off camera, graded colour, a caption banner, clean."""
    rng = np.random.default_rng(seed)
    shots, t = [], 0.0
    while t < seconds - 0.1:
        length = float(min(seconds - t, rng.uniform(0.7, 1.4)))
        shots.append(Shot(length, seed * 100 + len(shots), text=True, saturation=1.4))
        t += length
    return shots


def native(seed: int, seconds: float = 6.0) -> list[Shot]:
    """Phone-style: one handheld take with grain and drifting exposure, muted colour."""
    return [Shot(seconds, seed * 100, shake_px=2.5, pan_px_s=6.0, noise=6.0, exposure_drift=0.15, saturation=0.6)]
