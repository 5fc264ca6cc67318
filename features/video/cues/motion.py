"""Motion cues from tiny grayscale frames at a fixed rate: cuts, shake, camera motion, exposure drift.

`MotionTracker` accumulates per-step numbers (`video.motion_fps`): frame differences, global translation
by phase correlation and brightness over time; `summarize_motion` turns them into the clip's time cues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import cv2
import numpy as np

from features.video.cues.sample import Clip, per_clip
from sparkpick.config import VideoConfig


def _tukey_window(shape: tuple[int, ...], taper: float) -> np.ndarray:
    """A window flat in the middle that tapers only the outer `taper` share of each side.

    OpenCV's Hanning window weights the centre most, where the subject usually moves on its own; the
    camera's motion is what the whole frame shares, so the middle must count as much as the rest.
    """

    def tukey(n: int) -> np.ndarray:
        edge = max(1, int(taper * n))
        w = np.ones(n, np.float32)
        ramp = 0.5 * (1 - np.cos(np.pi * np.arange(edge) / edge))
        w[:edge] = ramp
        w[n - edge :] = ramp[::-1]
        return w

    return np.outer(tukey(shape[0]), tukey(shape[1])).astype(np.float32)


@dataclass
class MotionTracker:
    """Accumulates per-step numbers from tiny grayscale frames at a fixed rate; keeps one frame only.

    It runs on every decoded frame, so each step is a handful of OpenCV calls on a ~64 px float32
    frame (no NumPy temporaries): the mean-removed frame is computed once and reused as the next
    step's reference. The plain difference is taken on the 8-bit frames themselves (exact).
    """

    cfg: VideoConfig
    times: list[float] = field(default_factory=list)  # time of the later frame of each step
    diff: list[float] = field(default_factory=list)  # mean |a - b|
    residual: list[float] = field(default_factory=list)  # mean |a shifted - b| after global translation
    dx: list[float] = field(default_factory=list)  # translation, share of the diagonal
    dy: list[float] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    brightness: list[float] = field(default_factory=list)
    _prev: np.ndarray | None = None  # previous frame, float32, mean removed
    _prev_tiny: np.ndarray | None = None  # previous frame as given (uint8)
    _window: np.ndarray | None = None

    def add(self, t: float, tiny: np.ndarray) -> None:
        mean = cv2.mean(tiny)[0]
        # Remove the mean first: otherwise a window's own imprint (window x mean brightness), the same in
        # both frames, wins the correlation at zero shift. Differences add the brightness step back.
        cur = cv2.subtract(tiny, mean, dtype=cv2.CV_32F)  # type: ignore[call-overload]
        self.frame_times.append(t)
        self.brightness.append(mean)
        prev, prev_tiny = self._prev, self._prev_tiny
        prev_mean = self.brightness[-2] if len(self.brightness) > 1 else mean
        self._prev, self._prev_tiny = cur, tiny
        if prev is None or prev_tiny is None or prev.shape != cur.shape:
            return
        window = None
        if self.cfg.phase_taper > 0:
            if self._window is None or self._window.shape != cur.shape:
                self._window = _tukey_window(cur.shape, self.cfg.phase_taper)
            window = self._window
        # phaseCorrelate applies a window to its inputs in place (OpenCV 4.14): copy only then.
        a, b = (prev.copy(), cur.copy()) if window is not None else (prev, cur)
        (sx, sy), _response = cv2.phaseCorrelate(a, b, window)
        h, w = cur.shape
        diag = math.hypot(h, w)
        # On the 8-bit frames: a sum of whole numbers, exact and the same on any machine.
        diff = cv2.norm(tiny, prev_tiny, cv2.NORM_L1) / tiny.size
        step = mean - prev_mean
        residual = diff
        mx, my = math.ceil(abs(sx)) + 1, math.ceil(abs(sy)) + 1
        if mx < w // 4 and my < h // 4:
            moved = cv2.warpAffine(prev, np.array([[1, 0, sx], [0, 1, sy]], dtype=np.float32), (w, h))
            roi_moved, roi_cur = moved[my : h - my, mx : w - mx], cur[my : h - my, mx : w - mx]
            if step:
                roi_cur = roi_cur + step
            residual = cv2.norm(roi_moved, roi_cur, cv2.NORM_L1) / roi_cur.size
        else:  # a shift that large is not camera motion: a cut or a whip pan
            sx, sy = 0.0, 0.0
        self.times.append(t)
        self.diff.append(diff)
        self.residual.append(residual)
        self.dx.append(sx / diag)
        self.dy.append(sy / diag)


def detect_cuts(times: list[float], scores: list[float], cfg: VideoConfig) -> list[int]:
    """Indices of steps that are hard cuts: a change far above its neighbours' and above a floor.

    Like PySceneDetect's AdaptiveDetector, a step is a cut when its score is at least `cut_ratio` times
    the mean of the `cut_window` steps either side and at least `cut_min_score`; the score is the
    difference left after undoing the global translation, so a shaky handheld shot does not read as
    cuts. Cuts closer than `cut_min_shot_s` keep only the strongest.

    Why not PySceneDetect's detectors: they read every frame through OpenCV as full-size BGR and convert
    it to HSV, which alone costs more than this whole pass (see benchmarks/video_speed.py), and their
    scores are not motion-compensated, so a shaky phone shot yields false cuts unless the threshold is
    raised so far that real cuts between similar shots are missed.
    """
    s = np.asarray(scores, dtype=np.float64)
    cuts: list[int] = []
    k = cfg.cut_window
    for i in range(len(s)):
        if s[i] < cfg.cut_min_score:
            continue
        neigh = np.concatenate([s[max(0, i - k) : i], s[i + 1 : i + 1 + k]])
        base = float(neigh.mean()) if neigh.size else 0.0
        if s[i] < cfg.cut_ratio * max(base, cfg.cut_base_floor):
            continue
        if cuts and times[i] - times[cuts[-1]] < cfg.cut_min_shot_s:
            if s[i] > s[cuts[-1]]:
                cuts[-1] = i
            continue
        cuts.append(i)
    return cuts


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or x.size < 3:
        return x.copy()
    width = min(width, x.size if x.size % 2 else x.size - 1)
    pad = width // 2
    padded = np.pad(x, pad, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


@dataclass(frozen=True)
class MotionSummary:
    """Clip-level time cues and the cut times (seconds)."""

    cues: dict[str, float]
    cut_times: list[float]
    step_times: np.ndarray
    step_diff: np.ndarray
    is_cut: np.ndarray


def summarize_motion(tracker: MotionTracker, span_s: float, cfg: VideoConfig) -> MotionSummary:
    """Cuts, shot length, shake, camera motion, motion energy, static share and exposure drift."""
    nan = float("nan")
    times = np.asarray(tracker.times)
    if times.size < 2 or span_s <= 0:
        cues = dict.fromkeys(
            ("hard_cuts", "cuts_per_10s", "mean_shot_s", "shake", "camera_motion", "motion_energy",
             "static_share", "exposure_drift"),
            nan,
        )
        return MotionSummary(cues, [], times, np.asarray(tracker.diff), np.zeros(times.size, bool))
    cut_idx = detect_cuts(tracker.times, tracker.residual, cfg)
    is_cut = np.zeros(times.size, bool)
    is_cut[cut_idx] = True
    cut_times = [float(times[i]) for i in cut_idx]
    diff = np.asarray(tracker.diff)
    dx, dy = np.asarray(tracker.dx), np.asarray(tracker.dy)
    smooth_w = max(3, round(cfg.shake_smooth_s * cfg.motion_fps) | 1)

    # Shots are the runs of steps between cuts; shake and drift are measured inside each shot.
    bounds = [0, *[i for i in cut_idx], times.size]
    shake_sq: list[np.ndarray] = []
    speeds: list[np.ndarray] = []
    for a, b in pairwise(bounds):
        a = a + 1 if a in cut_idx else a  # the cut step itself belongs to no shot
        if b - a < 3:
            continue
        px, py = np.cumsum(dx[a:b]), np.cumsum(dy[a:b])
        sx, sy = _smooth(px, smooth_w), _smooth(py, smooth_w)
        shake_sq.append((px - sx) ** 2 + (py - sy) ** 2)
        speeds.append(np.hypot(np.diff(sx), np.diff(sy)) * cfg.motion_fps)
    shake = math.sqrt(float(np.concatenate(shake_sq).mean())) * 100 if shake_sq else nan
    camera_motion = float(np.concatenate(speeds).mean()) * 100 if speeds and any(s.size for s in speeds) else nan

    # Exposure drift: total variation of smoothed brightness within shots, per second.
    ftimes = np.asarray(tracker.frame_times)
    bright = np.asarray(tracker.brightness)
    frame_cut = np.zeros(ftimes.size, bool)
    for ct in cut_times:
        frame_cut[int(np.searchsorted(ftimes, ct))] = True
    starts = [0, *np.flatnonzero(frame_cut).tolist(), ftimes.size]
    variation, seconds = 0.0, 0.0
    for a, b in pairwise(starts):
        if b - a < 3:
            continue
        sb = _smooth(bright[a:b], smooth_w)
        variation += float(np.abs(np.diff(sb)).sum())
        seconds += float(ftimes[b - 1] - ftimes[a])
    exposure_drift = variation / seconds if seconds > 0 else nan

    within = diff[~is_cut]
    n_cuts = len(cut_idx)
    cues = {
        "hard_cuts": float(n_cuts),
        "cuts_per_10s": n_cuts / span_s * 10.0,
        "mean_shot_s": span_s / (n_cuts + 1),
        "shake": shake,
        "camera_motion": camera_motion,
        "motion_energy": float(within.mean()) if within.size else nan,
        "static_share": float((within < cfg.static_max_diff).mean()) if within.size else nan,
        "exposure_drift": exposure_drift,
    }
    return MotionSummary(cues, cut_times, times, diff, is_cut)


def _from_summary(name: str) -> None:
    """Register cue `name` as read from the clip's `MotionSummary` (computed once for all of them)."""

    @per_clip(name)
    def measure(clip: Clip) -> float:
        return clip.motion.cues.get(name, float("nan"))


