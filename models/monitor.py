"""Live boosts: the evidence about each one so far, and whether to keep, pause or add budget.

Pure: tables in, a table out; the time `as_of` (T) is always an argument and only hourly rows that ended
by T (`hour_start + 1 h <= T`) count, so a figure at T never uses a later hour.

The model, per live boost (all rates are conversions per dollar; "uplift" is log(in-feed CPA / Spark
CPA), the scores table's unit, so positive = cheaper than in-feed ads):

- Conversions reported by T are Poisson with mean `lambda * E(T)`: `lambda` is the boost's settled rate
  and `E(T) = sum_h spend_h * m(age_h) * F(T - h)` its effective exposure. `m` is the learning phase
  (conversions per dollar by hours since start, relative to settled delivery) and `F` the share of a
  spend hour's conversions reported by T (the reporting lag). Conversions are credited when they are
  reported, some hours after the spend that caused them; both `m` and the lag kernel are fitted by
  maximum likelihood on boosts finished by T (`fit_delivery_norms`). Conversions of an hour caused and
  reported independently form a Poisson process, so the counts reported in disjoint stretches of time
  are independent Poisson with means `lambda * dE`: the basis of the tests below.
- Prior on `u = log(lambda / lambda0)` (`lambda0` = 1 / in-feed CPA): the champion's prediction and band
  when there is one, otherwise the spread of the advertiser's past boosts (or all advertisers').
- Faster signals (thumb-stop, click-through, 6-second hold relative to the in-feed ads) predict `u` by a
  regression fitted on finished boosts. `p(u | signals) / p(u)` (the population's spread of `u` divided
  out) is the signals' likelihood term, used when the regression's residual spread is below the
  population's.
- The posterior on a grid of `u` gives `estimated_uplift` (median) and `low`/`high`.
- `pause` decides on money. Per dollar of the stake (the next `stake_hours` of spend at the last day's
  pace), keeping a dearer boost wastes 1 - exp(u) (what in-feed ads would have turned into the same
  conversions) and stopping a cheaper one forgoes exp(u) - 1; under the posterior their expectations are
  the expected costs of keeping and of stopping (`_money_terms`). It pauses when the log of their ratio
  exceeds a threshold calibrated by replaying the advertiser's own finished boosts hour by hour as the
  monitor would have seen them (`_calibrate_pauses`): the smallest that would have paused at most
  `pause_rate` of the good ones (and stopped at most `pause_spend_rate` of their spend); all advertisers'
  boosts when it has too few, and no money pause at all when those are too few too. The reason says
  what pausing saves ("about $180 of the next $400") and, for a keep, what would pause it ("pause if the
  next $120 brings fewer than 2 conversions").
- "Proven dearer" is the stronger, anytime-valid statement, and also pauses: H0: lambda >= lambda0 tested
  with the mean of two e-processes: the mixture `int (lambda1 / lambda0)^C exp(-(lambda1 - lambda0) E)
  dpi(lambda1)` with `pi` the prior restricted to `lambda1 < lambda0`, and a predictable plug-in that,
  hour by hour, bets on the rate the posterior before that hour expects (fast signals included; see
  `_plug_in`). For any true rate `lambda >= lambda0` both are nonnegative supermartingales in T, so by
  Ville's inequality the chance their mean ever reaches 1 / alpha is at most alpha, however often it is
  checked. "Proven cheaper" is the mirror test against "the in-feed CPA is at most (1 + margin) x the
  boost's". Their validity rests on the norms (lag, learning) being right: they are learnt from other,
  finished boosts, never from the boost under test.
- `scale` (add budget) when the posterior is `scale_confidence` sure the boost is cheaper than in-feed,
  the learning phase is over and it has `scale_min_conversions`: `scale_step` more a day
  (`budget_step`, `proposed_daily_budget` in the table), at most once every `scale_every_hours`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import logsumexp, ndtri

from features.labels import match_baselines
from sparkpick.config import MonitorSettings, Settings
from sparkpick.contract import as_utc
from sparkpick.report import LiveFacts, live_reason

HOUR = pd.Timedelta(hours=1)
KEY = ["post_id", "boosted_at"]
HOURLY_COUNTS = ("spend", "impressions", "views_2s", "views_6s", "likes", "comments", "shares", "clicks",
                 "conversions")
DECISIONS = ("too_early", "keep", "pause", "scale")
OUTPUT_COLUMNS = ["advertiser_id", "post_id", "boosted_at", "as_of", "hours_live", "spend", "conversions", "cpa",
                  "baseline_cpa", "predicted_uplift", "estimated_uplift", "low", "high", "decision", "reason",
                  "budget_step", "proposed_daily_budget"]
# Posterior grid on the log uplift: +-4 covers 55x dearer to 55x cheaper, in steps of 0.5 %.
U_GRID = np.linspace(-4.0, 4.0, 1601)
# The plug-in e-processes bet on a grid 8x coarser, for blocks of this many boosts at once.
PLUG_IN_STEP = 8
PLUG_IN_CHUNK = 32
# The money decision's posterior and its calibration replay use the plug-in's coarse grid (0.04 apart).
U_COARSE = U_GRID[::PLUG_IN_STEP]
# The keep hint tries these extra spends (in-feed CPAs) for "pause if the next $X bring fewer than N".
HINT_CPAS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)
HINT_MAX_CONVERSIONS = 60
# Half a pseudo-conversion keeps the log rate of a boost without conversions finite (Jeffreys-like).
HALF = 0.5


# ------------------------------------------------------------------------------------------ the norms
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
    advertisers' (None when they are too few too).
    """

    rate: float
    thresholds: dict[str, float]
    boosts: dict[str, float]
    population: float | None
    population_boosts: float

    def for_advertiser(self, advertiser: str) -> tuple[float | None, str, bool]:
        """(threshold, where it comes from in words, whether it is the advertiser's own)."""
        own = self.boosts.get(advertiser, 0.0)
        if advertiser in self.thresholds:
            return self.thresholds[advertiser], f"this advertiser's {own:.0f} good finished boosts", True
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
    conversions: then no lag and no learning phase are assumed (kernel all at 0, multipliers 1).
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


