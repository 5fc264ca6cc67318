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
- Decisions are anytime-valid tests, not thresholds on the estimate. `pause` tests H0: lambda >= lambda0
  with the mean of two e-processes: the mixture `int (lambda1 / lambda0)^C exp(-(lambda1 - lambda0) E)
  dpi(lambda1)` with `pi` the prior restricted to `lambda1 < lambda0`, and a predictable plug-in that,
  hour by hour, bets on the rate the posterior before that hour expects (fast signals included; see
  `_plug_in`). For any true rate `lambda >= lambda0` both are nonnegative supermartingales in T, so by
  Ville's inequality the chance their mean ever reaches 1 / alpha is at most alpha, however often it is
  checked. `scale` is the mirror test against "the in-feed CPA is at most (1 + margin) x the boost's",
  with enough conversions. Their validity rests on the norms (lag, learning) being right: they are
  learnt from other, finished boosts, never from the boost under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import logsumexp, ndtri

from features.labels import match_baselines
from sparkpick.config import MonitorSettings, Settings
from sparkpick.contract import as_utc

HOUR = pd.Timedelta(hours=1)
KEY = ["post_id", "boosted_at"]
HOURLY_COUNTS = ("spend", "impressions", "views_2s", "views_6s", "likes", "comments", "shares", "clicks",
                 "conversions")
DECISIONS = ("too_early", "keep", "pause", "scale")
OUTPUT_COLUMNS = ["advertiser_id", "post_id", "boosted_at", "as_of", "hours_live", "spend", "conversions", "cpa",
                  "baseline_cpa", "predicted_uplift", "estimated_uplift", "low", "high", "decision", "reason"]
# Posterior grid on the log uplift: +-4 covers 55x dearer to 55x cheaper, in steps of 0.5 %.
U_GRID = np.linspace(-4.0, 4.0, 1601)
# The plug-in e-processes bet on a grid 8x coarser, for blocks of this many boosts at once.
PLUG_IN_STEP = 8
PLUG_IN_CHUNK = 32
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


