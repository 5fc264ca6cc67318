"""Render a demo post's video from its hidden traits (OpenCV drawing and numpy), encoded to H.264 by PyAV.

Two looks, mixed along the polish continuum:
- produced (studio): tripod-steady camera, hard cuts between differently coloured shots, saturated
  colour, clean text banners and a logo, even light, no sensor noise;
- native (phone): one handheld take with shake (a random walk with jitter), sensor noise, natural light
  with exposure drift, a face close to the camera, now and then a hand-written caption.
Cue intensities (cut rate, saturation, shake, noise, drift, graphics) scale with polish, so posts near the
middle carry a bit of both. A strong hook shows in the first 2-3 seconds: a face from the first frame, a
zoom punch or a whip of the camera, bold text; a weak one opens on an empty room, a logo slate or a fade.
Topic fit decides how much the product is on screen; authenticity how much a person talks to the camera.

Everything is drawn from the clip's own seed, so a clip is identical whichever worker renders it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

from sparkpick.sources.demo import names

BGR = tuple[int, int, int]
# Extra canvas around the frame, so that handheld shake can move the crop without borders.
MARGIN = 12
HOOK_S = 2.5
DARK: BGR = (20, 20, 25)
WHITE: BGR = (245, 245, 245)


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one post's video, independent of any table."""

    post_id: str
    path: str
    seed: int
    width: int
    height: int
    fps: int
    n_frames: int
    polish: float
    produced: bool
    hook: float
    authenticity: float
    topic_fit: float
    primary: BGR
    accent: BGR
    initials: str
    # The creator's skin tone; None for brand accounts (a different model in each clip).
    skin: BGR | None
    preset: str = "ultrafast"
    crf: int = 32
    keyframe_interval_s: float = 2.0


def _clip8(v: float) -> int:
    return int(max(0, min(255, round(v))))


@lru_cache(maxsize=4096)
def _scale(c: BGR, f: float) -> BGR:
    return (_clip8(c[0] * f), _clip8(c[1] * f), _clip8(c[2] * f))


def _hsv(h: float, s: float, v: float) -> BGR:
    px = np.uint8([[[int(h * 179) % 180, _clip8(s * 255), _clip8(v * 255)]]])
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return (int(b), int(g), int(r))


def _desaturate(c: BGR, sat: float) -> BGR:
    grey = 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]
    return (_clip8(grey + (c[0] - grey) * sat), _clip8(grey + (c[1] - grey) * sat), _clip8(grey + (c[2] - grey) * sat))


def _gradient(h: int, w: int, top: BGR, bottom: BGR) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    column = (np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t).astype(np.uint8)
    return cv2.resize(column, (w, h), interpolation=cv2.INTER_NEAREST)


