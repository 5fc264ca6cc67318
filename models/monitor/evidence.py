"""The evidence on a boost: its posterior uplift, the money at stake, and the anytime-valid e-processes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp, ndtri

from models.monitor.norms import DeliveryNorms, FastSignalModel, _fast_features
from models.monitor.series import HOURLY_COUNTS, _Grid
from sparkpick.config import MonitorSettings

# Posterior grid on the log uplift: +-4 covers 55x dearer to 55x cheaper, in steps of 0.5 %.
U_GRID = np.linspace(-4.0, 4.0, 1601)
# The plug-in e-processes bet on a grid 8x coarser, for blocks of this many boosts at once.
PLUG_IN_STEP = 8
PLUG_IN_CHUNK = 32
# The money decision's posterior and its calibration replay use the plug-in's coarse grid (0.04 apart).
U_COARSE = U_GRID[::PLUG_IN_STEP]


def _money_terms(log_post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected costs, per dollar at stake, of keeping and of stopping a boost, under a posterior on U_COARSE.

    Keeping a dearer boost (u < 0) wastes 1 - exp(u) of each dollar: that share would have bought the same
    conversions in-feed. Stopping a cheaper one (u > 0) forgoes exp(u) - 1 dollars' worth of conversions
    per dollar moved back in-feed. `log_post` (..., len(U_COARSE)) need not be normalised.
    """
    w = np.exp(log_post - log_post.max(axis=-1, keepdims=True))
    w = w / w.sum(axis=-1, keepdims=True)
    rate = np.exp(U_COARSE)
    return w @ np.maximum(1.0 - rate, 0.0), w @ np.maximum(rate - 1.0, 0.0)


