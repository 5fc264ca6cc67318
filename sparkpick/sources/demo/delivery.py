"""Hourly delivery of the demo world's Spark Ads: past boosts split hour by hour, and live boosts.

Every past boost's totals (spark_results) are split into hourly rows that sum to them exactly; live
boosts started in the world's last days still run at its end, so they have hourly rows up to the end and
no spark_results row. The data-generating choices, meant to look like TikTok delivery, not to suit any
model:

- Pacing: spend follows the audience's day (evening-heavy, `RHYTHM`, UTC), starts slowly while the ad
  enters the auction (`RAMP`) and wobbles hour to hour (log-normal, sd `PACING_NOISE`). Spend is split
  to the cent.
- Learning phase: while TikTok explores audiences a dollar buys fewer impressions and fewer conversions.
  Conversions per dollar at age a hours are `1 / (1 + L * exp(-a / tau))` of settled delivery (impressions
  per dollar `1 / (1 + L / 2 * exp(-a / tau))`), with each boost's `L` around `LEARNING_COST` and `tau`
  in `LEARNING_HOURS`: about 0.6 of settled at the start, 0.85-0.9 after a day, settled by day three.
- Reporting lag: conversions are credited in the hour they are reported (`real_time_conversion`), some
  hours after the spend that caused them: half within the session (exponential, mean `QUICK_MEAN_HOURS`),
  half after consideration (log-normal, median `CONSIDERED_MEDIAN_HOURS`, sd `CONSIDERED_SD` on the log
  scale), capped at the 7-day attribution window. Rows go on after the spend stops (zero spend, late
  conversions); a conversion that would be reported after the world's end is credited in its last hour.
- 2-second views, 6-second views, likes, comments, shares and clicks are spread over hours in proportion
  to impressions (each at most its parent count in every hour).
- Live boosts: per advertiser, about as many as it started in an average `LIVE_DAYS` days (at least one
  when it has a post with a live authorisation code), on recent authorised posts, started in the last
  `LIVE_DAYS` days, with the old policy's flight lengths and budgets.

`truth_boosts` holds each boost's true settled cost ratio (its settled cost per conversion over the
advertiser's expected in-feed one that month; > 1 = dearer) and its learning constants: truth-side only,
never read by the pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sparkpick.clock import HOUR, hour_ended_by
from sparkpick.config import WorldConfig
from sparkpick.sources.demo import paid
from sparkpick.sources.demo.world import Advertiser

DAY = pd.Timedelta(days=1)
HOURLY_COLUMNS = ["post_id", "boosted_at", "hour_start", "spend", "impressions", "views_2s", "views_6s", "likes",
                  "comments", "shares", "clicks", "conversions"]
TRUTH_BOOST_COLUMNS = ["post_id", "boosted_at", "advertiser_id", "live", "planned_end", "spend_planned",
                       "true_cost_ratio", "learning_cost", "learning_hours"]
# Audience activity by hour of day (UTC), the shape of TikTok's pacing.
RHYTHM = np.array([6, 4, 3, 2, 2, 2, 3, 4, 5, 6, 6, 7, 7, 7, 7, 8, 9, 10, 11, 12, 12, 11, 10, 8], float)
RAMP = np.array([0.3, 0.6, 0.85])
PACING_NOISE = 0.3
LEARNING_COST = 0.6
LEARNING_HOURS = (16.0, 30.0)
QUICK_MEAN_HOURS = 1.5
CONSIDERED_MEDIAN_HOURS = 10.0
CONSIDERED_SD = 1.0
ATTRIBUTION_HOURS = 7 * 24
LIVE_DAYS = 4.0
# Only posts published this recently are boosted live (a buyer boosts fresh content).
LIVE_POST_AGE = pd.Timedelta(days=30)


def _split(rng: np.random.Generator, total: int, weights: np.ndarray) -> np.ndarray:
    """`total` items over hours in proportion to `weights` (multinomial)."""
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    return rng.multinomial(int(total), weights / weights.sum())


def _thin(rng: np.random.Generator, total: int, parent: np.ndarray) -> np.ndarray:
    """`total` items over hours in proportion to a parent count, never more than it in any hour."""
    if total <= 0 or parent.sum() <= 0:
        return np.zeros(len(parent), dtype=np.int64)
    return rng.multivariate_hypergeometric(parent.astype(np.int64), int(min(total, parent.sum())), method="marginals")


def learning_multiplier(age: np.ndarray, cost: float, hours: float) -> np.ndarray:
    """Conversions per dollar at each age (hours since start) relative to settled delivery."""
    return 1.0 / (1.0 + cost * np.exp(-age / hours))


def _split_boost(rng: np.random.Generator, totals: dict[str, Any], boosted_at: pd.Timestamp, ended_at: pd.Timestamp,
                 cut: pd.Timestamp, end: pd.Timestamp) -> tuple[dict[str, np.ndarray], float, float, float]:
    """Hourly columns of one boost from its totals; rows only for hours that ended by `cut` and had any
    activity.

    Returns the rows, the boost's learning constants and the sum of spend x learning multiplier over
    its delivery hours (what its settled rate is measured against).
    """
    first = boosted_at.floor("h")
    n_hours = max(int(np.ceil((ended_at - first) / HOUR)), 1)
    age = np.arange(n_hours)
    hour_of_day = (first.hour + age) % 24
    ramp = np.ones(n_hours)
    ramp[: len(RAMP)] = RAMP[:n_hours]
    pace = RHYTHM[hour_of_day] * ramp * rng.lognormal(0, PACING_NOISE, n_hours)
    cents = _split(rng, round(totals["spend"] * 100), pace)
    spend = cents / 100.0
    cost = LEARNING_COST * float(rng.lognormal(0, 0.3))
    tau = float(rng.uniform(*LEARNING_HOURS))
    m = learning_multiplier(age, cost, tau)
    impressions = _split(rng, totals["impressions"], spend / (1.0 + 0.5 * cost * np.exp(-age / tau)))
    views_2s = _thin(rng, totals["views_2s"], impressions)
    views_6s = _thin(rng, totals["views_6s"], views_2s)
    likes = _thin(rng, totals["likes"], views_6s)
    clicks = _thin(rng, totals["clicks"], impressions)
    # Conversions: caused in proportion to spend x learning multiplier, reported after a delay.
    caused = _split(rng, totals["conversions"], spend * m)
    cause_hour = np.repeat(age, caused)
    quick = rng.random(len(cause_hour)) < 0.5
    delay = np.where(quick, rng.exponential(QUICK_MEAN_HOURS, len(cause_hour)),
                     CONSIDERED_MEDIAN_HOURS * np.exp(rng.normal(0, CONSIDERED_SD, len(cause_hour))))
    report = cause_hour + np.floor(np.minimum(delay, ATTRIBUTION_HOURS - 1)).astype(int)
    last_possible = int((end - first) / HOUR) - 1  # the last hour that ends by the world's end
    report = np.minimum(report, max(last_possible, n_hours - 1))
    width = max(n_hours, int(report.max()) + 1 if len(report) else n_hours)
    conversions = np.bincount(report, minlength=width)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros(width - len(a), dtype=a.dtype)])

    cols = {
        "hour_start": first + np.arange(width) * HOUR, "spend": pad(spend), "impressions": pad(impressions),
        "views_2s": pad(views_2s), "views_6s": pad(views_6s), "likes": pad(likes),
        "comments": pad(_thin(rng, totals["comments"], likes)), "shares": pad(_thin(rng, totals["shares"], likes)),
        "clicks": pad(clicks), "conversions": conversions,
    }
    counts = sum(v for k, v in cols.items() if k != "hour_start")
    active = (counts > 0) & np.asarray(hour_ended_by(cols["hour_start"], cut))
    return {k: np.asarray(v)[active] for k, v in cols.items()}, cost, tau, float((spend * m).sum())


def _in_feed_rate(adv: Advertiser, month: pd.Timestamp) -> float:
    """The advertiser's expected in-feed conversions per dollar in a month (baseline spend buys them)."""
    return 1000.0 * adv.ctr * adv.cvr / (adv.cpm * paid.season(month))


