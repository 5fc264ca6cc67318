"""Fitting the delivery norms and the pause calibration on the boosts finished by T."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from models.monitor.calibration import _calibrate_pauses
from models.monitor.norms import (
    DeliveryNorms,
    _baseline_of,
    _fast_features,
    _fit_fast,
    _fit_lag_and_learning,
    _kernel,
    _moments,
    _settled_uplift,
)
from models.monitor.series import HOURLY_COUNTS, KEY, _Grid, _grids, _stacked, _ts
from models.monitor.simulate import delivery_variation, with_simulated_calibration
from sparkpick.config import MonitorSettings


def fit_delivery_norms(hourly: pd.DataFrame, spark_results: pd.DataFrame, baselines: pd.DataFrame,
                       posts: pd.DataFrame, as_of: pd.Timestamp | str, settings: MonitorSettings,
                       timezone: str = "UTC") -> DeliveryNorms:
    """Reporting lag, learning phase, fast-signal regression and uplift priors from boosts finished by T.

    Only spark_results rows with `ended_at <= as_of` and hourly rows that ended by `as_of` are used;
    `posts` gives each boost's advertiser (`post_id`, `advertiser_id`); `timezone` is the one the
    monitor's cron runs in (nightly.timezone), for the calibration's replay of its looks.
    """
    t = _ts(as_of)
    done = spark_results[pd.to_datetime(spark_results["ended_at"]) <= t]
    done = done.merge(posts[["post_id", "advertiser_id"]].drop_duplicates("post_id"), on="post_id", how="inner")
    grids = _grids(hourly, done, t, HOURLY_COUNTS)
    n_lag_hours = settings.lag_bin_edges_hours[-1]
    # Per grid (boosts of like length): which boosts delivered, their observed windows, whether they converted.
    has, window, conv_any = [], [], []
    for grid in grids:
        spend = grid.values["spend"]
        rows = spend.sum(axis=1) > 0
        last_spend = np.where(rows, spend.shape[1] - 1 - np.argmax(spend[:, ::-1] > 0, axis=1), -1)
        has.append(rows)
        window.append(np.minimum(grid.keys["last_index"].to_numpy(), last_spend + n_lag_hours - 1))
        conv_any.append(rows & (grid.values["conversions"].sum(axis=1) > 0))
    keys = pd.concat([g.keys for g in grids], ignore_index=True) if grids else pd.DataFrame(columns=KEY)
    has_rows = np.concatenate(has) if grids else np.zeros(0, bool)
    with_conv = np.concatenate(conv_any) if grids else np.zeros(0, bool)

    n_learn = len(settings.learning_bin_edges_hours) - 1
    kernel, learning, fitted = np.array([1.0]), np.ones(n_learn), False
    assumed = settings.default_lag_shares is not None and settings.default_learning is not None
    if assumed and settings.default_lag_shares is not None and settings.default_learning is not None:
        kernel = _kernel(np.log(np.maximum(settings.default_lag_shares, 1e-12)), settings.lag_bin_edges_hours)
        learning = np.asarray(settings.default_learning, dtype=float)
    if with_conv.sum() >= settings.norms_min_boosts:
        parts = [(_Grid(keys=g.keys[c].reset_index(drop=True), values={k: v[c] for k, v in g.values.items()}), w[c])
                 for g, w, c in zip(grids, window, conv_any, strict=True) if c.any()]
        kernel, learning = _fit_lag_and_learning(parts, settings)
        fitted, assumed = True, False
    norms = DeliveryNorms(as_of=t, lag_kernel=kernel, learning=learning,
                          learning_edges=tuple(settings.learning_bin_edges_hours), boosts=int(with_conv.sum()),
                          fitted=fitted, assumed=assumed)

    # Settled uplifts of finished boosts with a baseline: the priors and the fast-signal regression.
    if not has_rows.any():
        return with_simulated_calibration(norms, settings, timezone, np.zeros(0))
    fin = keys.merge(done[[*KEY, "advertiser_id", "ended_at"]], on=KEY, how="left")
    base = _baseline_of(fin, baselines, t, fin["ended_at"])
    rate0 = (base["conversions"] / base["spend"]).to_numpy()
    spend_m = np.concatenate([(g.values["spend"] * norms.multiplier(np.arange(g.values["spend"].shape[1]))[None, :]
                               ).sum(axis=1) for g in grids])
    totals = {c: np.concatenate([g.values[c].sum(axis=1) for g in grids]) for c in HOURLY_COUNTS}
    y, v = _settled_uplift(spend_m, totals["conversions"], rate0)
    ok = has_rows & np.isfinite(y) & (rate0 > 0)
    if not ok.any():
        return with_simulated_calibration(norms, settings, timezone, np.zeros(0))
    # Each finished boost's pace in in-feed CPAs an hour (over its hours with spend), for the simulation.
    paces = (totals["spend"] * rate0 / np.maximum(np.concatenate([(g.values["spend"] > 0).sum(axis=1)
                                                                  for g in grids]), 1))[ok]
    floor = settings.prior_min_sd
    advertisers = fin["advertiser_id"].to_numpy()
    priors = {
        str(a): _moments(y[ok & (advertisers == a)], v[ok & (advertisers == a)], floor)
        for a in np.unique(advertisers[ok])
        if (ok & (advertisers == a)).sum() >= settings.prior_min_past_boosts
    }
    pooled = _moments(y[ok], v[ok], floor) if ok.sum() >= settings.prior_min_past_boosts else None
    fast = None
    if settings.fast_signals and pooled is not None:
        base_counts = {c: base[c].to_numpy() for c in ("impressions", "views_2s", "clicks")}
        x, _ = _fast_features(totals, base_counts)
        use = ok & np.isfinite(x).all(axis=1)
        if use.sum() >= settings.fast_min_boosts:
            population = _moments(y[use], v[use], 1e-3)
            fast = _fit_fast(x[use], y[use], v[use], population)
    norms = DeliveryNorms(as_of=t, lag_kernel=kernel, learning=learning, learning_edges=norms.learning_edges,
                          boosts=norms.boosts, fitted=fitted, fast=fast, priors=priors, pooled_prior=pooled,
                          assumed=assumed)
    if fitted:
        base_counts = {c: base[c].to_numpy() for c in ("impressions", "views_2s", "clicks")}
        norms = replace(norms, calibration=_calibrate_pauses(_stacked(grids), fin, rate0, base_counts, ok, norms,
                                                             settings, timezone))
    dispersion, rhythm = delivery_variation(_stacked(grids), ok, norms, settings.norms_min_boosts,
                                            settings.simulated_dispersion)
    return with_simulated_calibration(norms, settings, timezone, paces[paces > 0], dispersion, rhythm)
