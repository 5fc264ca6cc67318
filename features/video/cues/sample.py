"""What a cue function sees, and the two registers of cue functions: one a cue.

A per-frame cue is a function of a `Sample` registered with `@per_frame("name")` in its family's module
(picture.py, composition.py); `clip.frame_cues` runs every registered one on each sample, and the clip's
value is the median or mean over samples, as the cue's catalogue entry says (`catalogue.Cue.over`).
A clip-level cue (an entry without `over`) is a function of the whole `Clip` registered with
`@per_clip("name")` in its family's module (clip.py, composition.py, motion.py); `clip.clip_cues` runs
every registered one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from sparkpick.config import VideoConfig

if TYPE_CHECKING:
    from features.video.cues.motion import MotionSummary

FrameMeasure = Callable[["Sample"], float]
# Cue name -> its per-frame function, filled by `per_frame` as the family modules are imported.
FRAME_MEASURES: dict[str, FrameMeasure] = {}


def per_frame(name: str) -> Callable[[FrameMeasure], FrameMeasure]:
    """Register `name`'s per-frame function (a cue measured on each sample; see `catalogue.CUES`)."""

    def register(measure: FrameMeasure) -> FrameMeasure:
        if name in FRAME_MEASURES:
            raise ValueError(f"the per-frame cue {name!r} is registered twice")
        FRAME_MEASURES[name] = measure
        return measure

    return register


ClipMeasure = Callable[["Clip"], float]
# Cue name -> its clip-level function, filled by `per_clip` as the family modules are imported.
CLIP_MEASURES: dict[str, ClipMeasure] = {}


def per_clip(name: str) -> Callable[[ClipMeasure], ClipMeasure]:
    """Register `name`'s clip-level function (a cue of the whole clip; see `catalogue.CUES`)."""

    def register(measure: ClipMeasure) -> ClipMeasure:
        if name in CLIP_MEASURES:
            raise ValueError(f"the clip-level cue {name!r} is registered twice")
        CLIP_MEASURES[name] = measure
        return measure

    return register


@dataclass
class Sample:
    """A sample frame at analysis size inside its letterbox or blurred-fill bars, with what several cues
    share computed once (the float luma, the flat-area mask, the luma's mean and spread)."""

    bgr: np.ndarray  # the picture inside the bars (BGR)
    gray: np.ndarray  # its luma, uint8
    letterbox_share: float  # share of the whole frame the bars took
    cfg: VideoConfig

    @cached_property
    def luma(self) -> np.ndarray:
        """The luma as float32 (whole numbers: exact in every filter the picture cues apply)."""
        return self.gray.astype(np.float32)

    @cached_property
    def flat(self) -> np.ndarray:
        """Pixels where noise, not texture, dominates (`picture.flat_mask`)."""
        from features.video.cues.picture import flat_mask

        return flat_mask(self.luma, self.cfg.noise_flat_quantile)

    @cached_property
    def mean_std(self) -> tuple[float, float]:
        """Mean and standard deviation of the luma (8-bit levels)."""
        import cv2

        mean, std = cv2.meanStdDev(self.gray)
        return float(mean[0, 0]), float(std[0, 0])


@dataclass(frozen=True)
class Container:
    """Container facts the clip cues need (sizes as displayed)."""

    width: int
    height: int
    fps: float
    rotation: int
    bitrate_kbps: float | None
    has_audio: bool


# One sample's cues at its time (seconds): what `clip.frame_cues` gave for it.
TimedCues = tuple[float, dict[str, float]]


@dataclass(frozen=True)
class Clip:
    """The whole clip as a clip-level cue sees it: every sample's cues, the per-frame cues summarised as the
    catalogue says (`per_frame`), the motion summary and the container facts."""

    samples: list[TimedCues]
    per_frame: dict[str, float]
    motion: MotionSummary
    container: Container
    cfg: VideoConfig

    @property
    def hook(self) -> list[TimedCues]:
        """The samples inside the opening `video.hook_window_s`."""
        return [(t, c) for t, c in self.samples if t < self.cfg.hook_window_s]


def values_of(name: str, rows: list[TimedCues]) -> list[float]:
    """The value of cue `name` in each of `rows` that has it."""
    return [c[name] for _t, c in rows if name in c]


def median_of(values: list[float]) -> float:
    """The median of the values that are not NaN; NaN when none is."""
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(np.median(arr)) if arr.size else float("nan")


def mean_of(values: list[float]) -> float:
    """The mean of the values that are not NaN; NaN when none is."""
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(arr.mean()) if arr.size else float("nan")
