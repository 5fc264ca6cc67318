"""A clip's cues: every cue of one sample frame, and the clip aggregate with the hook against the rest.

The per-frame cues are the catalogue's cues with `over` set, each measured by its `@per_frame` function
(picture.py, composition.py) and summarised over the samples as its entry says; every other cue is the
value of its `@per_clip` function (the container facts here, composition.py, motion.py) on the `Clip`.
"""

from __future__ import annotations

import cv2
import numpy as np

from features.video.cues import picture  # noqa: F401 - imported for its @per_frame functions
from features.video.cues.catalogue import CUE_NAMES, CUES
from features.video.cues.composition import blurred_fill_bars, border_bars, faces
from features.video.cues.motion import MotionSummary
from features.video.cues.sample import (
    CLIP_MEASURES,
    FRAME_MEASURES,
    Clip,
    Container,
    Sample,
    TimedCues,
    mean_of,
    median_of,
    per_clip,
    values_of,
)
from sparkpick.config import VideoConfig

__all__ = ["PER_CLIP", "PER_FRAME", "Container", "clip_cues", "frame_cues"]


# The container facts, measured once per clip (before `PER_CLIP` below checks every clip-level cue has its
# function).
@per_clip("width")
def _width(clip: Clip) -> float:
    return float(clip.container.width)


@per_clip("height")
def _height(clip: Clip) -> float:
    return float(clip.container.height)


@per_clip("fps")
def _fps(clip: Clip) -> float:
    return clip.container.fps if clip.container.fps > 0 else float("nan")


@per_clip("rotation")
def _rotation(clip: Clip) -> float:
    return float(clip.container.rotation)


@per_clip("bitrate_kbps")
def _bitrate_kbps(clip: Clip) -> float:
    return clip.container.bitrate_kbps if clip.container.bitrate_kbps is not None else float("nan")


@per_clip("has_audio")
def _has_audio(clip: Clip) -> float:
    return float(clip.container.has_audio)


@per_clip("vertical")
def _vertical(clip: Clip) -> float:
    return float(clip.container.height > clip.container.width)


@per_clip("native_vertical")
def _native_vertical(clip: Clip) -> float:
    vertical = clip.container.height > clip.container.width
    return float(vertical and not (clip.per_frame["letterbox_share"] > clip.cfg.letterbox_min_share))


# The cues measured on each sample frame, and those measured on the whole clip, in catalogue order.
PER_FRAME = tuple(cue for cue in CUES if cue.over)
PER_CLIP = tuple(cue for cue in CUES if not cue.over)
for _kind, _cues, _measures, _door in (("per-frame", PER_FRAME, FRAME_MEASURES, "@per_frame"),
                                       ("clip-level", PER_CLIP, CLIP_MEASURES, "@per_clip")):
    _unmeasured = sorted({cue.name for cue in _cues} - set(_measures))
    _undeclared = sorted(set(_measures) - {cue.name for cue in _cues})
    if _unmeasured or _undeclared:  # a cue declared or measured but not both
        raise ImportError(
            f"video cues: {_kind} cues without a {_door} function {_unmeasured}; {_door} functions without a "
            f"catalogue entry {'with' if _kind == 'per-frame' else 'without'} `over` {_undeclared} "
            "(features/video/cues/catalogue.py)"
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



def clip_cues(
    samples: list[TimedCues],
    motion: MotionSummary,
    container: Container,
    cfg: VideoConfig,
) -> dict[str, float]:
    """All clip cues (`CUE_NAMES`) from per-sample cues, the motion summary and the container facts."""
    per_frame = {
        cue.name: (median_of if cue.over == "median" else mean_of)(values_of(cue.name, samples)) for cue in PER_FRAME
    }
    clip = Clip(samples, per_frame, motion, container, cfg)
    out = {**per_frame, **{cue.name: CLIP_MEASURES[cue.name](clip) for cue in PER_CLIP}}
    return {name: out.get(name, float("nan")) for name in CUE_NAMES}
