"""The two looks of a demo clip, frame by frame from the post's hidden traits: native (phone) and produced.

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

from dataclasses import dataclass

import cv2
import numpy as np

from sparkpick.sources.demo import names
from sparkpick.sources.demo.clip import ClipSpec
from sparkpick.sources.demo.drawing import (
    BGR,
    DARK,
    WHITE,
    Noise,
    Overlay,
    draw_face,
    draw_product,
    gradient,
    hsv,
    skin_from,
    text_overlay,
)

# Extra canvas around the frame, so that handheld shake can move the crop without borders.
MARGIN = 12
HOOK_S = 2.5


def logo_overlay(spec: ClipSpec, start: int, stop: int) -> Overlay:
    """The brand's logo, its initials on a disc in its colours, top right from `start` to `stop`."""
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
        warm = hsv(hue, sat, rng.uniform(0.55, 0.8))
        cool = hsv((hue + rng.uniform(0.05, 0.2)) % 1, sat, rng.uniform(0.3, 0.55))
        cw, ch = w + 2 * MARGIN, h + 2 * MARGIN
        bg = gradient(ch, cw, warm, cool)
        for _ in range(int(rng.integers(3, 6))):  # furniture, a window, a door
            x0, y0 = int(rng.integers(0, cw - 20)), int(rng.integers(0, ch - 20))
            shade = hsv(rng.uniform(0, 1), sat * 0.8, rng.uniform(0.25, 0.9))
            x1, y1 = x0 + int(rng.integers(20, max(21, cw // 2))), y0 + int(rng.integers(20, max(21, ch // 2)))
            cv2.rectangle(bg, (x0, y0), (x1, y1), shade, -1)
        for _ in range(int(rng.integers(6, 14))):  # clutter: frames, books, plants, shelf edges
            x0, y0 = int(rng.integers(0, cw - 6)), int(rng.integers(0, ch - 6))
            shade = hsv(rng.uniform(0, 1), sat, rng.uniform(0.15, 0.95))
            size = int(rng.integers(4, max(5, cw // 6)))
            if rng.random() < 0.5:
                cv2.rectangle(bg, (x0, y0), (x0 + size, y0 + int(size * rng.uniform(0.3, 2.0))), shade, -1)
            else:
                cv2.line(bg, (x0, y0), (x0 + 3 * size, y0), shade, int(rng.integers(1, 4)))
        # A phone's depth of field and processing soften the room a little, not to a featureless wash.
        self.bg = cv2.GaussianBlur(bg, (0, 0), 0.8 + 1.2 * rough)
        self.skin: BGR = spec.skin or skin_from(rng)
        self.hair: BGR = hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.3))
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
        self.noise = Noise(rng, h, w, 1.0 + 7.0 * rough ** 1.3, n)
        self.product_from = n
        if rng.random() < 0.15 + 0.8 * spec.topic_fit:
            self.product_from = int(rng.integers(0, max(1, n // 2))) if spec.hook > 0.5 else int(
                rng.integers(hook_n, max(hook_n + 1, n)))
        self.overlays: list[Overlay] = []
        if rng.random() < spec.hook ** 1.5:
            text = names.HOOK_TEXTS[rng.integers(len(names.HOOK_TEXTS))]
            self.overlays.append(text_overlay(text, w, h, 0.12, cv2.FONT_HERSHEY_DUPLEX, 0.9, WHITE, DARK, 2,
                                               0, hook_n))
        if rng.random() < 0.5 * spec.authenticity * (1.2 - spec.polish):  # now and then
            text = names.HANDWRITTEN[rng.integers(len(names.HANDWRITTEN))]
            s0 = int(rng.integers(0, max(1, n // 2)))
            self.overlays.append(text_overlay(text, w, h, rng.uniform(0.6, 0.8), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
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
        self.skin: BGR = spec.skin or skin_from(rng)
        self.hair: BGR = hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.3))
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
            top = hsv(hue, sat, rng.uniform(0.75, 0.98))
            bottom = hsv((hue + 0.08) % 1, sat, rng.uniform(0.45, 0.75))
            zoom = rng.uniform(0.0, 0.25) * (2.0 if fast else 1.0)
            shots.append(_Shot(t, stop, kind, gradient(h, w, top, bottom), hsv((hue + 0.5) % 1, sat, 0.95), zoom))
            t = stop
        self.shots = shots
        self.fade = 0 if strong_open else int(rng.integers(0, fps))
        # Slightly less polished studio work floats on a gimbal; top polish is locked off.
        drift = max(0.0, 0.7 - spec.polish) * 6
        self.float = np.round(drift * np.sin(np.arange(n) / fps * rng.uniform(0.5, 1.0))).astype(int)
        self.noise = Noise(rng, h, w, max(0.0, 3.0 * (0.65 - spec.polish)), n)
        self.overlays: list[Overlay] = []
        if rng.random() < 0.4 + 0.6 * spec.polish:
            self.overlays.append(logo_overlay(spec, 0, n))
        for shot in shots:
            if shot.kind == "card" or rng.random() < 0.25 + 0.5 * spec.polish:
                text = names.PRODUCED_BANNERS[rng.integers(len(names.PRODUCED_BANNERS))]
                y = 0.45 if shot.kind == "card" else 0.86
                self.overlays.append(text_overlay(text, w, h, y, cv2.FONT_HERSHEY_DUPLEX, 0.8, WHITE, DARK, 2,
                                                   shot.start, shot.stop, box=spec.accent if shot.kind != "card"
                                                   else spec.primary))
        if strong_open and rng.random() < spec.hook:
            text = names.HOOK_TEXTS[rng.integers(len(names.HOOK_TEXTS))]
            self.overlays.append(text_overlay(text, w, h, 0.14, cv2.FONT_HERSHEY_DUPLEX, 0.9, WHITE, DARK, 2,
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
