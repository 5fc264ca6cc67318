"""One sample frame as a per-frame cue sees it, and the register of per-frame cue functions.

A per-frame cue is a function of a `Sample` registered with `@per_frame("name")` in its family's module
(picture.py, composition.py); `clip.frame_cues` runs every registered one on each sample, and the clip's
value is the median or mean over samples, as the cue's catalogue entry says (`catalogue.Cue.over`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sparkpick.config import VideoConfig

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
