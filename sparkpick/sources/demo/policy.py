"""The advertisers' historical boosting policy and the Spark Ads it ran.

A media buyer looks at each post that has a live authorisation code a few days after posting, sees its
organic numbers as TikTok reports them then (lagged), and boosts it with a probability that is logistic in
the post's engagement rate and views (z-scored within the advertiser), with a bonus for the brand's own
account. That probability is `boost_propensity`. A flight runs a few days to two weeks, never past the
code's expiry nor the world's end. A boost that beat the baseline is sometimes run again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sparkpick.config import WorldConfig
from sparkpick.contract import SPARK_RESULTS
from sparkpick.sources.demo import paid
from sparkpick.sources.demo.organic import Organic, observed_engagement
from sparkpick.sources.demo.world import Advertiser

DAY = pd.Timedelta(days=1)
MIN_FLIGHT = pd.Timedelta(days=2)


def _zscore(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values, dtype=float)
    for g in np.unique(groups):
        m = groups == g
        sd = values[m].std()
        out[m] = (values[m] - values[m].mean()) / (sd if sd > 0 else 1.0)
    return out


def _baseline_cpa(baselines: pd.DataFrame) -> dict[tuple[str, pd.Timestamp], float]:
    b = baselines
    return {
        (a, s): sp / max(c, 1)
        for a, s, sp, c in zip(b["advertiser_id"], b["period_start"], b["spend"], b["conversions"], strict=True)
    }


def run_boosts(config: WorldConfig, posts: pd.DataFrame, organic: Organic, rates: paid.PaidRates,
               advertisers: dict[str, Advertiser], baselines: pd.DataFrame, rng: np.random.Generator,
               end: pd.Timestamp) -> pd.DataFrame:
    """The spark_results table (with boost_propensity) of every flight the old policy ran, plus each
    flight's true mean conversions (`expected_conversions`, truth side)."""
    pol = config.policy
    n = len(posts)
    posted = posts["posted_at"]
    auth_start = posts["auth_start"]
    auth_end = posts["spark_auth_expires_at"]
    decision = posted + pd.to_timedelta(rng.uniform(*pol.decision_delay_days, n), unit="D")
    start = pd.concat([decision, auth_start], axis=1).max(axis=1)
    start = (start + pd.to_timedelta(rng.uniform(0, 1, n), unit="D")).dt.ceil("h")
    flight = pd.to_timedelta(rng.integers(pol.flight_days[0], pol.flight_days[1] + 1, n), unit="D")
    stop = pd.concat([start + flight, auth_end], axis=1).min(axis=1)
    eligible = (auth_start.notna() & ((stop - start) >= MIN_FLIGHT) & (stop <= end)).to_numpy()

    # What the buyer saw: counts as reported at the decision (lagged by up to the reporting delay).
    seen_h = ((start - posted) / pd.Timedelta(hours=1)).to_numpy(float)
    seen_h = seen_h - rng.uniform(0, config.organic.max_report_lag_hours, n)
    views, engagement = observed_engagement(posts, organic, seen_h, rng)
    groups = posts["advertiser_id"].to_numpy()
    idx = np.flatnonzero(eligible)
    logit = (
        pol.intercept
        + pol.engagement_weight * _zscore(np.log(engagement[idx] + 1e-4), groups[idx])
        + pol.views_weight * _zscore(np.log(views[idx]), groups[idx])
        + pol.own_account_bonus * (posts["kind"].to_numpy()[idx] == "own")
    )
    propensity = np.clip(1 / (1 + np.exp(-logit)), pol.min_propensity, pol.max_propensity)
    chosen = rng.random(len(idx)) < propensity

    cpa = _baseline_cpa(baselines)
    budget_noise = rng.lognormal(0, 0.8, n)
    rows: list[dict[str, Any]] = []
    for j, i in enumerate(idx):
        if not chosen[j]:
            continue
        adv = advertisers[posts["advertiser_id"].iat[i]]
        flights = [(start.iat[i], stop.iat[i], float(propensity[j]), False)]
        while flights:
            t0, t1, prop, again = flights.pop()
            days = (t1 - t0) / DAY
            spend = max(adv.daily_boost_budget * days * budget_noise[i], 15.0)
            month = t0.to_period("M").to_timestamp()
            result = paid.spark_result(adv, rates, int(i), spend, month, config.effects.paid_noise, rng)
            rows.append({"post_id": posts["post_id"].iat[i], "boosted_at": t0, "ended_at": t1, **result,
                         "boost_propensity": round(prop, 4)})
            base = cpa.get((adv.advertiser_id, month))
            beat = base is not None and result["conversions"] > 0 and spend / result["conversions"] < base
            if beat and not again and rng.random() < pol.reboost_rate:
                r0 = (t1 + rng.uniform(1, 5) * DAY).floor("h")
                r1 = min(r0 + rng.integers(pol.flight_days[0], pol.flight_days[1] + 1) * DAY, auth_end.iat[i])
                if r1 - r0 >= MIN_FLIGHT and r1 <= end:
                    flights.append((r0, r1, pol.reboost_rate, True))
    columns = [c.name for c in SPARK_RESULTS.columns] + ["expected_conversions"]
    out = pd.DataFrame(rows, columns=columns)
    out[["boosted_at", "ended_at"]] = out[["boosted_at", "ended_at"]].astype("datetime64[us]")
    return out.sort_values(["boosted_at", "post_id"], kind="stable").reset_index(drop=True)