def draw_face(img: np.ndarray, cx: int, cy: int, fw: int, skin: BGR, hair: BGR, mouth_open: float) -> None:
    """A frontal face: hair, skin oval, eye sockets, brows, eyes, nose shadow and mouth, shoulders.

    Proportions follow a real face closely enough for OpenCV's Haar frontal-face cascade to find it.
    """
    fh = int(fw * 1.3)
    hw, hh = fw // 2, fh // 2
    cv2.rectangle(img, (cx - int(0.9 * fw), cy + hh + int(0.1 * fh)), (cx + int(0.9 * fw), img.shape[0] + fh),
                  _scale(hair, 1.8), -1)
    cv2.rectangle(img, (cx - int(0.22 * fw), cy + int(0.3 * hh)), (cx + int(0.22 * fw), cy + hh + int(0.15 * fh)),
                  _scale(skin, 0.8), -1)
    cv2.ellipse(img, (cx, cy - int(0.12 * fh)), (int(hw * 1.12), hh), 0, 180, 360, hair, -1)
    cv2.ellipse(img, (cx, cy), (hw, hh), 0, 0, 360, skin, -1)
    ey, ex = cy - int(0.08 * fh), int(0.21 * fw)
    brow = max(2, fw // 18)
    for s in (-1, 1):
        cv2.ellipse(img, (cx + s * ex, ey), (int(0.13 * fw), int(0.07 * fh)), 0, 0, 360, _scale(skin, 0.75), -1)
        cv2.line(img, (cx + s * int(0.1 * fw), ey - int(0.1 * fh)), (cx + s * int(0.34 * fw), ey - int(0.11 * fh)),
                 _scale(hair, 0.8), brow)
        cv2.ellipse(img, (cx + s * ex, ey), (int(0.09 * fw), int(0.035 * fh)), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(img, (cx + s * ex, ey), max(2, int(0.045 * fw)), (40, 30, 30), -1)
    cv2.ellipse(img, (cx, cy + int(0.1 * fh)), (int(0.08 * fw), int(0.04 * fh)), 0, 0, 360, _scale(skin, 0.7), -1)
    mouth_h = max(2, int((0.02 + 0.06 * mouth_open) * fh))
    cv2.ellipse(img, (cx, cy + int(0.27 * fh)), (int(0.17 * fw), mouth_h), 0, 0, 360, (60, 50, 140), -1)


def draw_product(img: np.ndarray, cx: int, cy: int, size: int, primary: BGR, accent: BGR) -> None:
    """The advertiser's product: a bottle-like pack in brand colours with a label band and a cap."""
    w, h = size // 2, size
    cv2.rectangle(img, (cx - w // 2, cy - h // 2), (cx + w // 2, cy + h // 2), primary, -1)
    cv2.rectangle(img, (cx - w // 2, cy - h // 8), (cx + w // 2, cy + h // 8), accent, -1)
    cv2.rectangle(img, (cx - w // 4, cy - h // 2 - h // 6), (cx + w // 4, cy - h // 2), DARK, -1)


@dataclass(frozen=True)
class Overlay:
    """Text or a logo pre-rendered into a patch: pasted (colour where mask) onto frames in a time window."""

    y0: int
    x0: int
    patch: np.ndarray
    mask: np.ndarray  # uint8, 1 where the patch shows
    start: int
    stop: int

    def apply(self, frame: np.ndarray, i: int) -> None:
        if self.start <= i < self.stop:
            h, w = self.mask.shape
            cv2.copyTo(self.patch, self.mask, frame[self.y0:self.y0 + h, self.x0:self.x0 + w])  # in place


def _text_overlay(text: str, frame_w: int, frame_h: int, y_frac: float, font: int, scale: float,
                  colour: BGR, outline: BGR, thickness: int, start: int, stop: int, box: BGR | None = None
                  ) -> Overlay:
    """Text centred horizontally at `y_frac` of the height, shrunk to fit, with an outline or a box."""
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    if tw > frame_w - 8:
        scale *= (frame_w - 8) / tw
        (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    pad = 6 if box else thickness + 2
    ph, pw = th + base + 2 * pad, min(tw + 2 * pad, frame_w)
    patch = np.zeros((ph, pw, 3), np.uint8)
    mask = np.zeros((ph, pw), np.uint8)
    org = (pad, pad + th)
    if box is not None:
        patch[:] = box
        mask[:] = 1
    else:
        cv2.putText(patch, text, org, font, scale, outline, thickness + 3, cv2.LINE_AA)
        cv2.putText(mask, text, org, font, scale, 1, thickness + 3, cv2.LINE_AA)
    cv2.putText(patch, text, org, font, scale, colour, thickness, cv2.LINE_AA)
    cv2.putText(mask, text, org, font, scale, 1, thickness, cv2.LINE_AA)
    y0 = int(np.clip(y_frac * frame_h - ph / 2, 0, frame_h - ph))
    x0 = (frame_w - pw) // 2
    return Overlay(y0, x0, patch, mask, start, stop)


def _logo_overlay(spec: ClipSpec, start: int, stop: int) -> Overlay:
    r = max(10, spec.width // 10)
    size = 2 * r + 2
    patch = np.zeros((size, size, 3), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(patch, (r + 1, r + 1), r, spec.primary, -1, cv2.LINE_AA)
    cv2.circle(mask, (r + 1, r + 1), r, 1, -1, cv2.LINE_AA)
    scale = r / 22
    (tw, th), _ = cv2.getTextSize(spec.initials, cv2.FONT_HERSHEY_DUPLEX, scale, 1)
    cv2.putText(patch, spec.initials, (r + 1 - tw // 2, r + 1 + th // 2), cv2.FONT_HERSHEY_DUPLEX, scale,
                spec.accent, 1, cv2.LINE_AA)
    return Overlay(6, spec.width - size - 6, patch, mask, start, stop)


class _Noise:
    """Sensor noise, fresh-looking in every frame at little cost: two pre-drawn noise fields, each used
    as is or mirrored (eight variants), picked at random per frame and added/subtracted with saturation."""

    def __init__(self, rng: np.random.Generator, h: int, w: int, sd: float, n_frames: int) -> None:
        self.sd = sd
        draws = [rng.standard_normal((h, w, 3), dtype=np.float32) * sd for _ in range(2)] if sd > 0.3 else []
        variants = [(d, flip) for d in draws for flip in (None, 0, 1, -1)]
        self.pos = [self._flip(np.clip(d, 0, 255).astype(np.uint8), f) for d, f in variants]
        self.neg = [self._flip(np.clip(-d, 0, 255).astype(np.uint8), f) for d, f in variants]
        self.order = rng.integers(0, max(1, len(self.pos)), size=n_frames)

    @staticmethod
    def _flip(img: np.ndarray, code: int | None) -> np.ndarray:
        return img if code is None else np.ascontiguousarray(cv2.flip(img, code))

    def apply(self, frame: np.ndarray, k: int) -> None:
        if self.pos:
            j = int(self.order[k])
            cv2.add(frame, self.pos[j], frame)
            cv2.subtract(frame, self.neg[j], frame)


class NativeClip:
    """One handheld take: a person close to the camera in a room, natural light, shake, noise, drift."""

    def __init__(self, spec: ClipSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        w, h, n, fps = spec.width, spec.height, spec.n_frames, spec.fps
        rough = (1.0 - spec.polish) ** 1.2
        hook_n = min(n, round(HOOK_S * fps))
        # Natural, muted room colours; saturation rises with polish.
        sat = 0.12 + 0.6 * spec.polish
        hue = rng.uniform(0, 1)
        warm = _hsv(hue, sat, rng.uniform(0.55, 0.8))
        cool = _hsv((hue + rng.uniform(0.05, 0.2)) % 1, sat, rng.uniform(0.3, 0.55))
        cw, ch = w + 2 * MARGIN, h + 2 * MARGIN
        bg = _gradient(ch, cw, warm, cool)
        for _ in range(int(rng.integers(3, 6))):  # furniture, a window, a door
            x0, y0 = int(rng.integers(0, cw - 20)), int(rng.integers(0, ch - 20))
            shade = _hsv(rng.uniform(0, 1), sat * 0.8, rng.uniform(0.25, 0.9))
            x1, y1 = x0 + int(rng.integers(20, max(21, cw // 2))), y0 + int(rng.integers(20, max(21, ch // 2)))
            cv2.rectangle(bg, (x0, y0), (x1, y1), shade, -1)
        for _ in range(int(rng.integers(6, 14))):  # clutter: frames, books, plants, shelf edges
            x0, y0 = int(rng.integers(0, cw - 6)), int(rng.integers(0, ch - 6))
            shade = _hsv(rng.uniform(0, 1), sat, rng.uniform(0.15, 0.95))
            size = int(rng.integers(4, max(5, cw // 6)))
            if rng.random() < 0.5:
                cv2.rectangle(bg, (x0, y0), (x0 + size, y0 + int(size * rng.uniform(0.3, 2.0))), shade, -1)
            else:
                cv2.line(bg, (x0, y0), (x0 + 3 * size, y0), shade, int(rng.integers(1, 4)))
        # A phone's depth of field and processing soften the room a little, not to a featureless wash.
        self.bg = cv2.GaussianBlur(bg, (0, 0), 0.8 + 1.2 * rough)
        self.skin: BGR = spec.skin or _skin_from(rng)
        self.hair: BGR = _hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.3))
        self.face_w = int(w * rng.uniform(0.42, 0.56))
        self.face_x = w // 2 + int(rng.integers(-8, 9))
        self.face_y = int(h * rng.uniform(0.33, 0.42))
        # When the person is on screen (talking to the camera is what authenticity looks like).
        on = np.ones(n, bool)
        face_early = rng.random() < 0.2 + 0.8 * spec.hook
        self.enter = 0 if face_early else int(rng.integers(hook_n // 2, max(hook_n // 2 + 1, min(n, 4 * fps))))
        away = rng.random() > spec.authenticity  # less authentic: the person steps away from the camera
        if away and n > 3 * fps:
            a0 = int(rng.integers(hook_n, max(hook_n + 1, n - fps)))
            on[a0:a0 + int(rng.integers(fps, 3 * fps))] = False
        self.on = on
        self.mouth = np.abs(np.sin(np.arange(n) * rng.uniform(1.5, 2.8) + rng.uniform(0, 6))) * (
            rng.random(n) < 0.8)
        # Handheld camera: a damped random walk plus jitter; a strong hook adds a whip in the first second.
        # (Damping keeps the frame within the margin: position sd ~3 px times `amp`, steps of ~1-3 px.)
        amp = 1.45 * rough * rng.uniform(0.7, 1.3)
        pos, vel = np.zeros(2), np.zeros(2)
        shake = np.zeros((n, 2))
        for i in range(n):
            vel = 0.6 * vel + rng.normal(0, amp, 2)
            pos = 0.8 * pos + vel
            shake[i] = pos + rng.normal(0, 0.5 * amp, 2)
        self.punch = face_early and rng.random() < spec.hook
        if self.punch:  # a quick whip/zoom at the start
            k = min(n, fps)
            shake[:k] += np.linspace(MARGIN - 1, 0, k)[:, None] * rng.choice([-1, 1], 2)
        self.shake = np.clip(np.round(shake), -MARGIN, MARGIN).astype(int)
        self.sway = np.round(4 * np.sin(np.arange(n) / fps * rng.uniform(0.6, 1.4))).astype(int)
        # Exposure drift: a slow mean-reverting walk in gain, larger for rougher footage.
        gain = np.ones(n)
        g = 0.0
        for i in range(n):
            g = 0.97 * g + rng.normal(0, 0.015 * rough)
            gain[i] = 1.0 + g
        self.gain = np.clip(gain, 0.75, 1.25)
        self.noise = _Noise(rng, h, w, 1.0 + 7.0 * rough ** 1.3, n)
        self.product_from = n
        if rng.random() < 0.15 + 0.8 * spec.topic_fit:
            self.product_from = int(rng.integers(0, max(1, n // 2))) if spec.hook > 0.5 else int(
                rng.integers(hook_n, max(hook_n + 1, n)))
        self.overlays: list[Overlay] = []
        if rng.random() < spec.hook ** 1.5:
            text = names.HOOK_TEXTS[rng.integers(len(names.HOOK_TEXTS))]
            self.overlays.append(_text_overlay(text, w, h, 0.12, cv2.FONT_HERSHEY_DUPLEX, 0.9, WHITE, DARK, 2,
                                               0, hook_n))
        if rng.random() < 0.5 * spec.authenticity * (1.2 - spec.polish):  # now and then
            text = names.HANDWRITTEN[rng.integers(len(names.HANDWRITTEN))]
            s0 = int(rng.integers(0, max(1, n // 2)))
            self.overlays.append(_text_overlay(text, w, h, rng.uniform(0.6, 0.8), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                                               1.0, WHITE, DARK, 1, s0, s0 + int(rng.integers(min(2 * fps, n), n + 1))))

    def frame(self, i: int) -> np.ndarray:
        spec = self.spec
        dx, dy = self.shake[i]
        # Crop the room first, then draw in frame coordinates (the same pixels as drawing on the room).
        frame = self.bg[MARGIN + dy:MARGIN + dy + spec.height, MARGIN + dx:MARGIN + dx + spec.width].copy()
        if self.on[i] and i >= self.enter:
            slide = 0
            if self.enter > 0:  # walking into frame from the side
                slide = int(max(0, spec.width * (1 - (i - self.enter) / max(1, spec.fps))))
            fw = self.face_w
            if self.punch and i < spec.fps:
                fw = int(fw * (1.3 - 0.3 * i / spec.fps))
            draw_face(frame, self.face_x + self.sway[i] + slide - dx, self.face_y - dy, fw, self.skin, self.hair,
                      float(self.mouth[i]))
        if i >= self.product_from:
            draw_product(frame, int(spec.width * 0.72) + self.sway[i] - dx, int(spec.height * 0.75) - dy,
                         int(spec.width * 0.3), spec.primary, spec.accent)
        if abs(self.gain[i] - 1.0) > 0.01:
            cv2.convertScaleAbs(frame, frame, alpha=float(self.gain[i]))
        for overlay in self.overlays:
            overlay.apply(frame, i)
        self.noise.apply(frame, i)
        return frame


def _skin_from(rng: np.random.Generator) -> BGR:
    t = rng.uniform(0, 1)
    light, deep = np.array([170, 190, 235]), np.array([75, 105, 160])
    return tuple(int(v) for v in light * (1 - t) + deep * t)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Shot:
    start: int
    stop: int
    kind: str  # "hero" (product), "model" (a face), "card" (a text card), "shapes" (lifestyle motion), "slate"
    bg: np.ndarray
    colour: BGR
    zoom: float


class ProducedClip:
    """Studio footage: steady shots cut hard against each other, saturated, with banners and a logo."""

    KINDS = ("hero", "model", "shapes", "card")

    def __init__(self, spec: ClipSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        w, h, n, fps = spec.width, spec.height, spec.n_frames, spec.fps
        hook_n = min(n, round(HOOK_S * fps))
        self.skin: BGR = spec.skin or _skin_from(rng)
        self.hair: BGR = _hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.3))
        sat = 0.45 + 0.55 * spec.polish
        mean_shot_s = max(0.6, 3.0 - 2.2 * spec.polish)
        weights = np.array([0.3 + spec.topic_fit, 0.2 + spec.authenticity, 0.4, 0.2 + 0.3 * spec.polish])
        shots: list[_Shot] = []
        t = 0
        strong_open = rng.random() < spec.hook
        if not strong_open and rng.random() < 0.7:  # weak hook: a static logo slate, fading in
            stop = min(n, int(rng.integers(fps, 3 * fps)))
            shots.append(_Shot(0, stop, "slate", np.full((h, w, 3), spec.primary, np.uint8), spec.accent, 0.0))
            t = stop
        hue = rng.uniform(0, 1)
        while t < n:
            fast = strong_open and t < hook_n
            length = rng.uniform(0.35, 0.6) * fps if fast else rng.gamma(4.0, mean_shot_s * fps / 4.0)
            stop = min(n, t + max(3, int(length)))
            kind = self.KINDS[rng.choice(len(self.KINDS), p=weights / weights.sum())]
            if shots and kind == shots[-1].kind:
                kind = self.KINDS[(self.KINDS.index(kind) + 1) % len(self.KINDS)]
            hue = (hue + rng.uniform(0.18, 0.5)) % 1.0  # each shot graded differently
            top = _hsv(hue, sat, rng.uniform(0.75, 0.98))
            bottom = _hsv((hue + 0.08) % 1, sat, rng.uniform(0.45, 0.75))
            zoom = rng.uniform(0.0, 0.25) * (2.0 if fast else 1.0)
            shots.append(_Shot(t, stop, kind, _gradient(h, w, top, bottom), _hsv((hue + 0.5) % 1, sat, 0.95), zoom))
            t = stop
        self.shots = shots
        self.fade = 0 if strong_open else int(rng.integers(0, fps))
        # Slightly less polished studio work floats on a gimbal; top polish is locked off.
        drift = max(0.0, 0.7 - spec.polish) * 6
        self.float = np.round(drift * np.sin(np.arange(n) / fps * rng.uniform(0.5, 1.0))).astype(int)
        self.noise = _Noise(rng, h, w, max(0.0, 3.0 * (0.65 - spec.polish)), n)
        self.overlays: list[Overlay] = []
        if rng.random() < 0.4 + 0.6 * spec.polish:
            self.overlays.append(_logo_overlay(spec, 0, n))
        for shot in shots:
            if shot.kind == "card" or rng.random() < 0.25 + 0.5 * spec.polish:
                text = names.PRODUCED_BANNERS[rng.integers(len(names.PRODUCED_BANNERS))]
                y = 0.45 if shot.kind == "card" else 0.86
                self.overlays.append(_text_overlay(text, w, h, y, cv2.FONT_HERSHEY_DUPLEX, 0.8, WHITE, DARK, 2,
                                                   shot.start, shot.stop, box=spec.accent if shot.kind != "card"
                                                   else spec.primary))
        if strong_open and rng.random() < spec.hook:
            text = names.HOOK_TEXTS[rng.integers(len(names.HOOK_TEXTS))]
            self.overlays.append(_text_overlay(text, w, h, 0.14, cv2.FONT_HERSHEY_DUPLEX, 0.9, WHITE, DARK, 2,
                                               0, hook_n))
        self._shot_of = np.zeros(n, int)
        for k, shot in enumerate(shots):
            self._shot_of[shot.start:shot.stop] = k

    def frame(self, i: int) -> np.ndarray:
        spec = self.spec
        w, h = spec.width, spec.height
        shot = self.shots[self._shot_of[i]]
        frame = shot.bg.copy()
        progress = (i - shot.start) / max(1, shot.stop - shot.start)
        grow = 1.0 + shot.zoom * progress  # smooth push-in: motion without shake
        x = w // 2 + int(self.float[i])
        if shot.kind == "hero":
            draw_product(frame, x, int(h * 0.5), int(w * 0.55 * grow), spec.primary, spec.accent)
        elif shot.kind == "model":
            draw_face(frame, x, int(h * 0.4), int(w * 0.42 * grow), self.skin, self.hair, 0.2)
        elif shot.kind == "shapes":
            cx = int(w * (0.2 + 0.6 * progress))
            cv2.circle(frame, (cx, int(h * 0.35)), int(w * 0.22 * grow), shot.colour, -1)
            cv2.rectangle(frame, (w - cx - 30, int(h * 0.55)), (w - cx + 30, int(h * 0.7)), spec.accent, -1)
            draw_product(frame, w - cx, int(h * 0.62), int(w * 0.3), spec.primary, spec.accent)
        for overlay in self.overlays:
            overlay.apply(frame, i)
        if i < self.fade:
            frame = cv2.convertScaleAbs(frame, alpha=i / self.fade)
        self.noise.apply(frame, i)
        return frame


def render_frames(spec: ClipSpec) -> Iterator[np.ndarray]:
    """The clip's frames (BGR, height x width x 3), exactly `n_frames` of them."""
    rng = np.random.default_rng(spec.seed)
    clip = ProducedClip(spec, rng) if spec.produced else NativeClip(spec, rng)
    for i in range(spec.n_frames):
        yield clip.frame(i)


def _yuv_frame(bgr: np.ndarray) -> av.VideoFrame:
    """A BGR image as a yuv420p PyAV frame, copied straight into the frame's (padded) planes."""
    h, w = bgr.shape[:2]
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    vf = av.VideoFrame(w, h, "yuv420p")
    chroma = (h // 2) * (w // 2)
    parts = (yuv[:h], yuv[h:].reshape(-1)[:chroma].reshape(h // 2, w // 2),
             yuv[h:].reshape(-1)[chroma:].reshape(h // 2, w // 2))
    for plane, part in zip(vf.planes, parts, strict=True):
        view = np.frombuffer(plane, np.uint8).reshape(part.shape[0], -1)
        view[:, :part.shape[1]] = part
    return vf


def write_clip(spec: ClipSpec) -> str:
    """Render and encode one clip to `spec.path` (written to a temporary name, then moved into place)."""
    cv2.setNumThreads(1)
    path = Path(spec.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.mp4")
    try:
        with av.open(str(tmp), "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=Fraction(spec.fps, 1))
            stream.width, stream.height = spec.width, spec.height
            stream.pix_fmt = "yuv420p"
            # Phones put a keyframe every second or two; decoders that sample keyframes rely on it.
            keyint = max(1, round(spec.keyframe_interval_s * spec.fps))
            stream.options = {"preset": spec.preset, "crf": str(spec.crf), "threads": "1",
                              "x264-params": f"keyint={keyint}:min-keyint={keyint}"}
            for i, frame in enumerate(render_frames(spec)):
                vf = _yuv_frame(frame)
                vf.pts = i
                out.mux(stream.encode(vf))
            out.mux(stream.encode(None))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return spec.post_id


def write_clips(specs: list[ClipSpec]) -> list[str]:
    """Render a batch of clips in this process."""
    return [write_clip(spec) for spec in specs]


def spec_to_json(spec: ClipSpec) -> str:
    return json.dumps(asdict(spec))


def spec_from_json(line: str) -> ClipSpec:
    data = json.loads(line)
    for key in ("primary", "accent", "skin"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    return ClipSpec(**data)


def serve() -> None:
    """Worker loop: read one JSON clip spec per line from stdin, answer `ok <post_id>` or `err <post_id> <why>`.

    A failing clip is reported and the worker carries on with the next one.
    """
    # Workers already run in parallel: OpenCV's own threads would only fight over the cores.
    cv2.setNumThreads(1)
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = spec_from_json(line)
        try:
            write_clip(spec)
            answer = f"ok {spec.post_id}"
        except Exception as exc:  # reported to the parent, which names the post
            answer = f"err {spec.post_id} {type(exc).__name__}: {exc}".replace("\n", " ")
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        serve()
    except (KeyboardInterrupt, BrokenPipeError):  # the parent was interrupted: stop quietly
        sys.exit(1)
