"""The uplift label of a past boost and its relevance grade within a decision group.

The label answers "how much better did this post do as a Spark Ad than the advertiser's ordinary in-feed
ads in the same period?". Three definitions, chosen by `label.kind`:

- `cpa_ratio` (default): log(baseline cost per conversion / Spark cost per conversion). Conversions are
  shrunk toward the baseline conversion rate with a gamma-Poisson (empirical-Bayes) prior worth
  `prior_strength_conversions` pseudo-conversions: if conversions ~ Poisson(rate * spend) and the rate's
  prior is Gamma(shape=k, rate=k * baseline_cpa) (mean 1 / baseline_cpa), the posterior mean rate is
  (conversions + k) / (spend + k * baseline_cpa). The label is then
  log(baseline_cpa * (conversions + k) / (spend + k * baseline_cpa)):
  0 for a boost with no spend, near 0 for 2 conversions on tiny spend, and it only moves far from 0
  once the boost has spent enough to have earned about k conversions at the baseline rate.
- `engagement_ratio`: log of the Spark engagement rate ((likes + comments + shares) / impressions) over
  the baseline's, the Spark rate shrunk with `prior_strength_impressions` pseudo-impressions at the
  baseline rate.
- `thumbstop_ratio`: the same for the thumb-stop rate (2-second views / impressions).

Baseline matching: a boost is compared with the advertiser's baseline periods that share some time
with its run [boosted_at, ended_at] (pooled: spend and counts summed, i.e. a spend-weighted baseline
CPA); if none does, with the nearest earlier period (the latest `period_end` at or before
`boosted_at`). Given `as_of`, only periods that ended before it count, so a label computed "as of T"
never sees a later baseline. No usable baseline (none, or zero spend / conversions / impressions)
gives a missing label (NaN), never a guess.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparkpick.config import LabelConfig

_POOLED = ("spend", "impressions", "views_2s", "likes", "comments", "shares", "clicks", "conversions")


def _f(values: pd.Series) -> pd.Series:
    """A numeric column as plain float64 with NaN for missing (nullable Int64 included)."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def match_baselines(
    spark_results: pd.DataFrame,
    baselines: pd.DataFrame,
    posts: pd.DataFrame,
    as_of: pd.Series | None = None,
) -> pd.DataFrame:
    """The pooled baseline for each Spark result (rule in the module docstring), indexed like the results.

    Columns: `spend`, `impressions`, `views_2s`, `likes`, `comments`, `shares`, `clicks`, `conversions`
    (sums over the matched periods, NaN when nothing matched) and `baseline_periods` (how many).
    `as_of`, aligned with `spark_results`, limits each result to periods with `period_end < as_of`.
    """
    res = pd.DataFrame(
        {
            "_r": np.arange(len(spark_results)),
            "post_id": spark_results["post_id"].to_numpy(),
            "boosted_at": spark_results["boosted_at"].to_numpy(),
            "ended_at": spark_results["ended_at"].to_numpy(),
        }
    )
    if as_of is not None:
        res["_as_of"] = pd.to_datetime(pd.Series(as_of).to_numpy())
    res = res.merge(posts[["post_id", "advertiser_id"]].drop_duplicates("post_id"), on="post_id", how="left")
    base = baselines[["advertiser_id", "period_start", "period_end", *_POOLED]]
    pairs = res.merge(base, on="advertiser_id", how="inner")
    if as_of is not None:
        pairs = pairs[pairs["period_end"] < pairs["_as_of"]]
    # Overlap means a shared stretch of time: a period ending exactly when the boost starts is "earlier".
    overlaps = (pairs["period_start"] < pairs["ended_at"]) & (pairs["period_end"] > pairs["boosted_at"])
    earlier = pairs["period_end"] <= pairs["boosted_at"]
    has_overlap = overlaps.groupby(pairs["_r"]).transform("any")
    # The nearest earlier period: the latest period_end among the earlier ones, used only without overlap.
    nearest_end = pairs["period_end"].where(earlier).groupby(pairs["_r"]).transform("max")
    fallback = ~has_overlap & earlier & (pairs["period_end"] == nearest_end)
    chosen = pairs[overlaps | fallback]
    pooled = chosen.groupby("_r")[list(_POOLED)].sum()
    pooled["baseline_periods"] = chosen.groupby("_r").size()
    out = pooled.reindex(np.arange(len(spark_results)))
    out["baseline_periods"] = out["baseline_periods"].fillna(0).astype(int)
    out.index = spark_results.index
    return out.astype({c: "float64" for c in _POOLED})


