"""Drawing the demo clips: colours, a face, the product, text overlays and sensor noise (OpenCV, numpy)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

BGR = tuple[int, int, int]
DARK: BGR = (20, 20, 25)
WHITE: BGR = (245, 245, 245)


def _clip8(v: float) -> int:
    return int(max(0, min(255, round(v))))


@lru_cache(maxsize=4096)
def _scale(c: BGR, f: float) -> BGR:
    return (_clip8(c[0] * f), _clip8(c[1] * f), _clip8(c[2] * f))


def hsv(h: float, s: float, v: float) -> BGR:
    """A colour from hue, saturation and value (each 0-1) in OpenCV's BGR order."""
    px = np.array([[[int(h * 179) % 180, _clip8(s * 255), _clip8(v * 255)]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return (int(b), int(g), int(r))


def gradient(h: int, w: int, top: BGR, bottom: BGR) -> np.ndarray:
    """An `h` x `w` image fading from `top` to `bottom`."""
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


def text_overlay(text: str, frame_w: int, frame_h: int, y_frac: float, font: int, scale: float,
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


class Noise:
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


def skin_from(rng: np.random.Generator) -> BGR:
    """A skin tone drawn between light and deep."""
    t = rng.uniform(0, 1)
    light, deep = np.array([170, 190, 235]), np.array([75, 105, 160])
    return tuple(int(v) for v in light * (1 - t) + deep * t)  # type: ignore[return-value]
