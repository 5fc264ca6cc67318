"""The pause threshold before there are finished boosts to replay: good boosts simulated from the monitor's
own model (its lag and learning phase, fitted or assumed; the past boosts' spread of uplifts; their pace),
replayed at the looks the deployment makes, within the same budgets as the finished boosts' calibration.
Real boosts vary more than plain Poisson counts around a steady pace (a daily rhythm, noisier delivery,
norms that fit imperfectly), so the simulated ones get the finished boosts' daily spend rhythm and their
day-level overdispersion (`delivery_variation`), or a conservative default before there are enough."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from models.monitor.calibration import _pause_threshold, _replay_statistics
from models.monitor.evidence import U_COARSE, _normal_logpdf
from models.monitor.norms import DeliveryNorms, PauseCalibration, UpliftPrior
from models.monitor.schedule import hour_index, looked_hours
from models.monitor.series import _Grid
from sparkpick.config import MonitorSettings

# Without finished boosts to take a pace from: in-feed conversions' worth of spend an hour, from one every
# 20 hours to two an hour (a wide spread of budgets), equally often on a log scale.
DEFAULT_PACES_CPAS = np.geomspace(0.05, 2.0, 9)
WEEK_HOURS = 168
# The simulation is seeded: the same warehouse gives the same threshold.
SEED = 20
DAY = 24


def delivery_variation(grid: _Grid, usable: np.ndarray, norms: DeliveryNorms, min_boosts: int,
                       default_dispersion: float) -> tuple[float, np.ndarray]:
    """The finished boosts' day-level overdispersion and their daily spend rhythm.

    Dispersion: each usable finished boost's (all of them, good or bad) conversions in each day of its run
    against their expectation given its own overall rate (its reported exposure, under the norms' lag and
    learning, that day over its whole run, times its conversions): the Pearson statistic over its degrees
    of freedom, at least 1 (Poisson). Below `min_boosts` boosts with conversions, `default_dispersion`.
    Rhythm: their spend by UTC hour of day, relative to its mean (24 values, 1 = flat without spend).
    """
    spend, conv = grid.values["spend"][usable], grid.values["conversions"][usable]
    width = spend.shape[1]
    rhythm = np.ones(DAY)
    if len(spend) and spend.sum() > 0:
        start = hour_index(grid.keys["first_hour"].to_numpy()[usable])
        of_day = (start[:, None] + np.arange(width)[None, :]) % DAY
        by_hour = np.bincount(of_day.ravel(), weights=spend.ravel(), minlength=DAY)
        rhythm = by_hour / by_hour.mean() if (by_hour > 0).all() else rhythm
    total = conv.sum(axis=1)
    use = total > 0
    if use.sum() < min_boosts:
        return default_dispersion, rhythm
    caused = spend[use] * norms.multiplier(np.arange(width))[None, :]
    reported = np.stack([np.convolve(row, norms.lag_kernel)[:width] for row in caused])
    days = -(-width // DAY)
    pad = days * DAY - width

    def by_day(a: np.ndarray) -> np.ndarray:
        return np.pad(a, ((0, 0), (0, pad))).reshape(len(a), days, DAY).sum(axis=2)

    exposure, counts = by_day(reported), by_day(conv[use])
    expected = exposure / np.maximum(exposure.sum(axis=1, keepdims=True), 1e-12) * total[use][:, None]
    seen = expected > 0
    dof = int(seen.sum()) - int(use.sum())
    if dof <= 0:
        return default_dispersion, rhythm
    pearson = float((((counts - expected) ** 2)[seen] / expected[seen]).sum())
    return max(pearson / dof, 1.0), rhythm


def simulated_threshold(norms: DeliveryNorms, settings: MonitorSettings, timezone: str, paces: np.ndarray,
                        dispersion: float = 1.0, rhythm: np.ndarray | None = None) -> float:
    """The smallest threshold on the money statistic that pauses at most `pause_rate` of good boosts and
    stops at most `pause_spend_rate` of their spend (each at its `calibration_confidence` upper bound),
    on `simulated_boosts` good boosts drawn from the monitor's own model.

    Each simulated boost: an uplift u > 0 from the past boosts' prior (`norms.pooled_prior`, else
    N(0, prior_default_sd)) cut to the good side; spend at a pace drawn from `paces` (in-feed CPAs an
    hour; the finished boosts', else DEFAULT_PACES_CPAS) for `money_watch_hours` + `stake_hours`, shaped
    by `rhythm` (relative spend by UTC hour of day; None: steady); conversions Poisson with mean exp(u) x
    the in-feed rate x that spend x the learning multiplier, reported after the lag kernel, and with
    `dispersion` > 1 each day's rate times a gamma draw of mean 1 that makes the day's conversions that
    many times as variable as Poisson ones (a negative binomial); a start hour spread over a week, so its
    looks fall where the deployment's cron (in `timezone`) would put them. The monitor's statistic at
    each look uses the same prior, lag and learning (no fast signals: none are simulated). The spend
    budget's upper bound is taken as for a replay of the finished boosts behind the simulation.
    """
    rng = np.random.default_rng(SEED)
    n = settings.simulated_boosts
    prior = norms.pooled_prior or UpliftPrior(mean=0.0, sd=settings.prior_default_sd, boosts=0)
    # u from the prior cut to u > 0, by its inverse CDF
    cut = float(ndtr(-prior.mean / prior.sd))
    u = prior.mean + prior.sd * ndtri(cut + rng.uniform(0, 1, n) * (1 - cut))
    u = np.clip(u, 1e-6, None)
    pace = rng.choice(paces if len(paces) else DEFAULT_PACES_CPAS, size=n)
    width = int(np.ceil(settings.money_watch_hours + settings.stake_hours))
    hours = np.arange(width)
    # Start hours spread over the week before the norms' date, each looked at as the cron would.
    origin = int(hour_index([norms.as_of])[0]) - width - WEEK_HOURS
    starts = origin + rng.integers(0, WEEK_HOURS, n)
    shape = np.ones(DAY) if rhythm is None else np.asarray(rhythm, dtype=float)
    spend = pace[:, None] * shape[(starts[:, None] + hours[None, :]) % DAY]
    caused = spend * norms.multiplier(hours)[None, :] * np.exp(u)[:, None]
    reported = np.stack([np.convolve(row, norms.lag_kernel)[:width] for row in caused])
    if dispersion > 1.0:
        day = hours // DAY
        per_day = np.stack([np.bincount(day, weights=row) for row in reported])
        # gamma of mean 1 and variance (dispersion - 1) / the day's mean: Var = dispersion x mean
        k = np.maximum(per_day, 1e-9) / (dispersion - 1.0)
        reported = reported * (rng.gamma(k, 1.0 / k))[:, day]
    conv = rng.poisson(reported).astype(float)
    runs = looked_hours(settings.cron, timezone, norms.as_of - pd.Timedelta(hours=width + WEEK_HOURS), norms.as_of)
    looked = (np.ones((n, width), bool) if runs is None
              else np.isin(starts[:, None] + hours[None, :] + 1, runs))
    look = hours[None, :] + 1
    eligible = ((look >= settings.min_hours) & (look <= settings.money_watch_hours) & looked
                & (np.cumsum(spend, axis=1) >= settings.min_spend_cpas))
    lp_one = _normal_logpdf(U_COARSE, np.asarray(prior.mean), np.asarray(prior.sd))
    lp_prior = np.broadcast_to(lp_one, (n, len(U_COARSE)))
    zeros = np.zeros((n, width))
    stats, remaining = _replay_statistics(spend, conv, np.ones(n), eligible, lp_prior, zeros, zeros, norms)
    # The simulation knows no more than the finished boosts it was drawn from: the spend budget's margin is
    # the one a replay of that many boosts (at least norms_min_boosts) would carry, not of n simulated ones.
    behind = max(norms.boosts, settings.norms_min_boosts)
    z = float(ndtri(settings.calibration_confidence)) * float(np.sqrt(max(n / behind, 1.0)))
    return _pause_threshold(stats, np.ones(n), remaining, settings.pause_rate, settings.pause_spend_rate, z)


def with_simulated_calibration(norms: DeliveryNorms, settings: MonitorSettings, timezone: str,
                               paces: np.ndarray, dispersion: float | None = None,
                               rhythm: np.ndarray | None = None) -> DeliveryNorms:
    """`norms` with the simulated threshold in its calibration when the finished boosts gave no population
    one (and the lag and learning are known, fitted or assumed), saying how it was found. `dispersion`
    (None: `simulated_dispersion`) and `rhythm` as `delivery_variation` gives them."""
    calibration = norms.calibration or PauseCalibration(settings.pause_rate, {}, {}, None, 0.0)
    if calibration.population is not None or not norms.usable:
        return norms
    how = (f"learnt from {norms.boosts} finished boosts" if norms.fitted
           else f"assumed until {settings.norms_min_boosts} finished boosts have conversions")
    simulated_from = (f"{settings.simulated_boosts} simulated good boosts, with the reporting delay and learning "
                      f"phase {how}")
    spread = settings.simulated_dispersion if dispersion is None else dispersion
    threshold = simulated_threshold(norms, settings, timezone, paces, spread, rhythm)
    return replace(norms, calibration=replace(calibration, simulated=threshold, simulated_from=simulated_from))
