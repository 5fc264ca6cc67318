"""The pause threshold before there are finished boosts to replay: good boosts simulated from the monitor's
own model (its lag and learning phase, fitted or assumed; the past boosts' spread of uplifts; their pace),
replayed at the looks the deployment makes, within the same budgets as the finished boosts' calibration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from models.monitor.calibration import _pause_threshold, _replay_statistics
from models.monitor.evidence import U_COARSE, _normal_logpdf
from models.monitor.norms import DeliveryNorms, PauseCalibration, UpliftPrior
from models.monitor.schedule import hour_index, looked_hours
from sparkpick.config import MonitorSettings

# Without finished boosts to take a pace from: in-feed conversions' worth of spend an hour, from one every
# 20 hours to two an hour (a wide spread of budgets), equally often on a log scale.
DEFAULT_PACES_CPAS = np.geomspace(0.05, 2.0, 9)
WEEK_HOURS = 168
# The simulation is seeded: the same warehouse gives the same threshold.
SEED = 20


def simulated_threshold(norms: DeliveryNorms, settings: MonitorSettings, timezone: str, paces: np.ndarray
                        ) -> float:
    """The smallest threshold on the money statistic that pauses at most `pause_rate` of good boosts and
    stops at most `pause_spend_rate` of their spend (each at its `calibration_confidence` upper bound),
    on `simulated_boosts` good boosts drawn from the monitor's own model.

    Each simulated boost: an uplift u > 0 from the past boosts' prior (`norms.pooled_prior`, else
    N(0, prior_default_sd)) cut to the good side; a steady spend of a pace drawn from `paces` (in-feed
    CPAs an hour; the finished boosts', else DEFAULT_PACES_CPAS) for `money_watch_hours` + `stake_hours`;
    conversions Poisson with mean exp(u) x the in-feed rate x that spend x the learning multiplier, reported
    after the lag kernel; a start hour spread over a week, so its looks fall where the deployment's cron
    (in `timezone`) would put them. The monitor's statistic at each look uses the same prior, lag and
    learning (no fast signals: none are simulated).
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
    spend = np.repeat(pace[:, None], width, axis=1)
    caused = spend * norms.multiplier(hours)[None, :] * np.exp(u)[:, None]
    reported = np.stack([np.convolve(row, norms.lag_kernel)[:width] for row in caused])
    conv = rng.poisson(reported).astype(float)
    # Start hours spread over the week before the norms' date, each looked at as the cron would.
    origin = int(hour_index([norms.as_of])[0]) - width - WEEK_HOURS
    starts = origin + rng.integers(0, WEEK_HOURS, n)
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
    return _pause_threshold(stats, np.ones(n), remaining, settings.pause_rate, settings.pause_spend_rate,
                            float(ndtri(settings.calibration_confidence)))


def with_simulated_calibration(norms: DeliveryNorms, settings: MonitorSettings, timezone: str,
                               paces: np.ndarray) -> DeliveryNorms:
    """`norms` with the simulated threshold in its calibration when the finished boosts gave no population
    one (and the lag and learning are known, fitted or assumed), saying how it was found."""
    calibration = norms.calibration or PauseCalibration(settings.pause_rate, {}, {}, None, 0.0)
    if calibration.population is not None or not norms.usable:
        return norms
    how = (f"learnt from {norms.boosts} finished boosts" if norms.fitted
           else f"assumed until {settings.norms_min_boosts} finished boosts have conversions")
    simulated_from = (f"{settings.simulated_boosts} simulated good boosts, with the reporting delay and learning "
                      f"phase {how}")
    threshold = simulated_threshold(norms, settings, timezone, paces)
    return replace(norms, calibration=replace(calibration, simulated=threshold, simulated_from=simulated_from))
