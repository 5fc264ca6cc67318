"""Simulated hourly delivery whose truth is known: boosts with a set settled cost ratio, a learning phase,
a daily rhythm and conversions reported some hours after the spend that caused them."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
START = pd.Timestamp("2026-03-01")
BASELINE_CPA = 20.0
# Conversions per dollar relative to settled delivery, by day of the boost (then 1).
LEARNING = (0.55, 0.75, 0.9)
MEAN_LAG_HOURS = 6.0
MAX_LAG_HOURS = 72


def learning(age: np.ndarray) -> np.ndarray:
    return np.where(age < 72, np.asarray(LEARNING)[np.minimum(age // 24, 2)], 1.0)


def lag_kernel() -> np.ndarray:
    d = np.arange(MAX_LAG_HOURS)
    p = np.exp(-d / MEAN_LAG_HOURS)
    return p / p.sum()


def baselines() -> pd.DataFrame:
    """One advertiser's in-feed ads, a steady CPA of BASELINE_CPA over a long period before everything."""
    return pd.DataFrame({
        "advertiser_id": ["a1"], "period_start": [START - pd.Timedelta(days=60)], "period_end": [START],
        "spend": [100_000.0], "impressions": [10_000_000], "views_2s": [3_000_000], "likes": [20_000],
        "comments": [800], "shares": [1_200], "clicks": [100_000], "conversions": [5_000],
    })


def boost_rows(rng: np.random.Generator, post_id: str, boosted_at: pd.Timestamp, hours: int, uplift: float,
               spend_per_hour: float, tail: bool = True, day_dispersion: float = 1.0) -> pd.DataFrame:
    """Hourly rows of one boost: settled conversions per dollar exp(uplift) / BASELINE_CPA; with
    `day_dispersion` > 1 each day's conversions vary that many times as much as Poisson ones (gamma-Poisson)."""
    age = np.arange(hours)
    hour_of_day = (boosted_at.floor("h").hour + age) % 24
    rhythm = 1.0 + 0.6 * np.sin(2 * np.pi * (np.asarray(hour_of_day) - 12) / 24)
    spend = np.round(spend_per_hour * rhythm * rng.lognormal(0, 0.2, hours), 2)
    rate = np.exp(uplift) / BASELINE_CPA
    mean = rate * spend * learning(age)
    if day_dispersion > 1.0:
        per_day = np.bincount(age // 24, weights=mean)
        k = np.maximum(per_day, 1e-9) / (day_dispersion - 1.0)
        mean = mean * rng.gamma(k, 1.0 / k)[age // 24]
    caused = rng.poisson(mean)
    width = hours + (MAX_LAG_HOURS if tail else 0)
    reported = np.zeros(width, int)
    kernel = lag_kernel()
    for h, n in enumerate(caused):
        if n:
            delays = rng.choice(MAX_LAG_HOURS, size=n, p=kernel)
            np.add.at(reported, np.minimum(h + delays, width - 1), 1)
    spend_all = np.concatenate([spend, np.zeros(width - hours)])
    impressions = rng.poisson(spend_all * 100)
    # Fast signals follow the uplift loosely: each boost has its own departure from the trend.
    thumb = 0.3 * np.exp(0.3 * uplift + rng.normal(0, 0.15))
    ctr = 0.01 * np.exp(0.4 * uplift + rng.normal(0, 0.25))
    views_2s = rng.binomial(impressions, min(thumb, 0.9))
    keep = (spend_all > 0) | (reported > 0)
    return pd.DataFrame({
        "post_id": post_id, "boosted_at": boosted_at, "hour_start": boosted_at.floor("h") + np.arange(width) * HOUR,
        "spend": spend_all, "impressions": impressions, "views_2s": views_2s,
        "views_6s": rng.binomial(views_2s, 0.4), "likes": rng.binomial(views_2s, 0.01), "comments": 0, "shares": 0,
        "clicks": rng.binomial(impressions, min(ctr, 0.5)), "conversions": reported,
    })[keep]


def world(seed: int, finished: int = 60, hours: int = 168, day_dispersion: float = 1.0
          ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Finished boosts (hourly rows, spark_results, posts), each a week long, settled uplifts N(0, 0.5)."""
    rng = np.random.default_rng(seed)
    rows, results, posts = [], [], []
    for i in range(finished):
        pid = f"p{i:03d}"
        t0 = START + pd.Timedelta(hours=int(rng.integers(0, 24 * 20)))
        r = boost_rows(rng, pid, t0, hours, float(rng.normal(0, 0.5)), float(rng.uniform(2, 8)),
                       day_dispersion=day_dispersion)
        rows.append(r)
        totals = r.drop(columns=["post_id", "boosted_at", "hour_start"]).sum()
        results.append({"post_id": pid, "boosted_at": t0, "ended_at": t0 + hours * HOUR, **totals.to_dict()})
        posts.append({"post_id": pid, "advertiser_id": "a1"})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(results), pd.DataFrame(posts)