def _ts(value: pd.Timestamp | str) -> pd.Timestamp:
    return as_utc(value)


def _ended_by(hourly: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return hourly[pd.to_datetime(hourly["hour_start"]) + HOUR <= as_of]


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").fillna(0).to_numpy("float64")


def live_boosts(hourly: pd.DataFrame, spark_results: pd.DataFrame, as_of: pd.Timestamp | str,
                ended_after_idle_hours: float | None = None) -> pd.DataFrame:
    """Boosts live at `as_of`: hourly rows ending by then, no spark_results row with `ended_at <= as_of`,
    and (with `ended_after_idle_hours`, monitor.ended_after_idle_hours) delivery within that many hours
    before `as_of`: a boost idle longer is over, even before its result row comes.

    Columns `post_id`, `boosted_at` and `delivered_until` (the end of its last hour with spend or
    impressions; its start hour when it has none), sorted by start. A finished boost (its result row in)
    is never live, and a boost whose results are not final yet is never a training label.
    """
    t = _ts(as_of)
    rows = _ended_by(hourly, t)
    delivered = (_num(rows, "spend") > 0) | (_num(rows, "impressions") > 0)
    ends = pd.to_datetime(rows["hour_start"]).where(delivered) + HOUR
    seen = rows[KEY].assign(_end=ends).groupby(KEY, as_index=False, sort=False)["_end"].max()
    start = pd.to_datetime(seen["boosted_at"]).dt.floor("h")
    seen["delivered_until"] = seen["_end"].fillna(start)
    done = spark_results.loc[pd.to_datetime(spark_results["ended_at"]) <= t, KEY].drop_duplicates()
    live = seen.merge(done, on=KEY, how="left", indicator=True)
    live = live[live["_merge"] == "left_only"]
    if ended_after_idle_hours is not None:
        live = live[(t - live["delivered_until"]) <= pd.Timedelta(hours=ended_after_idle_hours)]
    live = live[[*KEY, "delivered_until"]]
    return live.sort_values(["boosted_at", "post_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Grid:
    """Hourly series of some boosts on a common hour axis (offset 0 = the hour each boost started in)."""

    keys: pd.DataFrame  # post_id, boosted_at, first_hour, last_index (last hour ended by T)
    values: dict[str, np.ndarray]  # column -> (boosts x hours)


def _grids(hourly: pd.DataFrame, keys: pd.DataFrame, as_of: pd.Timestamp, columns: tuple[str, ...]
           ) -> list[_Grid]:
    """The boosts' hourly series, each grid as wide as its own boosts' longest series (boosts fall into
    grids by width, within a factor of two): one boost with a long life never widens every other boost's
    series, and memory stays in proportion to the hourly rows. Each grid's `keys` has `_pos`, the boost's
    position among `keys` (deduplicated); the grids together hold every boost once, in that order within
    each grid."""
    keys = keys[KEY].drop_duplicates().reset_index(drop=True)
    keys = keys.assign(first_hour=pd.to_datetime(keys["boosted_at"]).dt.floor("h"))
    # The last whole hour that ended by T, as an offset from each boost's first hour.
    keys["last_index"] = ((as_of.floor("h") - keys["first_hour"]) / HOUR).astype(int) - 1
    keys["_pos"] = np.arange(len(keys))
    rows = _ended_by(hourly, as_of).merge(keys[[*KEY, "first_hour", "_pos"]], on=KEY, how="inner")
    offset = ((pd.to_datetime(rows["hour_start"]) - rows["first_hour"]) / HOUR).to_numpy()
    rows = rows[offset >= 0]
    offset = offset[offset >= 0].astype(np.int64)
    pos = rows["_pos"].to_numpy()
    width = np.ones(len(keys), np.int64)
    np.maximum.at(width, pos, offset + 1)
    size_class = np.ceil(np.log2(width)).astype(np.int64)
    numbers = {col: _num(rows, col) for col in columns}
    grids = []
    for c in np.unique(size_class):
        mine = np.flatnonzero(size_class == c)
        slot = np.full(len(keys), -1)
        slot[mine] = np.arange(len(mine))
        take = slot[pos] >= 0
        b, off = slot[pos[take]], offset[take]
        wide = int(width[mine].max())
        values = {}
        for col in columns:
            arr = np.zeros((len(mine), wide))
            np.add.at(arr, (b, off), numbers[col][take])
            values[col] = arr
        grids.append(_Grid(keys=keys.iloc[mine].reset_index(drop=True), values=values))
    return grids


def _stacked(grids: list[_Grid]) -> _Grid:
    """The grids as one, as wide as the widest (the calibration replays finished boosts side by side)."""
    wide = max(g.values["spend"].shape[1] for g in grids)
    values = {c: np.vstack([np.pad(g.values[c], ((0, 0), (0, wide - g.values[c].shape[1]))) for g in grids])
              for c in grids[0].values}
    return _Grid(keys=pd.concat([g.keys for g in grids], ignore_index=True), values=values)


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


def fit_delivery_norms(hourly: pd.DataFrame, spark_results: pd.DataFrame, baselines: pd.DataFrame,
                       posts: pd.DataFrame, as_of: pd.Timestamp | str, settings: MonitorSettings) -> DeliveryNorms:
    """Reporting lag, learning phase, fast-signal regression and uplift priors from boosts finished by T.

    Only spark_results rows with `ended_at <= as_of` and hourly rows that ended by `as_of` are used;
    `posts` gives each boost's advertiser (`post_id`, `advertiser_id`).
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
    if with_conv.sum() >= settings.norms_min_boosts:
        parts = [(_Grid(keys=g.keys[c].reset_index(drop=True), values={k: v[c] for k, v in g.values.items()}), w[c])
                 for g, w, c in zip(grids, window, conv_any, strict=True) if c.any()]
        kernel, learning = _fit_lag_and_learning(parts, settings)
        fitted = True
    norms = DeliveryNorms(as_of=t, lag_kernel=kernel, learning=learning,
                          learning_edges=tuple(settings.learning_bin_edges_hours), boosts=int(with_conv.sum()),
                          fitted=fitted)

    # Settled uplifts of finished boosts with a baseline: the priors and the fast-signal regression.
    if not has_rows.any():
        return norms
    fin = keys.merge(done[[*KEY, "advertiser_id", "ended_at"]], on=KEY, how="left")
    base = _baseline_of(fin, baselines, t, fin["ended_at"])
    rate0 = (base["conversions"] / base["spend"]).to_numpy()
    spend_m = np.concatenate([(g.values["spend"] * norms.multiplier(np.arange(g.values["spend"].shape[1]))[None, :]
                               ).sum(axis=1) for g in grids])
    totals = {c: np.concatenate([g.values[c].sum(axis=1) for g in grids]) for c in HOURLY_COUNTS}
    y, v = _settled_uplift(spend_m, totals["conversions"], rate0)
    ok = has_rows & np.isfinite(y) & (rate0 > 0)
    if not ok.any():
        return norms
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
                          boosts=norms.boosts, fitted=fitted, fast=fast, priors=priors, pooled_prior=pooled)
    if not fitted:
        return norms
    base_counts = {c: base[c].to_numpy() for c in ("impressions", "views_2s", "clicks")}
    calibration = _calibrate_pauses(_stacked(grids), fin, rate0, base_counts, ok, norms, settings)
    return replace(norms, calibration=calibration)


# ------------------------------------------------------------------------------------------ money
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


def _pause_threshold(stats: np.ndarray, good: np.ndarray, remaining: np.ndarray, rate: float,
                     spend_rate: float) -> float:
    """The smallest threshold (at least 0: never pause when keeping is expected to cost less than stopping)
    at which, pausing at the first look whose statistic exceeds it, the good boosts paused weigh at most
    `rate` of all good ones and the spend they would still have made at most `spend_rate` of theirs.

    `stats` (boosts x looks, -inf where no look), `good` each boost's chance of being good, `remaining`
    (boosts x looks) the spend still to come after each look.
    """
    stat_max = stats.max(axis=1, initial=-np.inf)
    order = np.argsort(-stat_max, kind="stable")
    over = np.cumsum(good[order]) > rate * good.sum()
    by_count = max(float(stat_max[order][np.argmax(over)]) if over.any() else -np.inf, 0.0)
    total = (good * remaining[:, 0]).sum() if remaining.shape[1] else 0.0

    def lost(k: float) -> float:
        crossed = stats > k
        first = np.argmax(crossed, axis=1)
        spent = np.where(crossed.any(axis=1), remaining[np.arange(len(stats)), first], 0.0)
        return float((good * spent).sum() / total) if total > 0 else 0.0

    lo, hi = by_count, 50.0  # lost() does not grow with k, and nothing exceeds the statistic's cap
    if lost(lo) <= spend_rate:
        return lo
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if lost(mid) <= spend_rate else (mid, hi)
    return hi


def _calibrate_pauses(grid: _Grid, fin: pd.DataFrame, rate0: np.ndarray, base_counts: dict[str, np.ndarray],
                      usable: np.ndarray, norms: DeliveryNorms, settings: MonitorSettings) -> PauseCalibration:
    """Replay finished boosts hour by hour as the monitor would have seen them, and calibrate the pause.

    For each of an advertiser's most recent `calibration_recent_boosts` finished boosts, at every hourly
    look while it ran (after `min_hours` and `min_spend_cpas`), the money statistic under the posterior
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
    x_cum = _exposure_curve(spend, norms, r0)
    c_cum = np.cumsum(conv, axis=1)
    # Each hourly look T = end of hour t; it sees hours up to t, while the boost still runs.
    hours = np.arange(width)
    first = ((pd.to_datetime(fin["first_hour"]) - norms.as_of) / HOUR).to_numpy("float64")[idx]
    started = ((pd.to_datetime(fin["boosted_at"]) - norms.as_of) / HOUR).to_numpy("float64")[idx]
    ended = ((pd.to_datetime(fin["ended_at"]) - norms.as_of) / HOUR).to_numpy("float64")[idx]
    look = first[:, None] + hours[None, :] + 1
    eligible = ((look - started[:, None] >= settings.min_hours) & (look < ended[:, None])
                & (np.cumsum(spend, axis=1) * r0[:, None] >= settings.min_spend_cpas)
                & (look <= 0))
    cum = {c: np.cumsum(grid.values[c][idx], axis=1) for c in ("impressions", "views_2s", "views_6s", "clicks")}
    _, sig_mean, sig_prec = _signal_evidence(norms.fast, cum, {c: v[idx][:, None] for c, v in base_counts.items()})
    mean0, sd0, _ = _prior_for(fin.iloc[idx].reset_index(drop=True), norms, settings, 0.8)
    lp_prior = _normal_logpdf(U_COARSE[None, :], mean0[:, None], sd0[:, None])
    u, eu = U_COARSE, np.exp(U_COARSE)
    last = int(np.flatnonzero(eligible.any(axis=0)).max()) + 1 if eligible.any() else 0
    stats = np.full((len(idx), last), -np.inf)
    for lo in range(0, len(idx), PLUG_IN_CHUNK):
        sl = slice(lo, lo + PLUG_IN_CHUNK)
        lp = (lp_prior[sl, None, :] + c_cum[sl, :last, None] * u - x_cum[sl, :last, None] * eu
              - 0.5 * sig_prec[sl, :last, None] * (u - sig_mean[sl, :last, None]) ** 2)
        stats[sl] = np.where(eligible[sl, :last], _money_statistic(*_money_terms(lp)), -np.inf)
    remaining = (spend.sum(axis=1, keepdims=True) - np.cumsum(spend, axis=1))[:, :last]
    # The chance each was good: its posterior over the whole run (all its conversions, settled exposure).
    settled = r0 * (spend * norms.multiplier(hours)[None, :]).sum(axis=1)
    lp_end = lp_prior + c_cum[:, -1:] * u - settled[:, None] * eu
    post = np.exp(lp_end - lp_end.max(axis=1, keepdims=True))
    good = (post * (u > 0)).sum(axis=1) / post.sum(axis=1)
    advertisers = fin["advertiser_id"].astype(str).to_numpy()[idx]
    weights = {a: float(good[advertisers == a].sum()) for a in np.unique(advertisers)}
    spend_rate = settings.pause_spend_rate
    thresholds = {a: _pause_threshold(stats[advertisers == a], good[advertisers == a],
                                      remaining[advertisers == a], rate, spend_rate)
                  for a, w in weights.items() if w >= settings.calibration_min_boosts}
    population = (_pause_threshold(stats, good, remaining, rate, spend_rate)
                  if good.sum() >= settings.calibration_min_boosts else None)
    return PauseCalibration(rate=rate, thresholds=thresholds, boosts=weights, population=population,
                            population_boosts=float(good.sum()))


# --------------------------------------------------------------------------------------- assessment
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


def assess_boosts(hourly: pd.DataFrame, boosts: pd.DataFrame, baselines: pd.DataFrame, norms: DeliveryNorms,
                  as_of: pd.Timestamp | str, settings: MonitorSettings, band_coverage: float) -> pd.DataFrame:
    """One row per boost in `boosts` (post_id, boosted_at, advertiser_id, optional predicted_uplift,
    uplift_low, uplift_high in log(in-feed CPA / Spark CPA), optional `currency`, the advertiser's ISO 4217
    code for the reasons' amounts) with the evidence and the decision at T.

    `band_coverage` is the probability of the prediction's low-high band (ranker.band_coverage).
    Columns: OUTPUT_COLUMNS, then the cost ratio so far (`cost_ratio`, Spark CPA / in-feed CPA),
    `expected_conversions` (what in-feed ads would have earned on the same lag- and learning-adjusted
    spend), `prob_dearer`, `e_pause`, `e_scale` (the tests' evidence; pause at 1 / (1 - confidence)),
    `signal_uplift` (what the fast signals alone say) and `prior_source`.
    """
    t = _ts(as_of)
    extra = ["cost_ratio", "expected_conversions", "prob_dearer", "e_pause", "e_scale", "signal_uplift",
             "prior_source"]
    if boosts.empty:
        return pd.DataFrame(columns=OUTPUT_COLUMNS + extra)
    boosts = boosts.reset_index(drop=True)
    # Boosts of like length together: each grid only as wide as its own boosts' hours.
    parts = [_assess_grid(grid, boosts, baselines, norms, t, settings, band_coverage)
             for grid in _grids(hourly, boosts, t, HOURLY_COUNTS)]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.sort_values("_pos", kind="stable").drop(columns="_pos").reset_index(drop=True)


def _assess_grid(grid: _Grid, boosts: pd.DataFrame, baselines: pd.DataFrame, norms: DeliveryNorms,
                 t: pd.Timestamp, settings: MonitorSettings, band_coverage: float) -> pd.DataFrame:
    """`assess_boosts` for the boosts of one grid (their rows of `boosts`), with `_pos` (their order)."""
    order = grid.keys.merge(boosts.reset_index(names="_i"), on=KEY, how="left")["_i"].to_numpy()
    boosts = boosts.iloc[order].reset_index(drop=True)
    keys = grid.keys
    spend_h = grid.values["spend"]
    totals = {c: grid.values[c].sum(axis=1) for c in HOURLY_COUNTS}
    ages = np.arange(spend_h.shape[1])
    lags = keys["last_index"].to_numpy()[:, None] - ages[None, :]
    exposure = (spend_h * norms.multiplier(ages)[None, :] * norms.reported_share(lags)).sum(axis=1)

    base = _baseline_of(boosts, baselines, t, pd.Series(t, index=boosts.index))
    rate0 = (base["conversions"] / base["spend"]).where((base["conversions"] > 0) & (base["spend"] > 0)).to_numpy()
    baseline_cpa = 1.0 / rate0
    expected = np.nan_to_num(rate0 * exposure)
    conv = totals["conversions"]
    spend = totals["spend"]

    mean0, sd0, source = _prior_for(boosts, norms, settings, band_coverage)
    log_prior = _normal_logpdf(U_GRID[None, :], mean0[:, None], sd0[:, None])
    log_post = log_prior + conv[:, None] * U_GRID[None, :] - expected[:, None] * np.exp(U_GRID)[None, :]
    base_counts = {c: base[c].to_numpy() for c in ("impressions", "views_2s", "clicks")}
    signal, lik_mean, prec = _signal_evidence(norms.fast, totals, base_counts)
    log_post = log_post - 0.5 * prec[:, None] * (U_GRID[None, :] - lik_mean[:, None]) ** 2
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    cdf = np.cumsum(post, axis=1)
    cdf /= cdf[:, -1:]
    tail = (1 - settings.interval) / 2

    def quantile(q: float) -> np.ndarray:
        return U_GRID[np.minimum((cdf < q).sum(axis=1), len(U_GRID) - 1)]

    estimate, low, high = quantile(0.5), quantile(tail), quantile(1 - tail)
    prob_dearer = cdf[:, np.searchsorted(U_GRID, 0.0) - 1]
    margin = float(np.log1p(settings.scale_margin))
    # Each decision's e-process is the mean of two: the prior mixture and the predictable plug-in.
    dearer = -float(np.log1p(settings.pause_bet_dearer))
    log_e_pause = _log_e_value(log_prior, dearer > U_GRID, conv, expected, 0.0)
    log_e_scale = _log_e_value(log_prior, margin < U_GRID, conv, expected, margin)
    plug_pause, plug_scale = _plug_in(grid, norms, log_prior, rate0, base_counts, margin, dearer)
    log_e_pause = np.logaddexp(log_e_pause, plug_pause) - np.log(2)
    log_e_scale = np.logaddexp(log_e_scale, plug_scale) - np.log(2)
    # Hours live end at the boost's last delivered hour (or T), never past it.
    until = (pd.to_datetime(boosts["delivered_until"]).clip(upper=t) if "delivered_until" in boosts.columns
             else pd.Series(t, index=boosts.index))
    hours_live = ((until - pd.to_datetime(boosts["boosted_at"])) / HOUR).clip(lower=0).to_numpy()

    # The money decision: expected costs of keeping and of stopping per dollar, on the coarse grid.
    keep_share, stop_share = _money_terms(log_post[:, ::PLUG_IN_STEP])
    statistic = _money_statistic(keep_share, stop_share)
    last = keys["last_index"].to_numpy()
    recent = (ages[None, :] > last[:, None] - 24) & (ages[None, :] <= last[:, None])
    spend_24h = (spend_h * recent).sum(axis=1)
    pace = spend_24h / np.clip(last + 1, 1, 24)  # per hour, over the last day (or the hours so far)
    stake = pace * settings.stake_hours
    quiet = ((spend_h > 0) & (grid.values["impressions"] <= 0)).sum(axis=1)
    silent = (hours_live >= 24) & (spend_24h > 0) & ((grid.values["conversions"] * recent).sum(axis=1) == 0)
    # Naive UTC, the warehouse's convention (an offset, if any, converted).
    expires = pd.to_datetime(boosts.get("spark_auth_expires_at", pd.Series(pd.NaT, index=boosts.index)),
                             utc=True, errors="coerce").dt.tz_localize(None)
    expired = (expires > pd.to_datetime(boosts["boosted_at"])) & (expires <= t)
    calibration = norms.calibration or PauseCalibration(settings.pause_rate, {}, {}, None, 0.0)
    rules = [calibration.for_advertiser(str(a)) for a in boosts["advertiser_id"]]
    threshold = np.array([np.inf if r[0] is None else r[0] for r in rules])
    lp_base = (log_prior - 0.5 * prec[:, None] * (U_GRID[None, :] - lik_mean[:, None]) ** 2)[:, ::PLUG_IN_STEP]
    hint_spend, hint_conv = _keep_hints(spend_h, last, conv, statistic, lp_base, rate0, pace, stake, threshold,
                                        norms, settings)

    decisions, reasons, steps = [], [], []
    currencies = boosts["currency"].to_numpy() if "currency" in boosts.columns else [None] * len(boosts)
    alpha_pause, alpha_scale = 1 - settings.pause_confidence, 1 - settings.scale_confidence
    for i in range(len(boosts)):
        facts = LiveFacts(
            decision="keep", why="keep", hours=float(hours_live[i]), spend=float(spend[i]), conversions=int(conv[i]),
            currency=currencies[i] if isinstance(currencies[i], str) else None,
            baseline_cpa=float(baseline_cpa[i]), min_hours=settings.min_hours,
            norms_min_boosts=settings.norms_min_boosts,
            pending=float(spend[i] / baseline_cpa[i] - expected[i]) if np.isfinite(baseline_cpa[i]) else 0.0,
            estimate=float(estimate[i]), low=float(low[i]), high=float(high[i]), prob_dearer=float(prob_dearer[i]),
            stake=float(stake[i]), stake_hours=settings.stake_hours, saving=float(stake[i] * keep_share[i]),
            proven_dearer=bool(log_e_pause[i] >= np.log(1 / alpha_pause)),
            proven_cheaper=bool(log_e_scale[i] >= np.log(1 / alpha_scale)),
            pause_confidence=settings.pause_confidence, calibration=rules[i][1], calibrated_here=rules[i][2],
            hint_spend=float(hint_spend[i]), hint_conversions=int(hint_conv[i]),
            scale_confidence=settings.scale_confidence, learning_hours=float(norms.learning_edges[-1]),
            budget_step=settings.scale_step, daily_spend=float(pace[i] * 24),
            scale_every_hours=settings.scale_every_hours, quiet_hours=int(quiet[i]), silent_day=bool(silent[i]),
            code_expired_at=expires.iat[i] if bool(expired.iat[i]) else None,
        )
        facts = _decide(facts, float(statistic[i]), float(threshold[i]), norms, settings)
        decisions.append(facts.decision)
        reasons.append(live_reason(facts))
        steps.append(facts.budget_step if facts.decision == "scale" else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpa = np.where(conv > 0, spend / conv, np.nan)
    judged = np.isfinite(baseline_cpa)
    steps = np.asarray(steps)
    out = pd.DataFrame({
        "advertiser_id": boosts["advertiser_id"].to_numpy(), "post_id": boosts["post_id"].to_numpy(),
        "boosted_at": pd.to_datetime(boosts["boosted_at"]).to_numpy(), "as_of": t,
        "hours_live": np.round(hours_live, 1), "spend": np.round(spend, 2), "conversions": conv.astype(int),
        "cpa": np.round(cpa, 2), "baseline_cpa": np.round(baseline_cpa, 2),
        "predicted_uplift": pd.to_numeric(boosts.get("predicted_uplift", np.nan), errors="coerce"),
        "estimated_uplift": np.where(judged, estimate, np.nan), "low": np.where(judged, low, np.nan),
        "high": np.where(judged, high, np.nan), "decision": decisions, "reason": reasons,
        "budget_step": steps,
        "proposed_daily_budget": np.where(steps > 0, np.round(pace * 24 * (1 + steps), 2), np.nan),
        "cost_ratio": np.round(cpa / baseline_cpa, 3), "expected_conversions": np.round(expected, 2),
        "prob_dearer": np.where(judged, np.round(prob_dearer, 4), np.nan),
        "e_pause": np.where(judged, np.exp(np.minimum(log_e_pause, 700)), np.nan),
        "e_scale": np.where(judged, np.exp(np.minimum(log_e_scale, 700)), np.nan),
        "signal_uplift": signal, "prior_source": source,
        "stake": np.round(stake, 2), "keep_cost": np.round(stake * keep_share, 2),
        "stop_cost": np.round(stake * stop_share, 2), "money_statistic": np.where(judged, statistic, np.nan),
        "pause_threshold": threshold, "currency": list(currencies), "_pos": keys["_pos"].to_numpy(),
    })
    return out


def _keep_hints(spend_h: np.ndarray, last: np.ndarray, conv: np.ndarray, statistic: np.ndarray,
                lp_base: np.ndarray, rate0: np.ndarray, pace: np.ndarray, stake: np.ndarray,
                threshold: np.ndarray, norms: DeliveryNorms, settings: MonitorSettings
                ) -> tuple[np.ndarray, np.ndarray]:
    """What would turn a keep into a pause: the smallest extra spend (HINT_CPAS in-feed CPAs, within the
    stake) after which the boost would be paused had it brought at most N more conversions, and that N.

    The extra spend goes at the current pace; the exposure then counts the earlier hours' late reports
    and the new hours' share reported by that time (lag and learning as for the boost itself). NaN / -1
    where no extra spend within the stake would pause it even without a conversion.
    """
    n_b, width = spend_h.shape
    spend_out, conv_out = np.full(n_b, np.nan), np.full(n_b, -1)
    todo = np.isfinite(rate0) & np.isfinite(threshold) & (pace > 0) & ~(statistic > threshold)
    if not todo.any():
        return spend_out, conv_out
    cdf = np.cumsum(norms.lag_kernel)
    ages = np.arange(width)
    sm = spend_h * norms.multiplier(ages)[None, :]
    u, eu = U_COARSE, np.exp(U_COARSE)
    max_h = int(np.ceil(settings.stake_hours))
    for k in HINT_CPAS:
        extra = k / np.where(np.isfinite(rate0), rate0, 1.0)
        hours = np.ceil(extra / np.maximum(pace, 1e-12))
        ask = todo & np.isnan(spend_out) & (extra <= stake) & (hours <= max_h)
        if not ask.any():
            continue
        b = np.flatnonzero(ask)
        h = hours[b].astype(int)
        old = (sm[b] * cdf[np.clip(last[b, None] - ages[None, :] + h[:, None], 0, len(cdf) - 1)]).sum(axis=1)
        j = np.arange(max_h)[None, :]
        new_m = norms.multiplier(last[b, None] + 1 + j)
        new = (pace[b, None] * new_m * cdf[np.clip(h[:, None] - 1 - j, 0, len(cdf) - 1)] * (j < h[:, None])).sum(1)
        x_then = rate0[b] * (old + new)

        def paused(i: np.ndarray, extra_conversions: np.ndarray, b: np.ndarray = b,
                   x_then: np.ndarray = x_then) -> np.ndarray:
            """Whether boosts `b[i]` would be paused had they brought `extra_conversions` more."""
            lp = lp_base[b[i]] + (conv[b[i], None] + extra_conversions[:, None]) * u - x_then[i, None] * eu
            return _money_statistic(*_money_terms(lp)) > threshold[b[i]]

        hit = np.flatnonzero(paused(np.arange(len(b)), np.zeros(len(b))))
        spend_out[b[hit]] = np.round(extra[b[hit]], 2)
        # The most extra conversions that still pause: more conversions only ever make a boost look
        # cheaper, so a bisection per boost finds it (log2 of the range of looks, not every count).
        lo, hi = np.zeros(len(hit), int), np.full(len(hit), HINT_MAX_CONVERSIONS + 1)
        while (open_ := hi - lo > 1).any():
            mid = (lo + hi) // 2
            yes = paused(hit[open_], mid[open_].astype(float))
            lo[open_] = np.where(yes, mid[open_], lo[open_])
            hi[open_] = np.where(yes, hi[open_], mid[open_])
        conv_out[b[hit]] = lo
    return spend_out, conv_out


def _decide(f: LiveFacts, statistic: float, threshold: float, norms: DeliveryNorms, settings: MonitorSettings
            ) -> LiveFacts:
    """The decision on the facts: too early, keep, pause (money beyond the calibrated threshold, or
    proven dearer) or scale (the posterior sure it is cheaper, after the learning phase)."""
    if not np.isfinite(f.baseline_cpa):
        return replace(f, decision="too_early", why="no_baseline")
    if f.hours < settings.min_hours:
        return replace(f, decision="too_early", why="learning")
    if f.spend < settings.min_spend_cpas * f.baseline_cpa:
        return replace(f, decision="too_early", why="little_spend")
    if not norms.fitted:  # the posterior and the tests rest on knowing the reporting lag: no verdict without it
        return replace(f, decision="keep", why="no_norms")
    if statistic > threshold:
        return replace(f, decision="pause", why="money")
    if f.proven_dearer:
        return replace(f, decision="pause", why="proven")
    if (1 - f.prob_dearer >= settings.scale_confidence and f.hours >= f.learning_hours
            and f.conversions >= settings.scale_min_conversions and f.code_expired_at is None):
        return replace(f, decision="scale", why="scale")
    return replace(f, decision="keep", why="keep")


def monitor_boosts(hourly: pd.DataFrame, spark_results: pd.DataFrame, baselines: pd.DataFrame,
                   posts: pd.DataFrame, as_of: pd.Timestamp | str, settings: Settings,
                   predictions: pd.DataFrame | None = None, advertisers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The monitor table at `as_of` from the warehouse tables (live boosts, norms, assessment).

    `predictions` (optional): `post_id` (and `boosted_at` if it has one) with `predicted_uplift`,
    `uplift_low`, `uplift_high`: the champion's prediction for the post as of the boost's start.
    `advertisers` (optional): `advertiser_id` and `currency`, so that reasons show amounts in the
    account's currency (a bare number when it is unknown).
    """
    t = _ts(as_of)
    live = live_boosts(hourly, spark_results, t, settings.monitor.ended_after_idle_hours)
    expiry = ["spark_auth_expires_at"] if "spark_auth_expires_at" in posts.columns else []
    cols = ["post_id", "advertiser_id", *expiry]
    live = live.merge(posts[cols].drop_duplicates("post_id"), on="post_id", how="left")
    if advertisers is not None and "currency" in advertisers.columns and len(live):
        codes = advertisers[["advertiser_id", "currency"]].drop_duplicates("advertiser_id")
        live = live.merge(codes, on="advertiser_id", how="left")
    if predictions is not None and not predictions.empty:
        on = [c for c in KEY if c in predictions.columns]
        cols = [c for c in ("predicted_uplift", "uplift_low", "uplift_high") if c in predictions.columns]
        live = live.merge(predictions[on + cols].drop_duplicates(on), on=on, how="left")
    norms = fit_delivery_norms(hourly, spark_results, baselines, posts, t, settings.monitor)
    return assess_boosts(hourly, live, baselines, norms, t, settings.monitor, settings.ranker.band_coverage)
