"""Paid outcomes: advertisers' standard in-feed baselines and how a post performs as a Spark Ad.

Paid audiences are strangers. Relative to the advertiser's in-feed ads (log scale, per unit of trait
centred at a typical post's value):
- the 2-second thumb-stop follows the hook; polish lowers it (ad blindness), authenticity raises it;
- the auction charges less (CPM) for creative that stops thumbs;
- clicks follow hook, authenticity and topic fit; polish hurts clicks much more than it hurts organic
  engagement; the penalty is softer when the hook is strong and differs by advertiser (context-dependent);
- conversions per click follow topic fit, a little authenticity, and familiarity: the log of one plus the
  number of posts the creator made about the advertiser before compounds (creators only);
- every boost draws its own noise, and conversions are overdispersed Poisson, so small boosts are noisy.

`expected_uplift` is the expected log(baseline CPA / Spark CPA): the structural part of the rates with the
per-boost noise at its mean (zero on the log scale), against the advertiser's expected in-feed CPA in the
same period. Seasonality moves both CPMs alike, so it cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparkpick.config import WorldEffectsConfig
from sparkpick.sources.demo.world import Advertiser

# Engagement on in-feed ads per 2-second view, and comment/share shares of likes (baseline creative).
BASELINE_LIKE_RATE = 0.008
# Traits are centred at a typical post's, so that `spark_advantage` is the typical post's advantage.
TYPICAL = {"hook": 0.5, "authenticity": 0.6, "polish": 0.4, "topic_fit": 0.65}
# Conversion overdispersion: gamma shape of the per-boost conversion-rate multiplier.
CONVERSION_SHAPE = 8.0


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def season(month_start: pd.Timestamp) -> float:
    """CPM seasonality: a gentle yearly wave plus the Q4 rush."""
    m = month_start.month
    return float(1.0 + 0.08 * np.sin(2 * np.pi * (m - 4) / 12) + (0.25 if m in (11, 12) else 0.0))


@dataclass(frozen=True)
class PaidRates:
    """Structural (noise-free) paid response of posts, aligned with the posts passed in."""

    thumb_logit: np.ndarray
    hold_logit: np.ndarray
    log_cpm_mult: np.ndarray
    log_ctr_mult: np.ndarray
    log_cvr_mult: np.ndarray
    like_log: np.ndarray

    @property
    def expected_uplift(self) -> np.ndarray:
        return self.log_ctr_mult + self.log_cvr_mult - self.log_cpm_mult


def paid_rates(posts: pd.DataFrame, advertisers: dict[str, Advertiser], effects: WorldEffectsConfig) -> PaidRates:
    adv = [advertisers[a] for a in posts["advertiser_id"]]

    def per_adv(attr: str) -> np.ndarray:
        return np.array([getattr(a, attr) for a in adv], float)

    hook = posts["hook"].to_numpy()
    ch, ca = hook - TYPICAL["hook"], posts["authenticity"].to_numpy() - TYPICAL["authenticity"]
    cp, cf = posts["polish"].to_numpy() - TYPICAL["polish"], posts["topic_fit"].to_numpy() - TYPICAL["topic_fit"]
    own = (posts["kind"] == "own").to_numpy()
    base_thumb = np.array([_logit(a.thumbstop) for a in adv])
    pp = effects.polish_paid_penalty * per_adv("polish_mult") * (1.25 - 0.5 * hook)
    auth = effects.authenticity_paid * per_adv("authenticity_mult")
    fit = effects.topic_fit_conversion * per_adv("topic_fit_mult")
    fam = np.where(
        own, 0.0, effects.familiarity_gain * per_adv("familiarity_mult") * np.log1p(posts["prior_posts"].to_numpy())
    )
    creative = effects.hook_thumbstop * per_adv("hook_mult") * ch + 0.5 * auth * ca - 0.6 * pp * cp
    thumb_logit = base_thumb + effects.spark_advantage + creative
    return PaidRates(
        thumb_logit=thumb_logit,
        hold_logit=0.1 + 1.0 * ch + auth * ca + 0.5 * fit * cf - 0.5 * pp * cp,
        log_cpm_mult=-0.35 * creative,
        log_ctr_mult=effects.spark_advantage + 0.5 * ch + auth * ca + 0.5 * fit * cf - pp * cp + fam,
        log_cvr_mult=fit * cf + 0.3 * auth * ca + 0.5 * fam,
        like_log=1.0 * ch + 1.0 * ca - 0.5 * pp * cp,
    )


def month_starts(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    first = start.to_period("M").to_timestamp()
    return [t for t in pd.date_range(first, end, freq="MS") if t < end]


def baselines(advertisers: list[Advertiser], start: pd.Timestamp, end: pd.Timestamp,
              rng: np.random.Generator) -> pd.DataFrame:
    """Monthly totals of each advertiser's standard in-feed ads (the last month ends at the world's end)."""
    rows = []
    for adv in advertisers:
        for month in month_starts(start, end):
            period_end = min(month + pd.offsets.MonthBegin(1), end)
            share = (period_end - month) / pd.Timedelta(days=30)
            s = season(month)
            spend = adv.monthly_budget * s * share * rng.lognormal(0, 0.15)
            impressions = int(spend / (adv.cpm * s * rng.lognormal(0, 0.05)) * 1000)
            views_2s = rng.binomial(impressions, np.clip(adv.thumbstop * rng.lognormal(0, 0.03), 0, 1))
            likes = rng.binomial(views_2s, BASELINE_LIKE_RATE)
            clicks = rng.binomial(impressions, adv.ctr * rng.lognormal(0, 0.05))
            rows.append({
                "advertiser_id": adv.advertiser_id, "period_start": month, "period_end": period_end,
                "spend": round(spend, 2), "impressions": impressions, "views_2s": views_2s, "likes": likes,
                "comments": rng.binomial(likes, 0.04), "shares": rng.binomial(likes, 0.06), "clicks": clicks,
                "conversions": rng.poisson(clicks * adv.cvr * rng.lognormal(0, 0.05)),
            })
    return pd.DataFrame(rows)


def spark_result(adv: Advertiser, rates: PaidRates, i: int, spend: float, month: pd.Timestamp,
                 noise: float, rng: np.random.Generator) -> dict[str, float | int]:
    """Realised totals of one boost of post `i` (row in `rates`) with the given spend, and the mean its
    conversions were drawn from (`expected_conversions`, not a contract column)."""
    s = season(month)
    cpm = adv.cpm * s * np.exp(rates.log_cpm_mult[i] + rng.normal(0, 0.6 * noise))
    impressions = int(spend / cpm * 1000)
    views_2s = rng.binomial(impressions, _sigmoid(rates.thumb_logit[i] + rng.normal(0, noise)))
    views_6s = rng.binomial(views_2s, _sigmoid(rates.hold_logit[i] + rng.normal(0, noise)))
    likes = rng.binomial(views_6s, min(0.02 * np.exp(rates.like_log[i] + rng.normal(0, 0.3)), 0.5))
    ctr = min(adv.ctr * np.exp(rates.log_ctr_mult[i] + rng.normal(0, noise)), 0.3)
    clicks = rng.binomial(impressions, ctr)
    cvr = adv.cvr * np.exp(rates.log_cvr_mult[i] + rng.normal(0, noise))
    mean_conv = clicks * cvr * rng.gamma(CONVERSION_SHAPE, 1.0 / CONVERSION_SHAPE)
    return {
        "spend": round(spend, 2), "impressions": impressions, "views_2s": views_2s, "views_6s": views_6s,
        "likes": likes, "comments": rng.binomial(likes, 0.05), "shares": rng.binomial(likes, 0.08),
        "clicks": clicks, "conversions": int(rng.poisson(mean_conv)),
        # The boost's true mean (truth side: the hourly split measures its settled cost against it).
        "expected_conversions": float(mean_conv),
    }
