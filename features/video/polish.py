"""The polish score: 0 (raw phone footage) to 100 (studio advert), with the cues that drove it in words.

Why a designed score rather than a fitted one: the brief's claim is that content which looks like an ad
is swiped past, and what makes footage look produced is known from how adverts are made: fast editing,
a locked-off or gimbal camera, graded colour, clean pictures, text overlays, letterboxed landscape
masters, and fewer faces talking to the camera. Fitting weights to the demo world would learn its
renderer's quirks; the table lives in `configs/default.yaml` (`video.polish`) so a brand can refit it
on its own labelled posts.

How: each cue x in the table is placed on its native -> produced line,
    e = clip((x - native) / (produced - native), 0, 1)        (0 looks native, 1 looks produced),
and the score is 100 * sum(w * e) / sum(w) over the cues that could be measured. A cue's push is
w * (e - 0.5) / sum(w): the reasons are the two or three strongest pushes in the score's direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from sparkpick.config import PolishCue


def _pct(x: float) -> str:
    return f"{x:.0%}"


# Words for each cue, one phrase for the produced side and one for the native side.
Phrase = Callable[[Mapping[str, float]], str]


def _cuts_produced(c: Mapping[str, float]) -> str:
    span = c["hard_cuts"] / c["cuts_per_10s"] * 10 if c.get("cuts_per_10s") else float("nan")
    return f"{c['hard_cuts']:.0f} hard cuts in {span:.0f} s" if span == span else "fast editing"


def _cuts_native(c: Mapping[str, float]) -> str:
    n = c.get("hard_cuts", float("nan"))
    if n == 0:
        return "one continuous take, no cuts"
    return f"few cuts ({c['cuts_per_10s']:.1f} per 10 s, shots of {c['mean_shot_s']:.0f} s)"


PHRASES: dict[str, tuple[Phrase, Phrase]] = {
    "cuts_per_10s": (_cuts_produced, _cuts_native),
    "shake": (
        lambda c: f"tripod-steady camera (shake {c['shake']:.2f}% of frame)",
        lambda c: f"handheld shake ({c['shake']:.2f}% of frame)",
    ),
    "text_frame_share": (
        lambda c: f"text on {_pct(c['text_frame_share'])} of frames",
        lambda c: "no text overlays" if c["text_frame_share"] < 0.05
        else f"text on only {_pct(c['text_frame_share'])} of frames",
    ),
    "saturation": (
        lambda c: f"strongly graded colour (saturation {_pct(c['saturation'])})",
        lambda c: f"natural, ungraded colour (saturation {_pct(c['saturation'])})",
    ),
    "colourfulness": (
        lambda c: f"vivid colours (colourfulness {c['colourfulness']:.0f})",
        lambda c: f"muted colours (colourfulness {c['colourfulness']:.0f})",
    ),
    "noise": (
        lambda c: "clean, noise-free picture",
        lambda c: "visible sensor grain, as phone footage has",
    ),
    "exposure_drift": (
        lambda c: "locked exposure",
        lambda c: "auto-exposure drifting, as in natural light",
    ),
    "sharpness": (
        lambda c: "crisp focus",
        lambda c: "soft focus",
    ),
    "face_share": (
        lambda c: "no face talking to camera" if c["face_share"] < 0.05
        else f"face on only {_pct(c['face_share'])} of frames",
        lambda c: f"face to camera in {_pct(c['face_share'])} of frames",
    ),
    "letterbox_share": (
        lambda c: f"letterboxed landscape footage ({_pct(c['letterbox_share'])} bars)",
        lambda c: "fills the vertical frame",
    ),
}


def _evidence(x: float, row: PolishCue) -> float:
    span = row.produced - row.native
    if span == 0:
        return 0.5
    return min(1.0, max(0.0, (x - row.native) / span))


def polish_score(
    cues: Mapping[str, float], table: Mapping[str, PolishCue], n_reasons: int = 3
) -> tuple[float | None, list[str]]:
    """The 0-100 polish score of one video and up to `n_reasons` phrases naming the cues that drove it.

    Cues that are missing or NaN are left out (the weights renormalise); with none measurable the score
    is None.
    """
    pushes: list[tuple[float, str]] = []
    total_w, acc = 0.0, 0.0
    for name, row in table.items():
        x = cues.get(name)
        if x is None or not math.isfinite(x) or row.weight == 0:
            continue
        e = _evidence(x, row)
        total_w += row.weight
        acc += row.weight * e
        pushes.append((row.weight * (e - 0.5), name))
    if total_w == 0:
        return None, []
    score = 100.0 * acc / total_w
    produced_side = score >= 50
    ranked = sorted(pushes, reverse=produced_side)
    reasons: list[str] = []
    for push, name in ranked:
        if len(reasons) >= n_reasons or (push <= 0 if produced_side else push >= 0):
            break
        produced_phrase, native_phrase = PHRASES.get(name, (None, None))
        phrase = produced_phrase if produced_side else native_phrase
        side = "looks produced" if produced_side else "looks like phone footage"
        reasons.append(phrase(cues) if phrase else f"{name.replace('_', ' ')} {side}")
    return round(score, 1), reasons
