"""The model's track record: what it predicted for each boost when the post was picked, beside what the
boost then realised, and whether the served model still keeps the promises its validation made.

Pure: contract tables and the `scores` table in, frames and a `TrackRecord` out.

- A boost's pick-time prediction is the latest score of its post with `as_of <= boosted_at` (the score a
  marketer saw when deciding); a boost whose post was never scored before it started has none.
- Its realised uplift is the training label (`features.labels.uplift_labels`, log(baseline CPA / Spark
  CPA)), computed with the baselines known at the track record's as-of time.
- Over the boosts that finished in the last `window_days`: how many, the Spearman rank correlation of
  realised against predicted, the mean error (realised - predicted, log units), and the share inside the
  predicted band.
- Retraining is due when the band's coverage or the rank correlation is *clearly* below what validation
  promised: a one-sided binomial test on the coverage (inside ~ Binomial(n, promised coverage)) and a
  one-sided Fisher z test on the Spearman correlation (variance 1.06 / (n - 3), Fieller et al. 1957), each
  at level `alpha`; with fewer than `min_count` boosts nothing is tested.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from features.labels import uplift_labels
from sparkpick.config import LabelConfig
from sparkpick.wording import coverage_shortfall_sentence, rank_shortfall_sentence

# Prediction columns carried from the `scores` table (log units, the label's scale).
PREDICTION_COLUMNS = ("predicted_uplift", "uplift_low", "uplift_high")
# Fieller, Hartley and Pearson (1957): var(atanh(Spearman rho)) ~ 1.06 / (n - 3).
_SPEARMAN_VARIANCE = 1.06


def pick_time_predictions(boosts: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """For each boost (`post_id`, `boosted_at`), the latest score of its post with `as_of <= boosted_at`.

    Returns `boosts` (same index and order) with `predicted_uplift`, `uplift_low`, `uplift_high`,
    `scored_at` (that score's as-of time) and `model_version`; missing when the post had no such score.
    """
    out = boosts.copy()
    for col in PREDICTION_COLUMNS:
        out[col] = np.nan
    out["scored_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[us]")
    out["model_version"] = pd.Series(None, index=out.index, dtype="object")
    if boosts.empty or scores.empty or "predicted_uplift" not in scores.columns:
        return out
    left = pd.DataFrame({
        "_row": np.arange(len(boosts)),
        "post_id": boosts["post_id"].astype("str").to_numpy(),
        "_at": pd.to_datetime(boosts["boosted_at"]).astype("datetime64[us]").to_numpy(),
    }).sort_values("_at", kind="stable")
    wanted = [c for c in (*PREDICTION_COLUMNS, "model_version") if c in scores.columns]
    right = pd.DataFrame({"post_id": scores["post_id"].astype("str"),
                          "_at": pd.to_datetime(scores["as_of"]).astype("datetime64[us]"),
                          **{c: scores[c] for c in wanted}})
    right["scored_at"] = right["_at"]
    right = right.dropna(subset=["_at", "predicted_uplift"]).sort_values(["_at", "post_id"], kind="stable")
    # Two scorings of a post at the same moment (two model versions): one of them, the same every time.
    right = right.drop_duplicates(["post_id", "_at"], keep="last")
    matched = pd.merge_asof(left, right, on="_at", by="post_id", direction="backward").sort_values("_row")
    for col in wanted:
        out[col] = matched[col].to_numpy()
    for col in PREDICTION_COLUMNS:
        out[col] = out[col].astype("float64")
    out["model_version"] = out["model_version"].astype("object")
    out["scored_at"] = pd.Series(matched["scored_at"].to_numpy(), index=out.index).astype("datetime64[us]")
    return out


def track_record_rows(
    tables: dict[str, pd.DataFrame],
    scores: pd.DataFrame,
    label: LabelConfig,
    as_of: pd.Timestamp,
    window_days: float,
) -> pd.DataFrame:
    """Every boost that finished in (as_of - window_days, as_of] and whose post was scored before it
    started: advertiser_id, post_id, boosted_at, ended_at, the pick-time prediction and band, model_version,
    `realised_uplift` (NaN without a usable baseline) and `inside` (realised within the band)."""
    columns = ["advertiser_id", "post_id", "boosted_at", "ended_at", *PREDICTION_COLUMNS, "scored_at",
               "model_version", "realised_uplift", "inside"]
    results = tables["spark_results"]
    if results.empty:
        return pd.DataFrame(columns=columns)
    as_of = pd.Timestamp(as_of)
    ended = pd.to_datetime(results["ended_at"])
    finished = results[(ended <= as_of) & (ended > as_of - pd.Timedelta(days=window_days))]
    if finished.empty:
        return pd.DataFrame(columns=columns)
    picked = pick_time_predictions(finished[["post_id", "boosted_at", "ended_at"]], scores)
    keep = picked["predicted_uplift"].notna()
    if not keep.any():
        return pd.DataFrame(columns=columns)
    finished, picked = finished[keep], picked[keep]
    realised = uplift_labels(finished, tables["baselines"], tables["posts"], label,
                             as_of=pd.Series(as_of, index=finished.index))
    posts = tables["posts"][["post_id", "advertiser_id"]].drop_duplicates("post_id")
    out = picked.merge(posts, on="post_id", how="left")
    out["realised_uplift"] = realised.to_numpy()
    out["inside"] = ((out["realised_uplift"] >= out["uplift_low"]) & (out["realised_uplift"] <= out["uplift_high"])
                     ).where(out["realised_uplift"].notna() & out["uplift_low"].notna())
    return out[columns].sort_values(["ended_at", "post_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class TrackRecord:
    """The rolling figures over the boosts that finished in the window (log units where it says so).

    `retrain_due` is True only when a test below rejected at level `alpha`; `why` says which, in words a
    marketer can read."""

    as_of: str
    window_days: float
    count: int
    predicted_mean: float | None = None  # mean predicted uplift (log units)
    realised_mean: float | None = None  # mean realised uplift (log units)
    mean_error: float | None = None  # mean of realised - predicted (log units)
    rank_correlation: float | None = None  # Spearman, realised vs predicted
    coverage: float | None = None  # share of realised uplifts inside the predicted band
    promised_coverage: float | None = None
    promised_rank_correlation: float | None = None
    coverage_p: float | None = None  # one-sided p-value: coverage below the promise
    rank_p: float | None = None  # one-sided p-value: rank correlation below the promise
    retrain_due: bool = False
    why: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["why"] = list(self.why)
        return out

    def metrics(self) -> dict[str, float]:
        """The figures worth a time series (MLflow metrics): the present, finite ones."""
        names = ("count", "predicted_mean", "realised_mean", "mean_error", "rank_correlation", "coverage",
                 "coverage_p", "rank_p")
        out = {n: float(v) for n in names if (v := getattr(self, n)) is not None and math.isfinite(float(v))}
        out["retrain_due"] = float(self.retrain_due)
        return out


def coverage_p_value(inside: int, count: int, promised: float) -> float:
    """P(at most `inside` of `count` boosts inside the band | the band really covers `promised`)."""
    return float(stats.binomtest(inside, count, promised, alternative="less").pvalue)


def rank_correlation_p_value(rho: float, count: int, promised: float) -> float:
    """One-sided p-value that Spearman `rho` over `count` pairs is below `promised` (Fisher z test)."""
    clip = 1 - 1e-9
    z = (math.atanh(max(-clip, min(clip, rho))) - math.atanh(max(-clip, min(clip, promised))))
    z /= math.sqrt(_SPEARMAN_VARIANCE / (count - 3))
    return float(stats.norm.cdf(z))


def summarise_track_record(
    rows: pd.DataFrame,
    as_of: pd.Timestamp,
    window_days: float,
    promised_coverage: float | None,
    promised_rank_correlation: float | None,
    alpha: float,
    min_count: int,
) -> TrackRecord:
    """The rolling figures and the retraining verdict over `rows` (from `track_record_rows`); rows
    without a realised uplift are left out."""
    ok = rows[rows["realised_uplift"].notna()] if len(rows) else rows
    n = len(ok)
    base = {"as_of": pd.Timestamp(as_of).isoformat(), "window_days": window_days, "count": n,
            "promised_coverage": promised_coverage, "promised_rank_correlation": promised_rank_correlation}
    if n == 0:
        return TrackRecord(**base)
    predicted = ok["predicted_uplift"].astype("float64").to_numpy()
    realised = ok["realised_uplift"].astype("float64").to_numpy()
    inside = ok["inside"].astype("boolean").fillna(False).astype(bool).to_numpy()
    rho = None
    if n >= 3 and np.ptp(predicted) > 0 and np.ptp(realised) > 0:
        rho = float(stats.spearmanr(predicted, realised).statistic)
    coverage = float(inside.mean())
    why: list[str] = []
    coverage_p = rank_p = None
    if n >= min_count:
        if promised_coverage is not None:
            coverage_p = coverage_p_value(int(inside.sum()), n, promised_coverage)
            if coverage_p < alpha:
                why.append(coverage_shortfall_sentence(coverage, n, promised_coverage))
        if promised_rank_correlation is not None and rho is not None and n > 3:
            rank_p = rank_correlation_p_value(rho, n, promised_rank_correlation)
            if rank_p < alpha:
                why.append(rank_shortfall_sentence(n))
    return TrackRecord(
        **base, predicted_mean=float(predicted.mean()), realised_mean=float(realised.mean()),
        mean_error=float((realised - predicted).mean()), rank_correlation=rho, coverage=coverage,
        coverage_p=coverage_p, rank_p=rank_p, retrain_due=bool(why), why=tuple(why),
    )
