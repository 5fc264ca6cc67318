"""The cue catalogue: the one door for video cues, each declared once with everything that follows from it.

A cue's entry gives its name (the `video_features` column, `video_<name>` in the feature matrix), its
description with its unit, a marketer's words for it and how its value reads in a pick's reasons
(`models/explain.py`), how a per-frame cue becomes the clip's (median or mean over samples; the function
itself is registered with `@per_frame` in its family's module) and, for a cue that enters the polish
score, its words on each side (its numbers are `video.polish` in configs/default.yaml). The extractor,
the explanations, the polish score's reasons and the video cache key (`video_feature_version`) are all
read from `CUES`. No OpenCV here: the reports and models read the catalogue without loading it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from features.video import VIDEO_PREFIX
from sparkpick.config import VideoConfig

# Words for a cue's value, from all the clip's cues (a phrase may use several, as the cuts' does).
Phrase = Callable[[Mapping[str, float]], str]
# How a value reads in a reason where its description's unit does not say: a 0-1 share as a percentage,
# seconds, cuts per 10 s, a ratio ("1.8x"), or "standing": a lab scale nobody outside it can read, so only
# where the post stands among the candidates is shown.
ReadsAs = Literal["standing", "percent", "seconds", "per10s", "times"]


@dataclass(frozen=True)
class Polish:
    """A cue that enters the polish score: its words when it makes the video look produced, and native."""

    produced: Phrase
    native: Phrase


@dataclass(frozen=True)
class Cue:
    """One video cue, declared once."""

    name: str
    description: str  # formula and unit, for reports and `sparkpick video-features`
    label: str | None = None  # a marketer's words in a pick's reasons (None: the description's head)
    reads_as: ReadsAs | None = None  # how its value reads there (None: as its description's unit says)
    # Measured on each sample frame by the `@per_frame(name)` function, the clip's value being the median
    # or mean over samples; None: computed for the whole clip (clip.py, motion.py).
    over: Literal["median", "mean"] | None = None
    polish: Polish | None = None  # enters the polish score (with a row in `video.polish`)


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _cuts_produced(c: Mapping[str, float]) -> str:
    span = c["hard_cuts"] / c["cuts_per_10s"] * 10 if c.get("cuts_per_10s") else float("nan")
    return f"{c['hard_cuts']:.0f} hard cuts in {span:.0f} s" if span == span else "fast editing"


def _cuts_native(c: Mapping[str, float]) -> str:
    n = c.get("hard_cuts", float("nan"))
    if n == 0:
        return "one continuous take, no cuts"
    return f"few cuts ({c['cuts_per_10s']:.1f} per 10 s, shots of {c['mean_shot_s']:.0f} s)"


# In the column order of `video_features`.
CUES: tuple[Cue, ...] = (
    # container facts
    Cue("width", "displayed frame width after rotation (pixels)"),
    Cue("height", "displayed frame height after rotation (pixels)"),
    Cue("fps", "frame rate stated by the container (frames per second)"),
    Cue("rotation", "rotation metadata applied for display (degrees, counter-clockwise)"),
    Cue("bitrate_kbps", "overall bit rate of the file (kilobits per second)"),
    Cue("has_audio", "1 if the file has an audio track, else 0", "has sound"),
    Cue("vertical", "1 if the displayed frame is portrait (taller than wide), else 0", "vertical video"),
    Cue("native_vertical", "1 if portrait and not letterboxed landscape footage, else 0",
        "shot vertical (not cropped landscape)"),
    # picture (picture.py)
    Cue("sharpness", "log10(1 + variance of the Laplacian of the luma above the noise floor) at analysis "
        "size (median over samples); higher is crisper", "picture sharpness", "standing", "median",
        Polish(lambda c: "crisp focus", lambda c: "soft focus")),
    Cue("noise", "grain: Immerkaer noise sigma of the luma on flat areas at analysis size (8-bit levels)",
        "sensor grain (phone footage)", "standing", "median",
        Polish(lambda c: "clean, noise-free picture", lambda c: "visible sensor grain, as phone footage has")),
    Cue("colourfulness", "Hasler-Suesstrunk colourfulness M = sd(rg,yb) + 0.3 mean(rg,yb) (0 grey, >60 vivid)",
        "colour vividness (grading)", "standing", "median",
        Polish(lambda c: f"vivid colours (colourfulness {c['colourfulness']:.0f})",
               lambda c: f"muted colours (colourfulness {c['colourfulness']:.0f})")),
    Cue("saturation", "mean HSV saturation (0-1, median over samples)", "colour saturation", "percent", "median",
        Polish(lambda c: f"strongly graded colour (saturation {_pct(c['saturation'])})",
               lambda c: f"natural, ungraded colour (saturation {_pct(c['saturation'])})")),
    Cue("brightness", "mean luma (0-1, median over samples)", "brightness", "standing", "median"),
    Cue("contrast", "RMS contrast: standard deviation of luma (0-1, median over samples)", "contrast",
        "standing", "median"),
    Cue("highlights_clipped", "share of pixels at luma >= 250, blown highlights (0-1, mean over samples)",
        "blown-out highlights", "percent", "mean"),
    Cue("shadows_clipped", "share of pixels at luma <= 5, crushed shadows (0-1, mean over samples)",
        "crushed shadows", "percent", "mean"),
    Cue("edge_density", "share of Canny edge pixels at analysis size (0-1, median over samples)",
        "visual busyness", "standing", "median"),
    # composition (composition.py)
    Cue("text_coverage", "share of the picture covered by text-like overlay regions (0-1, mean over samples)",
        "screen area under text overlays", "percent", "mean"),
    Cue("text_frame_share", "share of sampled frames showing text or graphics overlays (0-1)",
        "frames with text or graphics", "percent", None,
        Polish(lambda c: f"text on {_pct(c['text_frame_share'])} of frames",
               lambda c: "no text overlays" if c["text_frame_share"] < 0.05
               else f"text on only {_pct(c['text_frame_share'])} of frames")),
    Cue("face_share", "share of sampled frames with a frontal face (0-1)", "frames with a face on camera",
        "percent", None,
        Polish(lambda c: "no face talking to camera" if c["face_share"] < 0.05
               else f"face on only {_pct(c['face_share'])} of frames",
               lambda c: f"face to camera in {_pct(c['face_share'])} of frames")),
    Cue("face_size", "area of the largest face as a share of the picture, where a face is seen (0-1)",
        "face size (close-up)", "percent"),
    Cue("faces_per_frame", "mean number of frontal faces per sampled frame", "faces on screen", "standing"),
    Cue("letterbox_share",
        "share of the picture taken by letterbox or pillarbox bars, black or blurred fill (0-1)",
        "letterbox bars (landscape footage)", "percent", "median",
        Polish(lambda c: f"letterboxed landscape footage ({_pct(c['letterbox_share'])} bars)",
               lambda c: "fills the vertical frame")),
    # time (motion.py)
    Cue("hard_cuts", "number of hard cuts found in the decoded span", "hard cuts"),
    Cue("cuts_per_10s", "hard cuts per 10 seconds of video", "editing pace", "per10s", None,
        Polish(_cuts_produced, _cuts_native)),
    Cue("mean_shot_s", "mean shot length (seconds)", "average shot length", "seconds"),
    Cue("shake", "camera shake: RMS of the high-frequency part (< ~0.5 s) of the global translation "
        "found by phase correlation (% of the frame diagonal)", "handheld camera shake", "standing", None,
        Polish(lambda c: f"tripod-steady camera (shake {c['shake']:.2f}% of frame)",
               lambda c: f"handheld shake ({c['shake']:.2f}% of frame)")),
    Cue("camera_motion", "mean speed of the smoothed global translation, pans and walks (% of diagonal per s)",
        "camera movement", "standing"),
    Cue("motion_energy", "mean absolute luma change between motion frames 1/motion_fps apart (8-bit levels)",
        "movement on screen", "standing"),
    Cue("static_share", "share of motion steps with almost no change (0-1)", "static moments", "percent"),
    Cue("exposure_drift", "within-shot change of mean brightness, auto-exposure hunting (8-bit levels per s)",
        "auto-exposure drift (natural light)", "standing", None,
        Polish(lambda c: "locked exposure", lambda c: "auto-exposure drifting, as in natural light")),
    # the hook (clip.py)
    Cue("hook_motion_energy", "motion energy inside the hook window (8-bit levels)",
        "movement in the first seconds", "standing"),
    Cue("hook_motion_ratio", "hook motion energy over the rest's, the rest floored at static_max_diff (ratio; >1 "
        "the opening moves more)", "opening moves more than the rest", "times"),
    Cue("hook_cuts", "hard cuts inside the hook window", "cuts in the first seconds"),
    Cue("hook_face_share", "share of hook samples with a frontal face (0-1)", "face in the first seconds",
        "percent"),
    Cue("hook_text_coverage", "text overlay coverage inside the hook window (0-1)", "text in the first seconds",
        "percent"),
)
# Name -> plain-English description with its unit, in column order.
CUE_DESCRIPTIONS: dict[str, str] = {cue.name: cue.description for cue in CUES}
CUE_NAMES: tuple[str, ...] = tuple(CUE_DESCRIPTIONS)

# Columns joined into the feature matrix carry `VIDEO_PREFIX` (see `table.post_video_features`).
VIDEO_FEATURE_DESCRIPTIONS: dict[str, str] = {
    **{f"{VIDEO_PREFIX}{name}": text for name, text in CUE_DESCRIPTIONS.items()},
    "polish_score": "how produced the video looks, 0 raw phone footage to 100 studio advert",
    "video_status": "ok, partial (only part decoded), failed, missing (file not found) or none (no video)",
}


def cue_fingerprint(cues: tuple[Cue, ...] = CUES) -> str:
    """What of the catalogue the cached cues depend on, as 8 hex digits: the cues' names in order, how each
    is measured and which enter the polish score. Descriptions and words do not count (they are read
    afresh); how a cue is computed cannot be seen here: change it, and bump `video.feature_version`."""
    shape = "\n".join(f"{c.name}:{c.over or 'clip'}:{'polish' if c.polish else '-'}" for c in cues)
    return hashlib.sha256(shape.encode()).hexdigest()[:8]


def video_feature_version(cfg: VideoConfig, cues: tuple[Cue, ...] = CUES) -> str:
    """The video cache key: `video.feature_version` and the catalogue's fingerprint ("video-v4+1a2b3c4d"),
    so that adding, removing or renaming a cue computes every video again without anyone bumping it."""
    return f"{cfg.feature_version}+{cue_fingerprint(cues)}"
