"""What finished boosts teach about delivery: reporting lag, learning phase, uplift priors, fast signals."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from features.labels import match_baselines
from models.monitor.series import _Grid
from sparkpick.config import MonitorSettings

# Half a pseudo-conversion keeps the log rate of a boost without conversions finite (Jeffreys-like).
HALF = 0.5


@dataclass(frozen=True)
class FastSignalModel:
    """Regression of a finished boost's settled uplift on its fast signals (module docstring).

    Features: log(thumb-stop / in-feed thumb-stop), log(click-through / in-feed), log(6 s views / 2 s
    views). `coef` has the intercept first; `cov` is its covariance; `resid_var` the spread of true
    uplifts around the prediction (the Poisson noise of the finished boosts' own uplifts taken out).
    """

    coef: np.ndarray
    cov: np.ndarray
    resid_var: float
    population_mean: float
    population_var: float
    boosts: int

    @property
    def informative(self) -> bool:
        return self.resid_var < self.population_var


@dataclass(frozen=True)
class UpliftPrior:
    """Normal prior on a boost's log uplift from past boosts: mean, sd and how many boosts it rests on."""

    mean: float
    sd: float
    boosts: int


@dataclass(frozen=True)
class PauseCalibration:
    """Thresholds on the money statistic (log of the expected cost of keeping a boost over the expected
    cost of stopping it) that pause at most `rate` of the good boosts, found by replaying finished boosts
    hour by hour (`_calibrate_pauses`).

    `thresholds[advertiser]` from its own finished boosts (`boosts[advertiser]` good ones, weighted by the
    chance each was good), for advertisers with at least `calibration_min_boosts`; `population` from all
    advertisers' (None when they are too few too); `simulated` from good boosts simulated from the
    monitor's own model (models/monitor/simulate.py; `simulated_from` says how, for the reasons), used when
    the finished boosts are too few.
    """

    rate: float
    thresholds: dict[str, float]
    boosts: dict[str, float]
    population: float | None
    population_boosts: float
    simulated: float | None = None
    simulated_from: str = ""

    def for_advertiser(self, advertiser: str) -> tuple[float | None, str, bool]:
        """(threshold, where it comes from in words, whether it is the advertiser's own)."""
        own = self.boosts.get(advertiser, 0.0)
        if advertiser in self.thresholds:
            return self.thresholds[advertiser], f"this advertiser's {own:.0f} good finished boosts", True
        if self.population is None and self.simulated is not None:
            few = (f"all advertisers have only {self.population_boosts:.0f} good finished boosts"
                   if self.population_boosts >= 1 else "no advertiser has a good finished boost yet")
            return self.simulated, f"{self.simulated_from}, as {few}", False
        if self.population is None:
            return None, "", False
        mine = f"this advertiser has only {own:.0f}" if own >= 1 else "this advertiser has none"
        return (self.population,
                f"all advertisers' {self.population_boosts:.0f} good finished boosts, as {mine}", False)


@dataclass(frozen=True)
class DeliveryNorms:
    """What finished boosts (by `as_of`) teach about delivery: reporting lag, learning phase, fast signals.

    `lag_kernel[d]`: share of a spend hour's conversions reported d hours later (sums to 1).
    `learning[j]`: conversions-per-dollar multiplier in learning bin j (hours since start on
    `learning_edges`), 1 from the last edge on. `fitted` is False when too few finished boosts had
    conversions: then `assumed` says whether the configured defaults (`monitor.default_lag_shares`,
    `default_learning`) stand in for them, else no lag and no learning phase are known (kernel all at 0,
    multipliers 1) and the monitor gives no verdict.
    """

    as_of: pd.Timestamp
    lag_kernel: np.ndarray
    learning: np.ndarray
    learning_edges: tuple[int, ...]
    boosts: int
    fitted: bool
    fast: FastSignalModel | None = None
    priors: dict[str, UpliftPrior] = field(default_factory=dict)
    pooled_prior: UpliftPrior | None = None
    calibration: PauseCalibration | None = None
    assumed: bool = False

    @property
    def usable(self) -> bool:
        """Whether lag and learning are known, fitted or assumed: the monitor gives a verdict."""
        return self.fitted or self.assumed

    def multiplier(self, age_hours: np.ndarray) -> np.ndarray:
        """Learning-phase multiplier for hour offsets since the boost's first hour."""
        idx = np.searchsorted(np.asarray(self.learning_edges), age_hours, side="right") - 1
        table = np.append(self.learning, 1.0)
        return table[np.clip(idx, 0, len(table) - 1)]

    def reported_share(self, lags: np.ndarray) -> np.ndarray:
        """Share of a spend hour's conversions reported within `lags` whole hours after it (0 below 0)."""
        cdf = np.cumsum(self.lag_kernel)
        lags = np.asarray(lags)
        out = cdf[np.clip(lags, 0, len(cdf) - 1)]
        return np.where(lags < 0, 0.0, np.minimum(out, 1.0))

    @property
    def median_lag_hours(self) -> float:
        return float(np.searchsorted(np.cumsum(self.lag_kernel), 0.5))


def _lag_bins(edges: list[int]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(edges[:-1])
    hi = np.asarray(edges[1:])
    return lo, hi


def _kernel(lag_logits: np.ndarray, edges: list[int]) -> np.ndarray:
    lo, hi = _lag_bins(edges)
    q = np.exp(lag_logits - lag_logits.max())
    q = q / q.sum()
    return np.repeat(q / (hi - lo), hi - lo)


def _fit_lag_and_learning(grids: list[tuple[_Grid, np.ndarray]], settings: MonitorSettings
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood of the lag kernel (flat within bins) and the learning multipliers.

    Each boost's conversions reported at hour t are Poisson with mean
    `lambda_b * sum_i spend_i * m(i) * p(t - i)`. Profiling out `lambda_b` leaves a multinomial over the
    hours each boost was observed (`windows[b]` = last observed offset), which is what is maximised.
    Because `m` and `p` are piecewise constant, the means are sums of box-filtered spends, computed once
    per grid (`grids`: each grid of boosts with its windows).
    """
    lo, hi = _lag_bins(settings.lag_bin_edges_hours)
    n_age, n_lag = len(settings.learning_bin_edges_hours), len(lo)  # the last age bin is "settled"
    parts = [_lag_design(grid, windows, settings) for grid, windows in grids]
    shift = np.cumsum([0] + [len(z) for _, _, _, z in parts[:-1]])
    y_pos = np.concatenate([y for y, _, _, _ in parts]) if parts else np.zeros((0, n_age, n_lag))
    counts = np.concatenate([c for _, c, _, _ in parts]) if parts else np.zeros(0)
    pos_b = np.concatenate([b + s for (_, _, b, _), s in zip(parts, shift, strict=True)]) if parts else np.zeros(0, int)
    z = np.concatenate([z for _, _, _, z in parts]) if parts else np.zeros((0, n_age, n_lag))
    n_b = len(z)
    totals = np.bincount(pos_b, weights=counts, minlength=n_b)
    width_k = (hi - lo).astype(float)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.exp(theta[:n_lag] - theta[:n_lag].max())
        rate_k = q / q.sum() / width_k
        m = np.append(np.exp(theta[n_lag:]), 1.0)
        return m, rate_k

    def negloglik(theta: np.ndarray) -> float:
        m, rate_k = unpack(theta)
        w = m[:, None] * rate_k[None, :]
        mu = np.einsum("pjk,jk->p", y_pos, w)
        exposure = np.einsum("bjk,jk->b", z, w)
        used = totals > 0
        ll = (counts * np.log(np.maximum(mu, 1e-300))).sum() - (totals[used] * np.log(exposure[used])).sum()
        # A whisper of ridge keeps the logits finite when a bin never sees a conversion.
        return float(-ll + 1e-3 * (theta**2).sum())

    theta0 = np.zeros(n_lag + n_age - 1)
    fit = minimize(negloglik, theta0, method="L-BFGS-B")
    m, _ = unpack(fit.x)
    return _kernel(fit.x[:n_lag], settings.lag_bin_edges_hours), m[:-1]


def _lag_design(grid: _Grid, windows: np.ndarray, settings: MonitorSettings
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One grid's part of the lag and learning likelihood: (spend sums for each positive conversion cell,
    its conversions, its boost, the boosts' exposure sums by age and lag bin)."""
    spend, conv = grid.values["spend"], grid.values["conversions"]
    n_b, width = spend.shape
    lo, hi = _lag_bins(settings.lag_bin_edges_hours)
    l_edges = np.asarray(settings.learning_bin_edges_hours)
    age_bin = np.minimum(np.searchsorted(l_edges, np.arange(width), side="right") - 1, len(l_edges) - 1)
    n_age, n_lag = len(l_edges), len(lo)  # the last age bin is "settled" (multiplier 1)
    t_idx = np.arange(width)
    observed = t_idx[None, :] <= windows[:, None]
    # Y[b, t, j, k] = sum of spend in age bin j at hours t - d for d in lag bin k (cumulative sums).
    zero = np.zeros((n_b, 1))
    pos_b, pos_t = np.nonzero((conv > 0) & observed)
    counts = conv[pos_b, pos_t]
    y_pos = np.zeros((len(pos_b), n_age, n_lag))
    z = np.zeros((n_b, n_age, n_lag))
    for j in range(n_age):
        s_j = np.where(age_bin[None, :] == j, spend, 0.0)
        cs = np.concatenate([zero, np.cumsum(s_j, axis=1)], axis=1)  # cs[:, n] = sum of s_j[:, :n]
        for k in range(n_lag):
            # sum_{d in [lo, hi)} s_j[t - d] = cs[t - lo + 1] - cs[t - hi + 1] (indices clipped at 0)
            a = np.clip(pos_t - lo[k] + 1, 0, width)
            c = np.clip(pos_t - hi[k] + 1, 0, width)
            y_pos[:, j, k] = cs[pos_b, a] - cs[pos_b, c]
            # exposure over the window: spend at i counts for the d in [lo, hi) with i + d <= window
            reach = np.clip(np.minimum(hi[k], windows[:, None] - t_idx[None, :] + 1) - lo[k], 0, hi[k] - lo[k])
            z[:, j, k] = (s_j * reach).sum(axis=1)
    return y_pos, counts, pos_b, z


def _settled_uplift(spend_m: np.ndarray, conversions: np.ndarray, baseline_rate: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A finished boost's settled log uplift log((C + 1/2) / (lambda0 * E)) and its sampling variance."""
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log((conversions + HALF) / (baseline_rate * spend_m))
    return y, 1.0 / (conversions + HALF)


def _moments(y: np.ndarray, v: np.ndarray, floor_sd: float) -> UpliftPrior:
    """Mean and between-boost spread of uplifts (their own sampling noise taken out), as a prior."""
    n = len(y)
    tau2 = max(float(np.var(y, ddof=1) - v.mean()) if n > 1 else 0.0, floor_sd**2)
    w = 1.0 / (tau2 + v)
    mean = float((w * y).sum() / w.sum())
    return UpliftPrior(mean=mean, sd=float(np.sqrt(tau2 * (1 + 1 / n))), boosts=n)


def _fast_features(counts: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Fast-signal features and their sampling variances (delta method); NaN where a count is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        imp, v2, v6, clicks = counts["impressions"], counts["views_2s"], counts["views_6s"], counts["clicks"]
        x = np.column_stack([
            np.log(v2 / imp) - np.log(base["views_2s"] / base["impressions"]),
            np.log(clicks / imp) - np.log(base["clicks"] / base["impressions"]),
            np.log(v6 / v2),
        ])
        var = np.column_stack([1 / v2 - 1 / imp, 1 / clicks - 1 / imp, 1 / v6 - 1 / v2])
    bad = ~np.isfinite(x).all(axis=1) | ~np.isfinite(var).all(axis=1)
    x[bad] = np.nan
    return x, np.maximum(var, 0.0)


def _fit_fast(x: np.ndarray, y: np.ndarray, v: np.ndarray, population: UpliftPrior) -> FastSignalModel:
    """Weighted least squares of settled uplift on fast signals; residual variance by moments."""
    design = np.column_stack([np.ones(len(y)), x])
    resid_var = population.sd**2
    for _ in range(5):  # weights depend on the residual variance: a few fixed-point steps settle it
        w = 1.0 / (resid_var + v)
        xtwx = design.T @ (design * w[:, None]) + 1e-6 * np.eye(design.shape[1])
        coef = np.linalg.solve(xtwx, design.T @ (w * y))
        resid = y - design @ coef
        dof = max(len(y) - design.shape[1], 1)
        resid_var = max(float((resid**2 - v).sum() / dof), 1e-4)
    cov = np.linalg.inv(design.T @ (design * (1.0 / (resid_var + v))[:, None]))
    return FastSignalModel(coef=coef, cov=cov, resid_var=resid_var, population_mean=population.mean,
                           population_var=population.sd**2, boosts=len(y))


def _baseline_of(boosts: pd.DataFrame, baselines: pd.DataFrame, as_of: pd.Timestamp, until: pd.Series
                 ) -> pd.DataFrame:
    """In-feed baseline per boost (features.labels.match_baselines: periods ended before `as_of`)."""
    frame = pd.DataFrame({"post_id": boosts["post_id"].to_numpy(), "boosted_at": boosts["boosted_at"].to_numpy(),
                          "ended_at": pd.to_datetime(until).to_numpy()})
    posts = boosts[["post_id", "advertiser_id"]].drop_duplicates("post_id")
    base = match_baselines(frame, baselines, posts, as_of=pd.Series(as_of, index=frame.index))
    base.index = boosts.index
    return base
