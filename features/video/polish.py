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
from collections.abc import Mapping

from features.video.cues.catalogue import CUES, Phrase
from sparkpick.config import PolishCue

# Words for each cue that enters the score, one phrase for the produced side and one for the native side,
# from the cue catalogue (each cue's `polish`).
PHRASES: dict[str, tuple[Phrase, Phrase]] = {
    cue.name: (cue.polish.produced, cue.polish.native) for cue in CUES if cue.polish is not None
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
