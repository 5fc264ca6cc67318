"""Replaying finished boosts at the monitor's looks to set the pause threshold within the false-pause budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from models.monitor.evidence import (
    PLUG_IN_CHUNK,
    U_COARSE,
    _exposure_curve,
    _money_statistic,
    _money_terms,
    _normal_logpdf,
    _prior_for,
    _signal_evidence,
)
from models.monitor.norms import DeliveryNorms, PauseCalibration
from models.monitor.schedule import hour_index, looked_hours
from models.monitor.series import _Grid
from sparkpick.clock import HOUR
from sparkpick.config import MonitorSettings


def _pause_threshold(stats: np.ndarray, good: np.ndarray, remaining: np.ndarray, rate: float,
                     spend_rate: float, z: float = 0.0) -> float:
    """The smallest threshold (at least 0: never pause when keeping is expected to cost less than stopping)
    at which, pausing at the first look whose statistic exceeds it, the good boosts paused weigh at most
    `rate` of all good ones and the spend they would still have made at most `spend_rate` of theirs.

    `stats` (boosts x looks, -inf where no look), `good` each boost's chance of being good, `remaining`
    (boosts x looks) the spend still to come after each look. With `z` > 0 the spend share must hold at its
    upper bound, the share plus `z` standard errors (delta method, the replayed boosts taken as a sample):
    a small calibration sample is held further inside the spend budget than a large one. (The count
    budget stays at its point estimate: at its upper bound a sample of fewer than about 60 good boosts
    could never pause one.)
    """
    stat_max = stats.max(axis=1, initial=-np.inf)
    order = np.argsort(-stat_max, kind="stable")
    over = np.cumsum(good[order]) > rate * good.sum()
    by_count = max(float(stat_max[order][np.argmax(over)]) if over.any() else -np.inf, 0.0)
    total_i = good * remaining[:, 0] if remaining.shape[1] else np.zeros(len(good))
    total = float(total_i.sum())

    def lost(k: float) -> float:
        crossed = stats > k
        first = np.argmax(crossed, axis=1)
        spent = good * np.where(crossed.any(axis=1), remaining[np.arange(len(stats)), first], 0.0)
        if total <= 0:
            return 0.0
        share = float(spent.sum()) / total
        return share + z * float(np.sqrt(((spent - share * total_i) ** 2).sum())) / total

    lo, hi = by_count, 50.0  # lost() does not grow with k, and nothing exceeds the statistic's cap
    if lost(lo) <= spend_rate:
        return lo
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if lost(mid) <= spend_rate else (mid, hi)
    return hi


def _replay_statistics(spend: np.ndarray, conv: np.ndarray, r0: np.ndarray, eligible: np.ndarray,
                       lp_prior: np.ndarray, sig_mean: np.ndarray, sig_prec: np.ndarray, norms: DeliveryNorms
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The money statistic of replayed boosts at each eligible look (boosts x looks, -inf elsewhere), as
    the monitor computes it (lag, learning, prior on U_COARSE, fast signals), and the spend still to come
    after each look."""
    x_cum = _exposure_curve(spend, norms, r0)
    c_cum = np.cumsum(conv, axis=1)
    u, eu = U_COARSE, np.exp(U_COARSE)
    last = int(np.flatnonzero(eligible.any(axis=0)).max()) + 1 if eligible.any() else 0
    stats = np.full((len(spend), last), -np.inf)
    for lo in range(0, len(spend), PLUG_IN_CHUNK):
        sl = slice(lo, lo + PLUG_IN_CHUNK)
        lp = (lp_prior[sl, None, :] + c_cum[sl, :last, None] * u - x_cum[sl, :last, None] * eu
              - 0.5 * sig_prec[sl, :last, None] * (u - sig_mean[sl, :last, None]) ** 2)
        stats[sl] = np.where(eligible[sl, :last], _money_statistic(*_money_terms(lp)), -np.inf)
    remaining = (spend.sum(axis=1, keepdims=True) - np.cumsum(spend, axis=1))[:, :last]
    return stats, remaining


