"""A clip's cues: every cue of one sample frame, and the clip aggregate with the hook against the rest.

The per-frame cues are the catalogue's cues with `over` set, each measured by its `@per_frame` function
(picture.py, composition.py) and summarised over the samples as its entry says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from features.video.cues import picture  # noqa: F401 - imported for its @per_frame functions
from features.video.cues.catalogue import CUE_NAMES, CUES
from features.video.cues.composition import blurred_fill_bars, border_bars, faces
from features.video.cues.motion import MotionSummary
from features.video.cues.sample import FRAME_MEASURES, Sample
from sparkpick.config import VideoConfig

# The cues measured on each sample frame, in catalogue order, and the function of each.
PER_FRAME = tuple(cue for cue in CUES if cue.over)
_unmeasured = sorted({cue.name for cue in PER_FRAME} - set(FRAME_MEASURES))
_undeclared = sorted(set(FRAME_MEASURES) - {cue.name for cue in PER_FRAME})
if _unmeasured or _undeclared:  # pragma: no cover - a cue declared or measured but not both
    raise ImportError(
        f"video cues: per-frame cues without a @per_frame function {_unmeasured}; @per_frame functions "
        f"without a catalogue entry with `over` {_undeclared} (features/video/cues/catalogue.py)"
    )


def frame_cues(bgr: np.ndarray, cfg: VideoConfig, detect_faces: bool = True) -> dict[str, float]:
    """All per-frame cues of one BGR frame at analysis size (see `CUE_DESCRIPTIONS` for each)."""
    gray_full = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    h, w = gray_full.shape
    top, bottom, left, right = border_bars(gray_full, cfg)
    if top == bottom == 0:
        top, bottom = blurred_fill_bars(gray_full, cfg)
    bars = 1.0 - ((h - top - bottom) * (w - left - right)) / float(h * w)
    # Everything else is measured inside the picture, so that bars don't count as crushed shadows.
    sample = Sample(bgr[top : h - bottom, left : w - right], gray_full[top : h - bottom, left : w - right], bars, cfg)
    out = {cue.name: FRAME_MEASURES[cue.name](sample) for cue in PER_FRAME}
    if detect_faces:
        count, size = faces(sample.gray, cfg)
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
    per_frame = {
        cue.name: (_median if cue.over == "median" else _mean)(col(cue.name, samples)) for cue in PER_FRAME
    }
    letterbox = per_frame["letterbox_share"]
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
        **per_frame,
        "text_frame_share": _mean([float(v >= cfg.text_frame_min_coverage) for v in text]),
        "face_share": _mean([float(n > 0) for n in face_counts]),
        "face_size": _median(face_sizes) if face_sizes else (0.0 if face_counts else nan),
        "faces_per_frame": _mean(face_counts),
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
