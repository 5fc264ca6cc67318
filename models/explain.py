"""Why a post ranks where it does: LightGBM's own TreeSHAP contributions turned into plain words.

`ScoringModel.contributions` gives, per row, each feature's additive share of the score (LightGBM's
`pred_contrib=True`, exact TreeSHAP for trees). The reasons for a pick are its features that pushed the
score up the most; if fewer than `n` did, the strongest ones holding it back follow, marked as such.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from features.video import VIDEO_PREFIX
from features.video.cues.catalogue import CUES
from sparkpick.wording import ratio_phrase

BIAS = "bias"


def format_value(value: object) -> str:
    """A number as a person reads it: thousands separated, small numbers to 2 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "unknown"
    if number.is_integer() and abs(number) >= 1:
        return f"{int(number):,}"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.2g}" if abs(number) < 10 else f"{number:.0f}"


def percent(fraction: float) -> str:
    """0.43 -> "43%", 0.042 -> "4.2%", 0.0042 -> "0.42%"."""
    p = 100 * fraction
    return f"{p:.0f}%" if abs(p) >= 10 else f"{p:.1f}%" if abs(p) >= 1 else f"{p:.2f}%"


def typical(z: float) -> str:
    """A robust z-score against the usual as words."""
    if z >= 2:
        return "far above usual"
    if z >= 1:
        return "above usual"
    if z > -1:
        return "about usual"
    return "below usual" if z > -2 else "far below usual"


# Marketer's words for model inputs whose descriptions are measurement recipes: the video cues' come
# from the cue catalogue (`features/video/cues/catalogue.py`).
PLAIN_LABELS: dict[str, str] = {
    **{f"{VIDEO_PREFIX}{cue.name}": cue.label for cue in CUES if cue.label},
    "video_duration_s": "video length",
    "video_polish_score": "polish score",
}
# How a value reads, where its description's unit does not say: "percent" (a 0-1 share), "seconds",
# "per10s", "times" (a ratio), "of100", or "standing" (a lab scale nobody outside it can read: only where
# the post stands among the candidates is shown).
VALUE_KINDS: dict[str, str] = {
    **{f"{VIDEO_PREFIX}{cue.name}": cue.reads_as for cue in CUES if cue.reads_as},
    "video_duration_s": "seconds", "video_polish_score": "of100",
}
_UNIT = re.compile(r"\s*\(([^()]*)\)\s*$")
_LOG_RATIO = "log cost ratio"


def _unit(description: str) -> str:
    found = _UNIT.search(description)
    return found.group(1).strip().lower() if found else ""


def _kind(feature: str, description: str) -> str:
    if feature in VALUE_KINDS:
        return VALUE_KINDS[feature]
    unit = _unit(description)
    if unit == _LOG_RATIO:
        return "log_ratio"
    if unit == "robust z-score":
        return "z"
    if unit in ("fraction", "0-1") or "per view" in description:
        return "percent"
    return {"seconds": "seconds", "hours": "hours", "days": "days", "views/hour": "per_hour"}.get(unit, "number")


