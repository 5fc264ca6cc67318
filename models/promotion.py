"""The promotion gate: which alias a new model version gets, and why, in a sentence (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sparkpick.errors import InputError

CHAMPION = "champion"
CHALLENGER = "challenger"
PROMOTION_MODES = ("auto", "never", "force")
# The gate's judgement on a version (a model-version tag).
PROMOTION_TAG = "promotion"


@dataclass(frozen=True)
class PromotionDecision:
    """Which alias the new version gets (None: none), and why, in a sentence."""

    alias: str | None
    reason: str
    champion_value: float | None = None


def decide_promotion(
    mode: str, metric: str, new_value: float, champion_value: float | None, champion_version: str | None,
    champion_problem: str | None = None, decisions: int | None = None, since: str | None = None,
) -> PromotionDecision:
    """The promotion gate: who becomes champion, and the reason in words.

    `auto`: the first model becomes champion; later ones only when they beat the current champion on the
    same validation decisions by `metric` (strictly), counting only the `decisions` the champion was not
    fitted on (after `since`); otherwise, or when there are none, they become challenger. A champion that
    cannot be evaluated on the new data (`champion_problem`, e.g. another feature version) is replaced.
    `never`: challenger, whatever the figures. `force`: champion, whatever the figures.
    """
    if mode not in PROMOTION_MODES:
        raise InputError(f"--promote must be one of {', '.join(PROMOTION_MODES)}, not {mode!r}.")
    shown = f"{metric} {new_value:.3f}"
    if mode == "force":
        return PromotionDecision(CHAMPION, f"promoted by --promote force ({shown})", champion_value)
    if mode == "never":
        return PromotionDecision(CHALLENGER, f"not promoted: --promote never ({shown})", champion_value)
    if champion_version is None:
        return PromotionDecision(CHAMPION, f"first model: it becomes champion ({shown})")
    if champion_problem is not None:
        return PromotionDecision(
            CHAMPION, f"champion v{champion_version} cannot be evaluated here ({champion_problem}); "
            f"the new model replaces it ({shown})",
        )
    if decisions == 0:
        return PromotionDecision(
            CHALLENGER,
            f"kept champion v{champion_version}: it was fitted on every validation decision (through "
            f"{since}), so there is no fair comparison yet; it will be compared on decisions after that "
            f"(or use --promote force)",
        )
    if champion_value is None or math.isnan(champion_value):
        return PromotionDecision(
            CHAMPION, f"champion v{champion_version} has no {metric} on these decisions; replaced ({shown})"
        )
    if math.isnan(new_value) or new_value <= champion_value:
        return PromotionDecision(
            CHALLENGER,
            f"kept champion v{champion_version}: on the same validation decisions its {metric} is "
            f"{champion_value:.3f} and the new model's {new_value:.3f} does not beat it",
            champion_value,
        )
    return PromotionDecision(
        CHAMPION,
        f"beats champion v{champion_version} on the same validation decisions: {metric} "
        f"{new_value:.3f} > {champion_value:.3f}",
        champion_value,
    )