def shrunk_log_cpa_ratio(
    spend: pd.Series | np.ndarray | float,
    conversions: pd.Series | np.ndarray | float,
    baseline_cpa: pd.Series | np.ndarray | float,
    prior_conversions: float,
) -> np.ndarray:
    """log(baseline CPA / shrunk Spark CPA), in natural-log units (0 = as good as ordinary ads).

    The Spark conversion rate per unit spend is the gamma-Poisson posterior mean
    (conversions + k) / (spend + k * baseline_cpa); with k = 0 this is the raw ratio (infinite or
    undefined for zero conversions, hence a positive k by default). Missing baseline gives NaN.
    """
    spend = np.asarray(spend, dtype="float64")
    conv = np.asarray(conversions, dtype="float64")
    cpa_b = np.asarray(baseline_cpa, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (conv + prior_conversions) / (spend + prior_conversions * cpa_b)
        out = np.log(cpa_b * rate)
    return np.where(np.isfinite(out), out, np.nan)


def shrunk_log_rate_ratio(
    successes: pd.Series | np.ndarray | float,
    trials: pd.Series | np.ndarray | float,
    baseline_rate: pd.Series | np.ndarray | float,
    prior_trials: float,
) -> np.ndarray:
    """log(shrunk Spark rate / baseline rate) for a per-impression rate (engagement or thumb-stop).

    The Spark rate is (successes + m * baseline_rate) / (trials + m), a beta-binomial posterior mean with
    m pseudo-trials at the baseline rate. NaN when the baseline rate is missing or zero.
    """
    succ = np.asarray(successes, dtype="float64")
    trials = np.asarray(trials, dtype="float64")
    base = np.asarray(baseline_rate, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (succ + prior_trials * base) / (trials + prior_trials)
        out = np.log(rate / base)
    return np.where(np.isfinite(out), out, np.nan)


def uplift_labels(
    spark_results: pd.DataFrame,
    baselines: pd.DataFrame,
    posts: pd.DataFrame,
    config: LabelConfig,
    as_of: pd.Series | None = None,
) -> pd.Series:
    """The uplift label of each Spark result (float, natural-log ratio; NaN without a usable baseline).

    Indexed like `spark_results`. `config.kind` picks the definition (module docstring); `as_of`
    (aligned with the results) restricts baselines to periods that ended before it.
    """
    if spark_results.empty:
        return pd.Series(dtype="float64", index=spark_results.index, name="uplift")
    base = match_baselines(spark_results, baselines, posts, as_of=as_of)
    r = spark_results
    with np.errstate(divide="ignore", invalid="ignore"):
        if config.kind == "cpa_ratio":
            cpa_b = (base["spend"] / base["conversions"]).where(
                (base["conversions"] > 0) & (base["spend"] > 0)
            )
            values = shrunk_log_cpa_ratio(
                _f(r["spend"]).to_numpy(),
                _f(r["conversions"]).to_numpy(),
                cpa_b.to_numpy(),
                config.prior_strength_conversions,
            )
        else:
            if config.kind == "engagement_ratio":
                spark_succ = _f(r["likes"]) + _f(r["comments"]) + _f(r["shares"])
                base_succ = base["likes"] + base["comments"] + base["shares"]
            else:  # thumbstop_ratio
                spark_succ = _f(r["views_2s"])
                base_succ = base["views_2s"]
            base_rate = (base_succ / base["impressions"]).where(base["impressions"] > 0)
            values = shrunk_log_rate_ratio(
                spark_succ.to_numpy(),
                _f(r["impressions"]).to_numpy(),
                base_rate.to_numpy(),
                config.prior_strength_impressions,
            )
    return pd.Series(values, index=spark_results.index, name="uplift", dtype="float64")


def relevance_grades(uplift: pd.Series, groups: pd.Series, levels: int) -> pd.Series:
    """Integer relevance grades 0..levels-1 for lambdarank, by rank within each group.

    Within a group of n labelled rows, a row with average rank r (1 = lowest uplift; tied rows share
    their average rank, so ties get the same grade) gets floor(levels * (r - 0.5) / n): the group's
    best row gets the top grade and its worst grade 0 once n >= levels, and a single-row group gets the
    middle grade (it carries no ranking information either way). Only the order inside a group matters
    to lambdarank, so grading by rank rather than by absolute uplift is lossless for it and robust to
    outlying labels. Missing uplift gives a missing grade (<NA>).
    """
    if levels < 2:
        raise ValueError(f"relevance levels must be at least 2, got {levels}")
    u = pd.Series(uplift, dtype="float64")
    g = pd.Series(groups, index=u.index)
    rank = u.groupby(g, sort=False).rank(method="average")
    n = u.notna().groupby(g, sort=False).transform("sum")
    grade = np.floor(levels * (rank - 0.5) / n).clip(0, levels - 1)
    return grade.astype("Int64").rename("relevance")


def global_grades(uplift: pd.Series, reference: pd.Series | np.ndarray, levels: int) -> pd.Series:
    """Integer relevance grades 0..levels-1 by where each uplift falls among the `reference` uplifts.

    The cut points are the reference's 1/levels .. (levels-1)/levels quantiles, so on the reference
    itself the grades are (nearly) equal-sized; other rows (validation, later boosts) are graded with
    the same cut points. The uplift is already relative to the advertiser's own in-feed ads in the same
    period, so one scale holds across advertisers and weeks: a grade says "top fifth of all past
    boosts", not merely "best of its week". Lambdarank still compares rows only within a decision
    group, but its gains (2^grade - 1) now weigh a group by how good its posts really were, so a week
    of poor boosts no longer teaches as much as a week of good ones. Missing uplift gives <NA>.
    """
    if levels < 2:
        raise ValueError(f"relevance levels must be at least 2, got {levels}")
    ref = pd.Series(np.asarray(reference, dtype="float64")).dropna()
    u = pd.Series(uplift, dtype="float64")
    if ref.empty:  # nothing to grade against: no grades (an empty training set stays empty)
        return pd.Series(pd.NA, index=u.index, dtype="Int64", name="relevance")
    cuts = np.quantile(ref.to_numpy(), np.arange(1, levels) / levels)
    grade = pd.Series(np.searchsorted(cuts, u.to_numpy(), side="right"), index=u.index, dtype="Int64")
    return grade.where(u.notna()).astype("Int64").rename("relevance")


def grade(uplift: pd.Series, groups: pd.Series, config: LabelConfig, reference: pd.Series | None = None) -> pd.Series:
    """Relevance grades as `config.relevance_scope` says: "global" against `reference` (default: the
    uplifts themselves) or "group" by rank within each decision group."""
    if config.relevance_scope == "group":
        return relevance_grades(uplift, groups, config.relevance_levels)
    return global_grades(uplift, uplift if reference is None else reference, config.relevance_levels)
