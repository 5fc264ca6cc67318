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


def describe(feature: str, descriptions: dict[str, str]) -> str:
    """The feature's readable description, or its name made readable when it has none."""
    text = descriptions.get(feature) or feature.replace("_", " ")
    return text.rstrip(". ")


def reason_text(feature: str, value: object, contribution: float, descriptions: dict[str, str]) -> str:
    """One reason in plain words, e.g. "shares per view: 0.042 (helps)": the feature, its value, and
    whether it pushed this post's expected uplift up (helps) or down (holds it back)."""
    effect = "helps" if contribution > 0 else "holds it back"
    return f"{describe(feature, descriptions)}: {format_value(value)} ({effect})"


def top_reasons(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    descriptions: dict[str, str],
    n: int = 3,
) -> pd.DataFrame:
    """Columns `reason_1..reason_n` per row: the features that raised the score most, then drags."""
    features = [c for c in contributions.columns if c != BIAS]
    contrib = contributions[features].to_numpy(dtype=float)
    rows: list[list[str]] = []
    for i in range(len(contributions)):
        c = contrib[i]
        ups = [j for j in np.argsort(-c, kind="stable") if c[j] > 0]
        downs = [j for j in np.argsort(c, kind="stable") if c[j] < 0]
        picked = (ups + downs)[:n]
        texts = [
            reason_text(features[j], values.iloc[i][features[j]] if features[j] in values else None,
                        float(c[j]), descriptions)
            for j in picked
        ]
        rows.append(texts + [""] * (n - len(texts)))
    return pd.DataFrame(rows, columns=[f"reason_{i + 1}" for i in range(n)], index=contributions.index)


def shap_summary(contributions: pd.DataFrame) -> pd.Series:
    """Mean absolute contribution per feature, largest first (the global importance SHAP reports)."""
    features = [c for c in contributions.columns if c != BIAS]
    return contributions[features].abs().mean().sort_values(ascending=False).rename("mean_abs_contribution")