def hourly_delivery(boosts: pd.DataFrame, advertiser_of: pd.Series, advertisers: dict[str, Advertiser],
                    rng: np.random.Generator, end: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hourly rows and truth rows for boosts with totals and `expected_conversions` (their true mean).

    `boosts` has the spark_results columns plus `expected_conversions`, `live` and `planned_end` (the
    flight's end, which for a live boost is after `end`); `advertiser_of` maps post_id to advertiser.
    """
    parts, truth = [], []
    for r in boosts.itertuples(index=False):
        totals = {c: getattr(r, c) for c in ("spend", "impressions", "views_2s", "views_6s", "likes", "comments",
                                             "shares", "clicks", "conversions")}
        rows, cost, tau, spend_m = _split_boost(rng, totals, r.boosted_at, r.planned_end, end, end)
        n = len(rows["spend"])
        parts.append({"post_id": np.full(n, r.post_id, dtype=object), "boosted_at": np.full(n, r.boosted_at), **rows})
        adv = advertisers[advertiser_of[r.post_id]]
        settled_rate = r.expected_conversions / spend_m if spend_m > 0 else np.nan
        month = r.boosted_at.to_period("M").to_timestamp()
        truth.append({"post_id": r.post_id, "boosted_at": r.boosted_at, "advertiser_id": adv.advertiser_id,
                      "live": bool(r.live), "planned_end": r.planned_end, "spend_planned": round(r.spend, 2),
                      "true_cost_ratio": round(_in_feed_rate(adv, month) / settled_rate, 5),
                      "learning_cost": round(cost, 4), "learning_hours": round(tau, 2)})
    hourly = pd.DataFrame({c: np.concatenate([p[c] for p in parts]) if parts else [] for c in HOURLY_COLUMNS})
    hourly[["boosted_at", "hour_start"]] = hourly[["boosted_at", "hour_start"]].astype("datetime64[us]")
    hourly = hourly.sort_values(["boosted_at", "post_id", "hour_start"], kind="stable")
    return hourly.reset_index(drop=True), pd.DataFrame(truth, columns=TRUTH_BOOST_COLUMNS)


def live_flights(config: WorldConfig, posts: pd.DataFrame, rates: paid.PaidRates,
                 advertisers: dict[str, Advertiser], spark: pd.DataFrame, rng: np.random.Generator,
                 end: pd.Timestamp) -> pd.DataFrame:
    """Boosts started in the world's last days and still running at its end (totals of the whole flight)."""
    pol = config.policy
    rows = []
    span_days = max((spark["ended_at"].max() - spark["boosted_at"].min()) / DAY, 1.0) if len(spark) else 1.0
    boosted_posts = set(spark["post_id"])
    for adv_id, adv in advertisers.items():
        mine = posts["advertiser_id"] == adv_id
        n_past = int(spark["post_id"].isin(posts.loc[mine, "post_id"]).sum())
        window_start = end - LIVE_DAYS * DAY
        ok = (mine & posts["auth_start"].notna() & (posts["auth_start"] <= end - 12 * HOUR)
              & (posts["spark_auth_expires_at"] > end + DAY) & (posts["posted_at"] >= end - LIVE_POST_AGE)
              & ~posts["post_id"].isin(boosted_posts))
        candidates = np.flatnonzero(ok.to_numpy())
        if len(candidates) == 0:
            continue
        n_live = min(max(int(rng.poisson(n_past / span_days * LIVE_DAYS)), 1), len(candidates))
        for i in rng.choice(candidates, size=n_live, replace=False):
            lo = max(window_start, posts["auth_start"].iat[i], posts["posted_at"].iat[i] + 12 * HOUR)
            t0 = (lo + rng.uniform(0, 1) * max(end - 6 * HOUR - lo, pd.Timedelta(0))).ceil("h")
            if t0 >= end - 3 * HOUR:
                continue
            days = int(rng.integers(pol.flight_days[0], pol.flight_days[1] + 1))
            t1 = min(t0 + days * DAY, posts["spark_auth_expires_at"].iat[i])
            spend = max(adv.daily_boost_budget * days * float(rng.lognormal(0, 0.8)), 15.0)
            month = t0.to_period("M").to_timestamp()
            result = paid.spark_result(adv, rates, int(i), spend, month, config.effects.paid_noise, rng)
            rows.append({"post_id": posts["post_id"].iat[i], "boosted_at": t0, "planned_end": t1, **result})
    return pd.DataFrame(rows)