def reading(feature: str, value: object, description: str) -> str | None:
    """The value in a marketer's words ("4.2%", "about usual", "12 s"), or None when its scale means
    nothing outside the lab (then only where it stands among the candidates is worth saying)."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number):
        return "unknown"
    x = float(number)
    kind = _kind(feature, description)
    if kind == "standing":
        return None
    if kind == "log_ratio":
        return cost_phrase(math.exp(min(max(x, -20.0), 20.0)))  # no overflow on a wild value
    if kind == "z":
        return typical(x)
    if kind == "percent":
        return percent(x)
    if kind == "seconds":
        return f"{x:.0f} s" if abs(x) >= 10 else f"{x:.1f} s"
    if kind == "per10s":
        return f"{x:.1f} cuts per 10 s"
    if kind == "times":
        return f"{x:.1f}x"
    if kind == "of100":
        return f"{x:.0f} of 100"
    if kind == "hours":
        return f"{x / 24:.0f} days" if x >= 72 else f"{x:.0f} h"
    if kind == "days":
        return f"{x:.0f} days"
    if kind == "per_hour":
        return f"{format_value(round(x))} an hour"
    if 0 < abs(x) < 1:  # a fraction of a count, a day or a post reads as a bare fraction
        return "under 1" if x > 0 else "just below 0"
    return format_value(x)


def cost_phrase(ratio: float) -> str:
    """A cost-per-conversion ratio (in-feed CPA over Spark CPA) as "came at 0.59x your in-feed cost"."""
    return f"came at {ratio_phrase(ratio)}"


def describe(feature: str, descriptions: dict[str, str]) -> str:
    """A short readable label: a plain label, else the description without its unit or recipe."""
    if feature in PLAIN_LABELS:
        return PLAIN_LABELS[feature]
    text = descriptions.get(feature) or feature.replace("_", " ")
    head, sep, _ = text.partition(": ")
    if sep and len(head.split()) <= 3:
        text = head
    return _UNIT.sub("", text).rstrip(". ")


# Reasons that read as a sentence of their own: (feature, words for the value) -> the reason.
SENTENCES: dict[str, Callable[[str], str]] = {
    "creator_prior_uplift": lambda words: f"this creator's earlier Spark Ads {words}",
}


def standing(percentile: float | None) -> str:
    """Where a value stands among the posts scored together, in words ("" when unknown or middling)."""
    if percentile is None or math.isnan(percentile):
        return ""
    if percentile >= 0.9:
        return f"top {max(1, round((1 - percentile) * 100))}% of candidates"
    if percentile <= 0.1:
        return f"bottom {max(1, round(percentile * 100))}% of candidates"
    return f"higher than {round(percentile * 100)}% of candidates"


def reason_text(
    feature: str, value: object, contribution: float, descriptions: dict[str, str], percentile: float | None = None
) -> str:
    """One reason in plain words, e.g. "shares per view: 4.2%, top 5% of candidates (helps)": the feature,
    its value as a marketer reads it (a share as a percentage, a cost ratio as "0.59x your in-feed cost", a z-score
    as "above usual"), where it stands among the posts scored together, and whether it pushed this post's
    expected uplift up (helps) or down (holds it back)."""
    effect = "helps" if contribution > 0 else "holds it back"
    binary = isinstance(value, bool | np.bool_)
    words = reading(feature, value, descriptions.get(feature, ""))
    where = "" if binary else standing(percentile)
    if feature in SENTENCES and words not in (None, "unknown"):
        return f"{SENTENCES[feature](words or '')} ({effect})"
    said = ", ".join(part for part in (words, where) if part) or "about average among candidates"
    return f"{describe(feature, descriptions)}: {said} ({effect})"


def top_reasons(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    descriptions: dict[str, str],
    n: int = 3,
) -> pd.DataFrame:
    """Columns `reason_1..reason_n` per row: the features that raised the score most, then drags."""
    features = [c for c in contributions.columns if c != BIAS]
    contrib = contributions[features].to_numpy(dtype=float)
    present = [f for f in features if f in values.columns]
    # Percentiles among the rows scored together: "top 5% of candidates" reads better than a raw number.
    pct = values[present].apply(pd.to_numeric, errors="coerce").rank(pct=True) if present else pd.DataFrame()
    binary = {f for f in present if values[f].dropna().isin([0, 1, True, False]).all()}
    rows: list[list[str]] = []
    for i in range(len(contributions)):
        c = contrib[i]
        ups = [j for j in np.argsort(-c, kind="stable") if c[j] > 0]
        downs = [j for j in np.argsort(c, kind="stable") if c[j] < 0]
        picked = (ups + downs)[:n]
        texts = [
            reason_text(
                features[j], _value(values, i, features[j], binary), float(c[j]),
                descriptions,
                None if features[j] not in present or features[j] in binary else float(pct.iloc[i][features[j]]),
            )
            for j in picked
        ]
        rows.append(texts + [""] * (n - len(texts)))
    return pd.DataFrame(rows, columns=[f"reason_{i + 1}" for i in range(n)], index=contributions.index)


def _value(values: pd.DataFrame, i: int, feature: str, binary: set[str]) -> object:
    if feature not in values.columns:
        return None
    value = values.iloc[i][feature]
    return bool(value) if feature in binary and not pd.isna(value) else value


def shap_summary(contributions: pd.DataFrame) -> pd.Series:
    """Mean absolute contribution per feature, largest first (the global importance SHAP reports)."""
    features = [c for c in contributions.columns if c != BIAS]
    return contributions[features].abs().mean().sort_values(ascending=False).rename("mean_abs_contribution")