def _money_statistic(keep: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """log(expected cost of keeping / expected cost of stopping): pause above the calibrated threshold."""
    return np.clip(np.log(np.maximum(keep, 1e-300)) - np.log(np.maximum(stop, 1e-300)), -50.0, 50.0)


def _exposure_curve(spend: np.ndarray, norms: DeliveryNorms, rate0: np.ndarray) -> np.ndarray:
    """Conversions expected at the in-feed rate and reported by the end of each hour (boosts x hours):
    the lag- and learning-corrected exposure the monitor would use at each hourly look."""
    width = spend.shape[1]
    sm = spend * norms.multiplier(np.arange(width))[None, :]
    reported = np.stack([np.convolve(row, norms.lag_kernel)[:width] for row in sm]) if len(sm) else sm
    return np.cumsum(reported, axis=1) * rate0[:, None]


def _normal_logpdf(u: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return -0.5 * ((u - mean) / sd) ** 2 - np.log(sd)


def _log_e_value(log_prior: np.ndarray, region: np.ndarray, conversions: np.ndarray, expected: np.ndarray,
                 shift: float) -> np.ndarray:
    """log of the mixture likelihood ratio against the rate exp(shift) * lambda0, mixing over `region`.

    `expected` = lambda0 * E (conversions expected at the in-feed rate); the alternative rates are
    exp(u) * lambda0 for grid points u in `region`, weighted by the prior restricted there.
    """
    # Only the region's grid points carry weight: computed on those columns alone (the rest add exp(-inf)).
    cols = np.flatnonzero(region)
    w = log_prior[:, cols]
    w = w - logsumexp(w, axis=1, keepdims=True)
    r = U_GRID[None, cols] - shift
    x = expected[:, None] * np.exp(shift)
    log_lr = conversions[:, None] * r - (np.exp(r) - 1.0) * x
    return logsumexp(w + log_lr, axis=1)


def _plug_in(grid: _Grid, norms: DeliveryNorms, log_prior: np.ndarray, rate0: np.ndarray,
             base_counts: dict[str, np.ndarray], margin: float, dearer: float = 0.0
             ) -> tuple[np.ndarray, np.ndarray]:
    """log of the predictable plug-in e-processes (pause, scale) of each boost, replayed hour by hour.

    Hour t bets on the alternative rate ratio r_t = E[exp(u - shift) | u on the alternative's side, data
    before t] (the posterior before the hour, fast signals included), multiplying by
    r_t^c_t exp(-(r_t - 1) x_t), c_t being the conversions reported in the hour and x_t those expected at
    the null rate: for a true rate on the null's side each factor has mean at most 1 whatever was chosen
    before, so the product is a test supermartingale. The bets use a coarser grid (they need no precision).
    """
    last = grid.keys["last_index"].to_numpy()
    n_b, width = grid.values["spend"].shape
    pause, scale = np.zeros(n_b), np.zeros(n_b)
    u = U_GRID[::PLUG_IN_STEP]
    lp_prior = log_prior[:, ::PLUG_IN_STEP]
    live = np.arange(width)[None, :] <= last[:, None]
    sm = grid.values["spend"] * norms.multiplier(np.arange(width))[None, :]
    dexp = np.zeros((n_b, width))
    for i in np.flatnonzero(np.isfinite(rate0)):
        dexp[i] = rate0[i] * np.convolve(sm[i], norms.lag_kernel)[:width]
    dexp = np.where(live, dexp, 0.0)
    conv = np.where(live, grid.values["conversions"], 0.0)

    def before(a: np.ndarray) -> np.ndarray:  # totals known before each hour
        return np.concatenate([np.zeros((n_b, 1)), np.cumsum(a, axis=1)[:, :-1]], axis=1)

    cum = {c: before(grid.values[c]) for c in HOURLY_COUNTS}
    _, m_t, p_t = _signal_evidence(norms.fast, cum, {c: v[:, None] for c, v in base_counts.items()})
    x_before = before(dexp)
    for lo in range(0, n_b, PLUG_IN_CHUNK):
        sl = slice(lo, lo + PLUG_IN_CHUNK)
        lp = (lp_prior[sl, None, :] + cum["conversions"][sl, :, None] * u - x_before[sl, :, None] * np.exp(u)
              - 0.5 * p_t[sl, :, None] * (u - m_t[sl, :, None]) ** 2)
        for out, region, shift in ((pause, u < dearer, 0.0), (scale, margin < u, margin)):
            w = lp[:, :, region]
            w = np.exp(w - w.max(axis=2, keepdims=True))
            r = (w @ np.exp(u[region] - shift)) / w.sum(axis=2)
            out[sl] = (conv[sl] * np.log(r) - (r - 1.0) * dexp[sl] * np.exp(shift)).sum(axis=1)
    ok = np.isfinite(rate0)
    return np.where(ok, pause, 0.0), np.where(ok, scale, 0.0)


def _signal_evidence(fast: FastSignalModel | None, counts: dict[str, np.ndarray], base: dict[str, np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the fast signals say about the uplift: the regression's prediction, and the mean and precision
    of the Gaussian likelihood p(u | signals) / p(u) (precision 0 where the signals say nothing)."""
    shape = np.shape(counts["impressions"])
    signal, mean, prec = np.full(shape, np.nan), np.zeros(shape), np.zeros(shape)
    if fast is None or not fast.informative:
        return signal, mean, prec
    x, xvar = _fast_features({k: np.ravel(v) for k, v in counts.items()},
                             {k: np.broadcast_to(v, shape).ravel() for k, v in base.items()})
    ok = np.isfinite(x).all(axis=1)
    design = np.column_stack([np.ones(len(x)), np.nan_to_num(x)])
    pred = design @ fast.coef
    var = fast.resid_var + np.einsum("ij,jk,ik->i", design, fast.cov, design) + (xvar * fast.coef[1:] ** 2).sum(1)
    p = 1.0 / var - 1.0 / fast.population_var
    ok &= p > 0
    signal = np.where(ok, pred, np.nan)
    mean = np.where(ok, (pred / var - fast.population_mean / fast.population_var) / np.where(ok, p, 1.0), 0.0)
    return signal.reshape(shape), mean.reshape(shape), np.where(ok, p, 0.0).reshape(shape)


def _prior_for(boosts: pd.DataFrame, norms: DeliveryNorms, settings: MonitorSettings, band_coverage: float
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    n = len(boosts)
    mean, sd = np.zeros(n), np.full(n, settings.prior_default_sd)
    source = ["no past boosts"] * n
    pred = pd.to_numeric(boosts.get("predicted_uplift", pd.Series(np.nan, index=boosts.index)),
                         errors="coerce").to_numpy("float64")
    low = pd.to_numeric(boosts.get("uplift_low", pd.Series(np.nan, index=boosts.index)), errors="coerce")
    high = pd.to_numeric(boosts.get("uplift_high", pd.Series(np.nan, index=boosts.index)), errors="coerce")
    band_sd = ((high - low) / (2 * ndtri(0.5 + band_coverage / 2))).to_numpy("float64")
    for i, adv in enumerate(boosts["advertiser_id"].astype(str)):
        if np.isfinite(pred[i]):
            mean[i] = pred[i]
            sd[i] = max(band_sd[i] if np.isfinite(band_sd[i]) else settings.prior_default_sd, settings.prior_min_sd)
            source[i] = "the model's prediction"
        elif adv in norms.priors:
            p = norms.priors[adv]
            mean[i], sd[i], source[i] = p.mean, p.sd, f"this advertiser's {p.boosts} past boosts"
        elif norms.pooled_prior is not None:
            p = norms.pooled_prior
            mean[i], sd[i], source[i] = p.mean, p.sd, f"{p.boosts} past boosts of all advertisers"
    return mean, sd, source