def _calibrate_pauses(grid: _Grid, fin: pd.DataFrame, rate0: np.ndarray, base_counts: dict[str, np.ndarray],
                      usable: np.ndarray, norms: DeliveryNorms, settings: MonitorSettings, timezone: str
                      ) -> PauseCalibration:
    """Replay finished boosts as the monitor would have seen them, and calibrate the pause.

    For each of an advertiser's most recent `calibration_recent_boosts` finished boosts, at every look the
    monitor makes while it ran (the hour ends its deployment, `cron` in `timezone`, sees; every hour end
    without a deployment) in its first `money_watch_hours` (after `min_hours` and `min_spend_cpas`): the
    budget is spent on the looks the monitor really makes, the money statistic under the posterior
    the monitor computes (its lag, learning, fast signals; the past boosts' prior). Each boost counts as
    good with its posterior chance of having been cheaper than in-feed over its whole run. The threshold
    is the smallest that would have paused at most `pause_rate` of the good ones ever and stopped at most
    `pause_spend_rate` of their spend (`_pause_threshold`).
    A pure function of the finished boosts' hourly rows: the boost under test is never among them.
    """
    rate = settings.pause_rate
    pick = fin.assign(_i=np.arange(len(fin)))[usable].sort_values(["ended_at", "post_id"], ascending=[False, True])
    idx = np.sort(pick.groupby("advertiser_id", sort=False).head(settings.calibration_recent_boosts)["_i"].to_numpy())
    empty = PauseCalibration(rate=rate, thresholds={}, boosts={}, population=None, population_boosts=0.0)
    if len(idx) == 0:
        return empty
    spend, conv = grid.values["spend"][idx], grid.values["conversions"][idx]
    width = spend.shape[1]
    r0 = rate0[idx]
    # Each look T = end of hour t; it sees hours up to t, while the boost still runs.
    hours = np.arange(width)
    first_abs = hour_index(fin["first_hour"].to_numpy()[idx])
    runs = looked_hours(settings.cron, timezone, pd.Timestamp(fin["first_hour"].iloc[idx].min()), norms.as_of)
    looked = (np.ones((len(idx), width), bool) if runs is None
              else np.isin(first_abs[:, None] + hours[None, :] + 1, runs))
    first = ((pd.to_datetime(fin["first_hour"]) - norms.as_of) / HOUR).to_numpy("float64")[idx]
    started = ((pd.to_datetime(fin["boosted_at"]) - norms.as_of) / HOUR).to_numpy("float64")[idx]
    ended = ((pd.to_datetime(fin["ended_at"]) - norms.as_of) / HOUR).to_numpy("float64")[idx]
    look = first[:, None] + hours[None, :] + 1
    eligible = ((look - started[:, None] >= settings.min_hours) & (look < ended[:, None]) & looked
                & (look - started[:, None] <= settings.money_watch_hours)
                & (np.cumsum(spend, axis=1) * r0[:, None] >= settings.min_spend_cpas)
                & (look <= 0))
    cum = {c: np.cumsum(grid.values[c][idx], axis=1) for c in ("impressions", "views_2s", "views_6s", "clicks")}
    _, sig_mean, sig_prec = _signal_evidence(norms.fast, cum, {c: v[idx][:, None] for c, v in base_counts.items()})
    mean0, sd0, _ = _prior_for(fin.iloc[idx].reset_index(drop=True), norms, settings, 0.8)
    lp_prior = _normal_logpdf(U_COARSE[None, :], mean0[:, None], sd0[:, None])
    stats, remaining = _replay_statistics(spend, conv, r0, eligible, lp_prior, sig_mean, sig_prec, norms)
    # The chance each was good: its posterior over the whole run (all its conversions, settled exposure).
    settled = r0 * (spend * norms.multiplier(hours)[None, :]).sum(axis=1)
    u = U_COARSE
    lp_end = lp_prior + conv.sum(axis=1, keepdims=True) * u - settled[:, None] * np.exp(u)
    post = np.exp(lp_end - lp_end.max(axis=1, keepdims=True))
    good = (post * (u > 0)).sum(axis=1) / post.sum(axis=1)
    advertisers = fin["advertiser_id"].astype(str).to_numpy()[idx]
    weights = {a: float(good[advertisers == a].sum()) for a in np.unique(advertisers)}
    spend_rate, z = settings.pause_spend_rate, float(ndtri(settings.calibration_confidence))
    thresholds = {a: _pause_threshold(stats[advertisers == a], good[advertisers == a],
                                      remaining[advertisers == a], rate, spend_rate, z)
                  for a, w in weights.items() if w >= settings.calibration_min_boosts}
    population = (_pause_threshold(stats, good, remaining, rate, spend_rate, z)
                  if good.sum() >= settings.calibration_min_boosts else None)
    return PauseCalibration(rate=rate, thresholds=thresholds, boosts=weights, population=population,
                            population_boosts=float(good.sum()))