for _name in ("hard_cuts", "cuts_per_10s", "mean_shot_s", "shake", "camera_motion", "motion_energy",
              "static_share", "exposure_drift"):
    _from_summary(_name)


# The hook: the opening `video.hook_window_s` against the rest.
def _hook_and_rest_motion(clip: Clip) -> tuple[float, float]:
    m, hook_end = clip.motion, clip.cfg.hook_window_s
    steps_in_hook = (m.step_times < hook_end) & ~m.is_cut
    steps_rest = (m.step_times >= hook_end) & ~m.is_cut
    hook = float(m.step_diff[steps_in_hook].mean()) if steps_in_hook.any() else float("nan")
    rest = float(m.step_diff[steps_rest].mean()) if steps_rest.any() else float("nan")
    return hook, rest


@per_clip("hook_motion_energy")
def hook_motion_energy_of(clip: Clip) -> float:
    return _hook_and_rest_motion(clip)[0]


@per_clip("hook_motion_ratio")
def hook_motion_ratio_of(clip: Clip) -> float:
    hook, rest = _hook_and_rest_motion(clip)
    return hook / max(rest, clip.cfg.static_max_diff) if not math.isnan(hook + rest) else float("nan")


@per_clip("hook_cuts")
def hook_cuts_of(clip: Clip) -> float:
    m = clip.motion
    return float(sum(t < clip.cfg.hook_window_s for t in m.cut_times)) if m.step_times.size else float("nan")