def live_boosts(hourly: pd.DataFrame, spark_results: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """Boosts live at `as_of`: hourly rows ending by then and no spark_results row with `ended_at <= as_of`.

    Columns `post_id`, `boosted_at`, sorted by start. A finished boost (its result row in) is never live,
    and a boost whose results are not final yet is never a training label.
    """
    t = _ts(as_of)
    seen = _ended_by(hourly, t)[KEY].drop_duplicates()
    done = spark_results.loc[pd.to_datetime(spark_results["ended_at"]) <= t, KEY].drop_duplicates()
    live = seen.merge(done, on=KEY, how="left", indicator=True)
    live = live[live["_merge"] == "left_only"][KEY]
    return live.sort_values(["boosted_at", "post_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Grid:
    """Hourly series of some boosts on a common hour axis (offset 0 = the hour each boost started in)."""

    keys: pd.DataFrame  # post_id, boosted_at, first_hour, last_index (last hour ended by T)
    values: dict[str, np.ndarray]  # column -> (boosts x hours)


def _grid(hourly: pd.DataFrame, keys: pd.DataFrame, as_of: pd.Timestamp, columns: tuple[str, ...]) -> _Grid:
    keys = keys[KEY].drop_duplicates().reset_index(drop=True)
    keys = keys.assign(first_hour=pd.to_datetime(keys["boosted_at"]).dt.floor("h"))
    # The last whole hour that ended by T, as an offset from each boost's first hour.
    keys["last_index"] = ((as_of.floor("h") - keys["first_hour"]) / HOUR).astype(int) - 1
    rows = _ended_by(hourly, as_of).merge(keys.reset_index(names="_b"), on=KEY, how="inner")
    offset = ((pd.to_datetime(rows["hour_start"]) - rows["first_hour"]) / HOUR).to_numpy()
    rows = rows[offset >= 0]
    offset = offset[offset >= 0].astype(int)
    width = int(max(offset.max() + 1 if len(offset) else 1, 1))
    values = {}
    b = rows["_b"].to_numpy()
    for col in columns:
        arr = np.zeros((len(keys), width))
        np.add.at(arr, (b, offset), _num(rows, col))
        values[col] = arr
    return _Grid(keys=keys, values=values)


def _lag_bins(edges: list[int]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(edges[:-1])
    hi = np.asarray(edges[1:])
    return lo, hi


def _kernel(lag_logits: np.ndarray, edges: list[int]) -> np.ndarray:
    lo, hi = _lag_bins(edges)
    q = np.exp(lag_logits - lag_logits.max())
    q = q / q.sum()
    return np.repeat(q / (hi - lo), hi - lo)


def _fit_lag_and_learning(grid: _Grid, windows: np.ndarray, settings: MonitorSettings
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood of the lag kernel (flat within bins) and the learning multipliers.

    Each boost's conversions reported at hour t are Poisson with mean
    `lambda_b * sum_i spend_i * m(i) * p(t - i)`. Profiling out `lambda_b` leaves a multinomial over the
    hours each boost was observed (`windows[b]` = last observed offset), which is what is maximised.
    Because `m` and `p` are piecewise constant, the means are sums of box-filtered spends, computed once.
    """
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
    grid = _grid(hourly, done, t, HOURLY_COUNTS)
    n_lag_hours = settings.lag_bin_edges_hours[-1]
    keys = grid.keys
    spend = grid.values["spend"]
    has_rows = spend.sum(axis=1) > 0
    last_spend = np.where(has_rows, spend.shape[1] - 1 - np.argmax(spend[:, ::-1] > 0, axis=1), -1)
    windows = np.minimum(keys["last_index"].to_numpy(), last_spend + n_lag_hours - 1)
    with_conv = has_rows & (grid.values["conversions"].sum(axis=1) > 0)

    n_learn = len(settings.learning_bin_edges_hours) - 1
    kernel, learning, fitted = np.array([1.0]), np.ones(n_learn), False
    if with_conv.sum() >= settings.norms_min_boosts:
        sub = _Grid(keys=keys[with_conv].reset_index(drop=True),
                    values={k: v[with_conv] for k, v in grid.values.items()})
        kernel, learning = _fit_lag_and_learning(sub, windows[with_conv], settings)
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
    ages = np.arange(spend.shape[1])
    spend_m = (spend * norms.multiplier(ages)[None, :]).sum(axis=1)
    totals = {c: grid.values[c].sum(axis=1) for c in HOURLY_COUNTS}
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
    return DeliveryNorms(as_of=t, lag_kernel=kernel, learning=learning, learning_edges=norms.learning_edges,
                         boosts=norms.boosts, fitted=fitted, fast=fast, priors=priors, pooled_prior=pooled)


# --------------------------------------------------------------------------------------- assessment
def _normal_logpdf(u: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return -0.5 * ((u - mean) / sd) ** 2 - np.log(sd)


def _log_e_value(log_prior: np.ndarray, region: np.ndarray, conversions: np.ndarray, expected: np.ndarray,
                 shift: float) -> np.ndarray:
    """log of the mixture likelihood ratio against the rate exp(shift) * lambda0, mixing over `region`.

    `expected` = lambda0 * E (conversions expected at the in-feed rate); the alternative rates are
    exp(u) * lambda0 for grid points u in `region`, weighted by the prior restricted there.
    """
    w = np.where(region[None, :], log_prior, -np.inf)
    w = w - logsumexp(w, axis=1, keepdims=True)
    r = U_GRID[None, :] - shift
    x = expected[:, None] * np.exp(shift)
    log_lr = conversions[:, None] * r - (np.exp(r) - 1.0) * x
    return logsumexp(w + np.where(region[None, :], log_lr, -np.inf), axis=1)


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


# The few currencies whose sign reads better than their code; any other shows its ISO code after the amount.
_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def _amount(x: float, currency: str | None = None) -> str:
    """An amount in the advertiser's currency: "$310", "€12.50", "4,200 JPY"; a bare number when unknown."""
    amount = f"{x:,.0f}" if x >= 10 else f"{x:,.2f}"
    if not isinstance(currency, str) or not currency:
        return amount
    sign = _SIGNS.get(currency)
    return f"{sign}{amount}" if sign else f"{amount} {currency}"


def _ratio_words(ratio: float) -> str:
    """A cost ratio (Spark CPA / in-feed CPA) in words: "2.1x dearer", "1.6x cheaper", "about as dear"."""
    if not np.isfinite(ratio):
        return "not comparable"
    if 1 / 1.05 < ratio < 1.05:
        return "about as dear"
    return f"{ratio:.1f}x dearer" if ratio > 1 else f"{1 / ratio:.1f}x cheaper"


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
    grid = _grid(hourly, boosts, t, HOURLY_COUNTS)
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
    hours_live = ((t - pd.to_datetime(boosts["boosted_at"])) / HOUR).to_numpy()

    decisions, reasons = [], []
    currencies = boosts["currency"].to_numpy() if "currency" in boosts.columns else [None] * len(boosts)
    for i in range(len(boosts)):
        d, r = _decide(norms, hours_live[i], spend[i], conv[i], baseline_cpa[i], expected[i], estimate[i], low[i],
                       high[i], prob_dearer[i], log_e_pause[i], log_e_scale[i], settings, currencies[i])
        decisions.append(d)
        reasons.append(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpa = np.where(conv > 0, spend / conv, np.nan)
    judged = np.isfinite(baseline_cpa)
    out = pd.DataFrame({
        "advertiser_id": boosts["advertiser_id"].to_numpy(), "post_id": boosts["post_id"].to_numpy(),
        "boosted_at": pd.to_datetime(boosts["boosted_at"]).to_numpy(), "as_of": t,
        "hours_live": np.round(hours_live, 1), "spend": np.round(spend, 2), "conversions": conv.astype(int),
        "cpa": np.round(cpa, 2), "baseline_cpa": np.round(baseline_cpa, 2),
        "predicted_uplift": pd.to_numeric(boosts.get("predicted_uplift", np.nan), errors="coerce"),
        "estimated_uplift": np.where(judged, estimate, np.nan), "low": np.where(judged, low, np.nan),
        "high": np.where(judged, high, np.nan), "decision": decisions, "reason": reasons,
        "cost_ratio": np.round(cpa / baseline_cpa, 3), "expected_conversions": np.round(expected, 2),
        "prob_dearer": np.where(judged, np.round(prob_dearer, 4), np.nan),
        "e_pause": np.where(judged, np.exp(np.minimum(log_e_pause, 700)), np.nan),
        "e_scale": np.where(judged, np.exp(np.minimum(log_e_scale, 700)), np.nan),
        "signal_uplift": signal, "prior_source": source,
    })
    return out


def _decide(norms: DeliveryNorms, hours: float, spend: float, conv: float, baseline_cpa: float, expected: float,
            estimate: float, low: float, high: float, prob_dearer: float, log_e_pause: float,
            log_e_scale: float, settings: MonitorSettings, currency: str | None = None) -> tuple[str, str]:
    """The decision and its reason in a marketer's words (amounts in the advertiser's `currency`)."""
    n = int(conv)

    head = f"{hours:.0f} h in, {n} conversion{'s' if n != 1 else ''} for {_amount(spend, currency)}"
    if not np.isfinite(baseline_cpa):
        return "too_early", f"{head}: no in-feed ads of this advertiser to compare with yet, so no verdict"
    if hours < settings.min_hours:
        return "too_early", (f"{head}: TikTok is still finding the audience; "
                             f"first verdict after {settings.min_hours:.0f} h")
    if spend < settings.min_spend_cpas * baseline_cpa:
        return "too_early", (f"{head}: less than your in-feed ads pay for one conversion "
                             f"({_amount(baseline_cpa, currency)}); too early to tell")
    so_far = (f"{_ratio_words(spend / n / baseline_cpa)} than your in-feed ads so far" if n else
              f"none yet, where your in-feed ads pay {_amount(baseline_cpa, currency)} for one")
    # Spend whose conversions are mostly still to be reported (or held back by the learning phase).
    pending = spend / baseline_cpa - expected
    note = (f" (about {pending:.0f} conversion{'s' if round(pending) != 1 else ''} this spend would bring are "
            "usually reported later or held back while TikTok learns)") if pending >= 1 else ""
    expect = (f"; expected once settled: {_ratio_words(float(np.exp(-estimate)))} "
              f"(likely between {_ratio_words(float(np.exp(-high)))} and {_ratio_words(float(np.exp(-low)))})")
    if not norms.fitted:  # the tests' validity rests on knowing the reporting lag: no verdict without it
        return "keep", (f"{head}: {so_far}{expect}; fewer than {settings.norms_min_boosts} finished boosts to "
                        "learn TikTok's reporting delay from, so no pause or scale yet: keep")
    alpha_pause = 1 - settings.pause_confidence
    alpha_scale = 1 - settings.scale_confidence
    if log_e_pause >= np.log(1 / alpha_pause):
        return "pause", f"{head}: {so_far}{note}{expect}; {prob_dearer:.0%} sure it stays dearer: pause"
    if log_e_scale >= np.log(1 / alpha_scale) and n >= settings.scale_min_conversions:
        return "scale", (f"{head}: {so_far}{expect}; confidently at least {1 + settings.scale_margin:.1f}x "
                         f"cheaper than your in-feed ads: add budget")
    odds = (f"{prob_dearer:.0%} likely dearer, not yet proven" if prob_dearer >= 0.5
            else f"{1 - prob_dearer:.0%} likely cheaper")
    return "keep", f"{head}: {so_far}{note}{expect}; {odds}: keep"


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
    live = live_boosts(hourly, spark_results, t)
    live = live.merge(posts[["post_id", "advertiser_id"]].drop_duplicates("post_id"), on="post_id", how="left")
    if advertisers is not None and "currency" in advertisers.columns and len(live):
        codes = advertisers[["advertiser_id", "currency"]].drop_duplicates("advertiser_id")
        live = live.merge(codes, on="advertiser_id", how="left")
    if predictions is not None and not predictions.empty:
        on = [c for c in KEY if c in predictions.columns]
        cols = [c for c in ("predicted_uplift", "uplift_low", "uplift_high") if c in predictions.columns]
        live = live.merge(predictions[on + cols].drop_duplicates(on), on=on, how="left")
    norms = fit_delivery_norms(hourly, spark_results, baselines, posts, t, settings.monitor)
    return assess_boosts(hourly, live, baselines, norms, t, settings.monitor, settings.ranker.band_coverage)
