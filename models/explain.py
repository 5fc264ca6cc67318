"""Why a post ranks where it does: LightGBM's own TreeSHAP contributions turned into plain words.

`ScoringModel.contributions` gives, per row, each feature's additive share of the score (LightGBM's
`pred_contrib=True`, exact TreeSHAP for trees). The reasons for a pick are its features that pushed the
score up the most; if fewer than `n` did, the strongest ones holding it back follow, marked as such.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

BIAS = "bias"


def format_value(value: object) -> str:
    """A feature value as a person reads it: thousands separated, small numbers to 3 significant digits."""
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
    return f"{number:.3g}"


# Marketer's words for the video cues whose full descriptions are measurement recipes.
PLAIN_LABELS: dict[str, str] = {
    "video_sharpness": "picture sharpness",
    "video_noise": "sensor grain (phone footage)",
    "video_colourfulness": "colour vividness (grading)",
    "video_saturation": "colour saturation",
    "video_brightness": "brightness",
    "video_contrast": "contrast",
    "video_edge_density": "visual busyness",
    "video_text_coverage": "text overlays on screen",
    "video_text_frame_share": "share of frames with text or graphics",
    "video_face_share": "face on camera",
    "video_face_size": "face size (close-up)",
    "video_cuts_per_10s": "hard cuts per 10 s (editing pace)",
    "video_hard_cuts": "hard cuts",
    "video_mean_shot_s": "average shot length (s)",
    "video_shake": "handheld camera shake",
    "video_camera_motion": "camera movement",
    "video_motion_energy": "movement on screen",
    "video_static_share": "static moments",
    "video_exposure_drift": "auto-exposure drift (natural light)",
    "video_hook_motion_energy": "movement in the first seconds",
    "video_hook_motion_ratio": "opening moves more than the rest",
    "video_hook_cuts": "cuts in the first seconds",
    "video_hook_face_share": "face in the first seconds",
    "video_hook_text_coverage": "text in the first seconds",
    "video_polish_score": "polish score (0 phone footage, 100 studio ad)",
}


def describe(feature: str, descriptions: dict[str, str]) -> str:
    """A short readable label: a plain label, else the description without its measurement recipe."""
    if feature in PLAIN_LABELS:
        return PLAIN_LABELS[feature]
    text = descriptions.get(feature) or feature.replace("_", " ")
    head, sep, _ = text.partition(": ")
    if sep and len(head.split()) <= 3:
        text = head
    return text.rstrip(". ")


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
    """One reason in plain words, e.g. "shares per view: 0.042, top 5% of candidates (helps)": the feature,
    its value, where it stands among the posts scored together, and whether it pushed this post's expected
    uplift up (helps) or down (holds it back)."""
    effect = "helps" if contribution > 0 else "holds it back"
    where = standing(percentile) if not isinstance(value, bool | np.bool_) else ""
    return f"{describe(feature, descriptions)}: {format_value(value)}{', ' + where if where else ''} ({effect})"


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
