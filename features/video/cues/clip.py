"""A clip's cues: every cue of one sample frame, and the clip aggregate with the hook against the rest."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from features.video.cues.catalogue import CUE_NAMES
from features.video.cues.composition import blurred_fill_bars, border_bars, faces, text_coverage
from features.video.cues.motion import MotionSummary
from features.video.cues.picture import colourfulness, flat_mask, masked_noise, masked_sharpness
from sparkpick.config import VideoConfig


def frame_cues(bgr: np.ndarray, cfg: VideoConfig, detect_faces: bool = True) -> dict[str, float]:
    """All per-frame cues of one BGR frame at analysis size (see `CUE_DESCRIPTIONS` for each)."""
    gray_full = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    h, w = gray_full.shape
    top, bottom, left, right = border_bars(gray_full, cfg)
    if top == bottom == 0:
        top, bottom = blurred_fill_bars(gray_full, cfg)
    bars = 1.0 - ((h - top - bottom) * (w - left - right)) / float(h * w)
    # Everything else is measured inside the picture, so that bars don't count as crushed shadows.
    bgr = bgr[top : h - bottom, left : w - right]
    gray = gray_full[top : h - bottom, left : w - right]
    hsv_s = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[..., 1]
    edges = cv2.Canny(gray, cfg.canny_low, cfg.canny_high)
    g = gray.astype(np.float32)
    flat = flat_mask(g, cfg.noise_flat_quantile)
    mean, std = cv2.meanStdDev(gray)
    n = float(gray.size)
    out = {
        "sharpness": masked_sharpness(g, flat, cfg.sharpness_noise_k),
        "noise": masked_noise(g, flat),
        "colourfulness": colourfulness(bgr),
        "saturation": cv2.mean(hsv_s)[0] / 255.0,
        "brightness": float(mean[0, 0]) / 255.0,
        "contrast": float(std[0, 0]) / 255.0,
        "highlights_clipped": np.count_nonzero(gray >= cfg.clip_high) / n,
        "shadows_clipped": np.count_nonzero(gray <= cfg.clip_low) / n,
        "edge_density": cv2.countNonZero(edges) / n,
        "text_coverage": text_coverage(gray, cfg),
        "letterbox_share": bars,
    }
    if detect_faces:
        count, size = faces(gray, cfg)
        out["faces"] = float(count)
        out["face_size"] = size
    return out



def _median(values: list[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(np.median(arr)) if arr.size else float("nan")


def _mean(values: list[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(arr.mean()) if arr.size else float("nan")


@dataclass(frozen=True)
class Container:
    """Container facts the clip cues need (sizes as displayed)."""

    width: int
    height: int
    fps: float
    rotation: int
    bitrate_kbps: float | None
    has_audio: bool


def clip_cues(
    samples: list[tuple[float, dict[str, float]]],
    motion: MotionSummary,
    container: Container,
    cfg: VideoConfig,
) -> dict[str, float]:
    """All clip cues (`CUE_NAMES`) from per-sample cues, the motion summary and the container facts."""
    nan = float("nan")
    hook_end = cfg.hook_window_s

    def col(name: str, rows: list[tuple[float, dict[str, float]]]) -> list[float]:
        return [c[name] for _t, c in rows if name in c]

    face_rows = [(t, c) for t, c in samples if "faces" in c]
    face_counts = col("faces", face_rows)
    face_sizes = [c["face_size"] for _t, c in face_rows if c["faces"] > 0]
    text = col("text_coverage", samples)
    letterbox = _median(col("letterbox_share", samples))
    vertical = container.height > container.width
    out: dict[str, float] = {
        "width": float(container.width),
        "height": float(container.height),
        "fps": container.fps if container.fps > 0 else nan,
        "rotation": float(container.rotation),
        "bitrate_kbps": container.bitrate_kbps if container.bitrate_kbps is not None else nan,
        "has_audio": float(container.has_audio),
        "vertical": float(vertical),
        "native_vertical": float(vertical and not (letterbox > cfg.letterbox_min_share)),
        "sharpness": _median(col("sharpness", samples)),
        "noise": _median(col("noise", samples)),
        "colourfulness": _median(col("colourfulness", samples)),
        "saturation": _median(col("saturation", samples)),
        "brightness": _median(col("brightness", samples)),
        "contrast": _median(col("contrast", samples)),
        "highlights_clipped": _mean(col("highlights_clipped", samples)),
        "shadows_clipped": _mean(col("shadows_clipped", samples)),
        "edge_density": _median(col("edge_density", samples)),
        "text_coverage": _mean(text),
        "text_frame_share": _mean([float(v >= cfg.text_frame_min_coverage) for v in text]),
        "face_share": _mean([float(n > 0) for n in face_counts]),
        "face_size": _median(face_sizes) if face_sizes else (0.0 if face_counts else nan),
        "faces_per_frame": _mean(face_counts),
        "letterbox_share": letterbox,
        **motion.cues,
    }
    # The hook: the opening `hook_window_s` against the rest.
    hook = [(t, c) for t, c in samples if t < hook_end]
    steps_in_hook = (motion.step_times < hook_end) & ~motion.is_cut
    steps_rest = (motion.step_times >= hook_end) & ~motion.is_cut
    hook_motion = float(motion.step_diff[steps_in_hook].mean()) if steps_in_hook.any() else nan
    rest_motion = float(motion.step_diff[steps_rest].mean()) if steps_rest.any() else nan
    hook_faces = col("faces", [(t, c) for t, c in hook if "faces" in c])
    out["hook_motion_energy"] = hook_motion
    out["hook_motion_ratio"] = (
        hook_motion / max(rest_motion, cfg.static_max_diff) if not math.isnan(hook_motion + rest_motion) else nan
    )
    out["hook_cuts"] = float(sum(t < hook_end for t in motion.cut_times)) if motion.step_times.size else nan
    out["hook_face_share"] = _mean([float(n > 0) for n in hook_faces])
    out["hook_text_coverage"] = _mean(col("text_coverage", hook))
    return {name: out.get(name, nan) for name in CUE_NAMES}
