"""The cue catalogue is the one door for video cues: what is declared there is extracted, explained, scored
for polish and keyed in the cache, and a cue declared but not measured (or the reverse) fails loudly."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from features.video import VIDEO_PREFIX
from features.video.cues import clip
from features.video.cues.catalogue import CUE_NAMES, CUES, Cue, Polish, cue_fingerprint, video_feature_version
from features.video.cues.clip import Container, clip_cues, frame_cues
from features.video.cues.motion import MotionTracker, summarize_motion
from features.video.cues.sample import (
    CLIP_MEASURES,
    FRAME_MEASURES,
    Clip,
    Sample,
    mean_of,
    per_clip,
    per_frame,
)
from features.video.polish import PHRASES
from models.explain import describe, reading
from tests.features.video.clips import canvas

ROOT = Path(__file__).resolve().parents[3]


def test_names_are_unique_and_every_cue_has_its_function() -> None:
    assert len(set(CUE_NAMES)) == len(CUES)
    assert set(FRAME_MEASURES) == {cue.name for cue in CUES if cue.over}
    assert set(CLIP_MEASURES) == {cue.name for cue in CUES if not cue.over}


def test_the_polish_table_scores_exactly_the_cues_that_enter_the_polish_score(settings) -> None:
    assert set(settings.video.polish) == {cue.name for cue in CUES if cue.polish}
    assert set(PHRASES) == set(settings.video.polish)


def test_every_cue_reads_in_plain_words_in_a_reason() -> None:
    descriptions = {f"{VIDEO_PREFIX}{cue.name}": cue.description for cue in CUES}
    for cue in CUES:
        feature = f"{VIDEO_PREFIX}{cue.name}"
        label = describe(feature, descriptions)
        if cue.label:
            assert label == cue.label
        else:  # the description's head, without its unit
            assert label and not label.endswith(")"), cue.name
        words = reading(feature, 0.25, descriptions[feature])
        assert (words is None) == (cue.reads_as == "standing"), cue.name
    assert reading("video_saturation", 0.25, "") == "25%"


def test_the_cache_key_follows_the_catalogue(settings) -> None:
    version = video_feature_version(settings.video)
    assert version == f"{settings.video.feature_version}+{cue_fingerprint()}"
    added = (*CUES, Cue("redness", "mean of R - G (8-bit levels)", over="median"))
    renamed = (replace(CUES[0], name="frame_width"), *CUES[1:])
    polished = tuple(replace(c, polish=Polish(str, str)) if c.name == "brightness" else c for c in CUES)
    reworded = tuple(replace(c, description=c.description + " ", label="x") for c in CUES)
    fingerprints = {cue_fingerprint(cues) for cues in (added, renamed, polished)}
    assert len(fingerprints) == 3 and cue_fingerprint() not in fingerprints
    assert cue_fingerprint(reworded) == cue_fingerprint()  # words are read afresh, not cached


def test_a_per_frame_function_is_registered_once() -> None:
    with pytest.raises(ValueError, match="'sharpness' is registered twice"):
        per_frame("sharpness")(lambda s: 0.0)


def test_a_clip_level_function_is_registered_once() -> None:
    with pytest.raises(ValueError, match="clip-level cue 'hook_cuts' is registered twice"):
        per_clip("hook_cuts")(lambda clip: 0.0)


# A fresh interpreter imports the cues after changing the catalogue or the register, as a new cue would.
_IMPORT = """
import features.video.cues.catalogue as catalogue
from features.video.cues.sample import per_clip
{change}
try:
    import features.video.cues.clip
except ImportError as exc:
    print(exc)
"""


@pytest.mark.parametrize(("change", "expected"), [
    ("catalogue.CUES = (*catalogue.CUES, catalogue.Cue('hook_redness', 'red in the hook (8-bit levels)'))",
     "clip-level cues without a @per_clip function ['hook_redness']"),
    ("per_clip('hook_redness')(lambda clip: 0.0)",
     "@per_clip functions without a catalogue entry without `over` ['hook_redness']"),
    ("catalogue.CUES = (*catalogue.CUES, catalogue.Cue('redness', 'R - G (8-bit levels)', over='median'))",
     "per-frame cues without a @per_frame function ['redness']"),
])
def test_a_cue_declared_without_its_function_or_the_reverse_fails_at_import(change: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", _IMPORT.format(change=change)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)
    assert expected in done.stdout, done.stdout + done.stderr


def test_a_new_clip_level_cue_is_one_entry_and_one_function(settings, monkeypatch) -> None:
    """A hook cue declared once, measured by one `@per_clip` function, comes out of the clip."""
    hook_text = Cue("hook_text_share", "share of hook samples with text (0-1)", "text in the first seconds",
                    "percent")

    def hook_text_share_of(clip: Clip) -> float:  # the README's example
        return mean_of([float(c["text_coverage"] > 0) for _t, c in clip.hook])

    monkeypatch.setitem(CLIP_MEASURES, "hook_text_share", hook_text_share_of)
    monkeypatch.setattr(clip, "PER_CLIP", (*clip.PER_CLIP, hook_text))
    monkeypatch.setattr(clip, "CUE_NAMES", (*CUE_NAMES, "hook_text_share"))
    cfg = settings.video
    frames = [canvas(seed)[60:380, 60:240].copy() for seed in range(3)]
    samples = [(float(t), frame_cues(f, cfg, detect_faces=False)) for t, f in enumerate(frames)]
    container = Container(width=180, height=320, fps=30.0, rotation=0, bitrate_kbps=None, has_audio=False)
    cues = clip_cues(samples, summarize_motion(MotionTracker(cfg), 3.0, cfg), container, cfg)
    hook = [c for t, c in samples if t < cfg.hook_window_s]
    assert cues["hook_text_share"] == float(np.mean([c["text_coverage"] > 0 for c in hook]))
    assert list(cues) == [*CUE_NAMES, "hook_text_share"] and cues["width"] == 180


def test_a_new_per_frame_cue_is_one_entry_and_one_function(settings, monkeypatch) -> None:
    """The worked example of the README: `redness` declared once, measured by one function, comes out of
    every sample and, summarised as declared, out of the clip."""
    redness = Cue("redness", "mean of R - G inside the picture (8-bit levels)", "red tint", "standing", "median")

    def redness_of(s: Sample) -> float:
        return float(np.mean(s.bgr[..., 2].astype(np.int16) - s.bgr[..., 1]))

    monkeypatch.setitem(FRAME_MEASURES, "redness", redness_of)
    monkeypatch.setattr(clip, "PER_FRAME", (*clip.PER_FRAME, redness))
    monkeypatch.setattr(clip, "CUE_NAMES", (*CUE_NAMES, "redness"))
    cfg = settings.video
    frames = [canvas(seed)[60:380, 60:240].copy() for seed in range(3)]
    samples = [(float(t), frame_cues(f, cfg, detect_faces=False)) for t, f in enumerate(frames)]
    per_sample = [c["redness"] for _t, c in samples]
    assert per_sample == [redness_of(Sample(f, f[..., 0], 0.0, cfg)) for f in frames]
    tracker = MotionTracker(cfg)
    container = Container(width=180, height=320, fps=30.0, rotation=0, bitrate_kbps=None, has_audio=False)
    cues = clip_cues(samples, summarize_motion(tracker, 3.0, cfg), container, cfg)
    assert cues["redness"] == float(np.median(per_sample))
    assert list(cues) == [*CUE_NAMES, "redness"] and not math.isnan(cues["sharpness"])
