"""The decision on each live boost at T: too early, keep, pause or scale, with its reason and its worth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from models.monitor.evidence import (
    PLUG_IN_STEP,
    U_COARSE,
    U_GRID,
    _log_e_value,
    _money_statistic,
    _money_terms,
    _normal_logpdf,
    _plug_in,
    _prior_for,
    _signal_evidence,
)
from models.monitor.learn import fit_delivery_norms
from models.monitor.norms import DeliveryNorms, PauseCalibration, _baseline_of
from models.monitor.series import HOURLY_COUNTS, KEY, _Grid, _grids, _ts, live_boosts
from sparkpick.clock import HOUR
from sparkpick.config import MonitorSettings, Settings
from sparkpick.vocabulary import Decision
from sparkpick.wording import LiveFacts, live_reason

DECISIONS = tuple(d.value for d in Decision)
OUTPUT_COLUMNS = ["advertiser_id", "post_id", "boosted_at", "as_of", "hours_live", "spend", "conversions", "cpa",
                  "baseline_cpa", "predicted_uplift", "estimated_uplift", "low", "high", "decision", "reason",
                  "budget_step", "proposed_daily_budget"]
# The keep hint tries these extra spends (in-feed CPAs) for "pause if the next $X bring fewer than N".
HINT_CPAS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)
HINT_MAX_CONVERSIONS = 60


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
    # The money rule watches the first money_watch_hours only (the looks its calibration replayed).
    threshold = np.where(hours_live > settings.money_watch_hours, np.inf, threshold)
    lp_base = (log_prior - 0.5 * prec[:, None] * (U_GRID[None, :] - lik_mean[:, None]) ** 2)[:, ::PLUG_IN_STEP]
    hint_spend, hint_conv = _keep_hints(spend_h, last, conv, statistic, lp_base, rate0, pace, stake, threshold,
                                        norms, settings)

    decisions, reasons, steps = [], [], []
    currencies = boosts["currency"].to_numpy() if "currency" in boosts.columns else [None] * len(boosts)
    alpha_pause, alpha_scale = 1 - settings.pause_confidence, 1 - settings.scale_confidence
    for i in range(len(boosts)):
        facts = LiveFacts(
            decision=Decision.KEEP, why="keep", hours=float(hours_live[i]), spend=float(spend[i]),
            conversions=int(conv[i]),
            currency=currencies[i] if isinstance(currencies[i], str) else None,
            baseline_cpa=float(baseline_cpa[i]), min_hours=settings.min_hours,
            norms_min_boosts=settings.norms_min_boosts,
            pending=float(spend[i] / baseline_cpa[i] - expected[i]) if np.isfinite(baseline_cpa[i]) else 0.0,
            estimate=float(estimate[i]), low=float(low[i]), high=float(high[i]), prob_dearer=float(prob_dearer[i]),
            stake=float(stake[i]), stake_hours=settings.stake_hours, saving=float(stake[i] * keep_share[i]),
            proven_dearer=bool(log_e_pause[i] >= np.log(1 / alpha_pause)),
            proven_cheaper=bool(log_e_scale[i] >= np.log(1 / alpha_scale)),
            pause_confidence=settings.pause_confidence, calibration=rules[i][1], calibrated_here=rules[i][2],
            money_watch_hours=settings.money_watch_hours,
            hint_spend=float(hint_spend[i]), hint_conversions=int(hint_conv[i]),
            scale_confidence=settings.scale_confidence, learning_hours=float(norms.learning_edges[-1]),
            budget_step=settings.scale_step, daily_spend=float(pace[i] * 24),
            scale_every_hours=settings.scale_every_hours, quiet_hours=int(quiet[i]), silent_day=bool(silent[i]),
            code_expired_at=expires.iat[i] if bool(expired.iat[i]) else None,
        )
        facts = _decide(facts, float(statistic[i]), float(threshold[i]), norms, settings)
        decisions.append(facts.decision.value)
        reasons.append(live_reason(facts))
        steps.append(facts.budget_step if facts.decision is Decision.SCALE else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpa = np.where(conv > 0, spend / conv, np.nan)
    judged = np.isfinite(baseline_cpa)
    budget_steps = np.asarray(steps)
    out = pd.DataFrame({
        "advertiser_id": boosts["advertiser_id"].to_numpy(), "post_id": boosts["post_id"].to_numpy(),
        "boosted_at": pd.to_datetime(boosts["boosted_at"]).to_numpy(), "as_of": t,
        "hours_live": np.round(hours_live, 1), "spend": np.round(spend, 2), "conversions": conv.astype(int),
        "cpa": np.round(cpa, 2), "baseline_cpa": np.round(baseline_cpa, 2),
        "predicted_uplift": pd.to_numeric(boosts.get("predicted_uplift", np.nan), errors="coerce"),
        "estimated_uplift": np.where(judged, estimate, np.nan), "low": np.where(judged, low, np.nan),
        "high": np.where(judged, high, np.nan), "decision": decisions, "reason": reasons,
        "budget_step": budget_steps,
        "proposed_daily_budget": np.where(budget_steps > 0, np.round(pace * 24 * (1 + budget_steps), 2),
                                          np.nan),
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
        return replace(f, decision=Decision.TOO_EARLY, why="no_baseline")
    if f.hours < settings.min_hours:
        return replace(f, decision=Decision.TOO_EARLY, why="learning")
    if f.spend < settings.min_spend_cpas * f.baseline_cpa:
        return replace(f, decision=Decision.TOO_EARLY, why="little_spend")
    if not norms.usable:  # the posterior and the tests rest on knowing the reporting lag: no verdict without it
        return replace(f, decision=Decision.KEEP, why="no_norms")
    if statistic > threshold:
        return replace(f, decision=Decision.PAUSE, why="money")
    if f.proven_dearer:
        return replace(f, decision=Decision.PAUSE, why="proven")
    if (1 - f.prob_dearer >= settings.scale_confidence and f.hours >= f.learning_hours
            and f.conversions >= settings.scale_min_conversions and f.code_expired_at is None):
        return replace(f, decision=Decision.SCALE, why="scale")
    return replace(f, decision=Decision.KEEP, why="keep")


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
    norms = fit_delivery_norms(hourly, spark_results, baselines, posts, t, settings.monitor,
                               settings.nightly.timezone)
    return assess_boosts(hourly, live, baselines, norms, t, settings.monitor, settings.ranker.band_coverage)
