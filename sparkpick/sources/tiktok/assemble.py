"""The contract tables from what the endpoint readers gathered: boosts, hours and baselines summed (no HTTP)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sparkpick.config import TiktokConfig
from sparkpick.contract import SPECS, typed_frame
from sparkpick.sources.tiktok.fields import REPORT, REPORT_METRICS
from sparkpick.sources.tiktok.partnerships import partnership_table
from sparkpick.sources.tiktok.records import Gathered


def contract_tables(
    got: Gathered, cfg: TiktokConfig, advertisers: list[dict[str, Any]], partnerships: pd.DataFrame | None,
    as_of: pd.Timestamp, period: pd.DateOffset,
) -> dict[str, pd.DataFrame]:
    """The eight contract tables from the records gathered as of `as_of` (naive UTC); baselines summed per
    `period`. Notes and skipped records are added to `got`."""
    return {
        "advertisers": typed_frame(SPECS["advertisers"], advertisers),
        "creators": typed_frame(SPECS["creators"], list(got.creators.values())),
        "partnerships": partnership_table(got, cfg, partnerships),
        "posts": typed_frame(SPECS["posts"], list(got.posts.values())),
        "metrics": typed_frame(SPECS["metrics"], got.metrics),
        "spark_results": _spark_results(got, as_of),
        "baselines": _baselines(got, period),
        "spark_hourly": _spark_hourly(got),
    }


def _boost_starts(got: Gathered) -> pd.DataFrame:
    """Per Spark ad and post: the first day it delivered (UTC), which names its boost with `post_id`."""
    cols = list(REPORT_METRICS.values())
    daily = pd.DataFrame(got.spark_rows, columns=["advertiser_id", "ad_id", "day", "post_id", *cols])
    daily = daily[(daily["impressions"] > 0) | (daily["spend"] > 0)]
    return daily.groupby(["post_id", "ad_id"], as_index=False).agg(boosted_at=("day", "min"))


def _spark_hourly(got: Gathered) -> pd.DataFrame:
    cols = list(REPORT_METRICS.values())
    hourly = pd.DataFrame(got.hourly_rows, columns=["ad_id", "post_id", "hour_start", *cols])
    hourly = hourly[(hourly["impressions"] > 0) | (hourly["spend"] > 0) | (hourly["conversions"] > 0)]
    if hourly.empty:
        return typed_frame(SPECS["spark_hourly"], [])
    hourly = hourly.merge(_boost_starts(got), on=["post_id", "ad_id"], how="inner")
    early = hourly["hour_start"] < hourly["boosted_at"].dt.floor("h")
    for rec in hourly[early].drop_duplicates(["ad_id"]).to_dict("records"):
        got.notes.append(f"ad {rec['ad_id']}: hourly rows before its first delivery day left out")
    hourly = hourly[~early & hourly["post_id"].isin(got.posts)]
    sums = hourly.groupby(["post_id", "boosted_at", "hour_start"], as_index=False)[cols].sum()
    return typed_frame(SPECS["spark_hourly"], sums.to_dict("records"))


def _spark_results(got: Gathered, as_of: pd.Timestamp) -> pd.DataFrame:
    cols = list(REPORT_METRICS.values())
    daily = pd.DataFrame(got.spark_rows, columns=["advertiser_id", "ad_id", "day", "post_id", *cols])
    daily = daily[(daily["impressions"] > 0) | (daily["spend"] > 0)]
    if daily.empty:
        return typed_frame(SPECS["spark_results"], [])
    per_ad = daily.groupby(["post_id", "ad_id"], as_index=False).agg(
        boosted_at=("day", "min"), last_day=("day", "max"), **{c: (c, "sum") for c in cols}
    )
    per_ad["ended_at"] = (per_ad["last_day"] + pd.Timedelta(days=1)).clip(upper=as_of)
    per_ad["running"] = per_ad["ad_id"].isin(got.running_ads)
    boosts = per_ad.groupby(["post_id", "boosted_at"], as_index=False).agg(
        ended_at=("ended_at", "max"), running=("running", "any"), **{c: (c, "sum") for c in cols}
    )
    live = boosts[boosts["running"]]
    if len(live):
        got.notes.append(f"{len(live)} boost(s) still delivering: no result yet (live), see spark_hourly")
    rows: list[dict[str, Any]] = []
    for rec in boosts[~boosts["running"]].drop(columns="running").to_dict("records"):
        if rec["post_id"] not in got.posts:
            got.skip(REPORT, f"Spark Ad result of item {rec['post_id']}",
                     "the boosted post is neither an organic post of a configured account nor authorised "
                     "to the advertiser (tt_video/list); result skipped")
            continue
        rows.append({**rec, "boost_propensity": None})
    return typed_frame(SPECS["spark_results"], rows)


def _baselines(got: Gathered, period: pd.DateOffset) -> pd.DataFrame:
    cols = list(REPORT_METRICS.values())
    daily = pd.DataFrame(got.baseline_rows, columns=["advertiser_id", "ad_id", "day", *cols])
    if daily.empty:
        return typed_frame(SPECS["baselines"], [])
    daily["period_start"] = daily["day"].map(lambda d: period.rollback(d.normalize()))
    sums = daily.groupby(["advertiser_id", "period_start"], as_index=False)[
        [c for c in cols if c != "views_6s"]
    ].sum()
    sums["period_end"] = sums["period_start"].map(lambda s: s + period)
    return typed_frame(SPECS["baselines"], sums.to_dict("records"))
