"""Report rows of `report/integrated/get/` on the account's clock: grains, windows, local days and hours.

A report's days and hours are given in the advertiser's time zone (`advertiser_timezone`); they become UTC
here. An ad with one unreadable row is left out whole (`ReportRows.kept`): a partial sum would be a wrong
figure, not a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sparkpick.contract import as_utc
from sparkpick.sources.tiktok.client import TikTokApiError, TikTokClient, TikTokTokenError, TikTokUnavailableError
from sparkpick.sources.tiktok.fields import ADVERTISER_INFO, HOURLY_METRICS, REPORT, REPORT_METRICS
from sparkpick.sources.tiktok.records import (
    BadRecord,
    Gathered,
    list_field,
    object_field,
    parse_api_time,
    parse_count,
    parse_id,
    parse_number,
)


@dataclass(frozen=True)
class ReportGrain:
    """The daily or the hourly rows of `report/integrated/get/`: their time dimension, their metrics and how
    a problem with one of them is worded."""

    time_dimension: str  # "stat_time_day" | "stat_time_hour", on the advertiser's clock
    metrics: Mapping[str, str]  # report metric -> contract column
    row: str  # how a problem names one row
    loss: str  # what an ad's sums would get wrong with a row left out
    dated: bool  # a problem names the ad's day ("ad X on 2026-10-01") once the day is read

    def params(self, advertiser: str, start: str, end: str) -> dict[str, Any]:
        """The request for this grain's rows of `advertiser` from `start` to `end` (inclusive local dates)."""
        return {"advertiser_id": advertiser, "service_type": "AUCTION", "report_type": "BASIC",
                "data_level": "AUCTION_AD", "dimensions": ["ad_id", self.time_dimension],
                "metrics": list(self.metrics), "start_date": start, "end_date": end}

    def label(self, advertiser: str, ad_id: str | None, time: pd.Timestamp | None, time_read: bool) -> str:
        """How a problem names a row: by its ad (and day) once they are read, else by its advertiser."""
        if self.dated and ad_id is not None and time_read:
            return f"ad {ad_id} on {time.date() if time is not None else '?'}"
        if not self.dated and ad_id is not None:
            return f"{self.row} of ad {ad_id}"
        return f"{self.row} of advertiser {advertiser}"


DAILY = ReportGrain("stat_time_day", REPORT_METRICS, row="row", loss="totals", dated=True)
HOURLY = ReportGrain("stat_time_hour", HOURLY_METRICS, row="hourly row", loss="hours", dated=False)


@dataclass(frozen=True)
class ReportRow:
    """One readable report row: its ad, its day or hour (naive, on the advertiser's clock) and its numbers."""

    ad_id: str
    local: pd.Timestamp
    numbers: dict[str, float | int | None]  # contract column -> value (a required metric is never None)


@dataclass(frozen=True)
class ReportRows:
    """The readable rows of one report, in the API's order, and the ads that had an unreadable row."""

    readable: list[ReportRow]
    tainted: frozenset[str]

    @property
    def kept(self) -> list[ReportRow]:
        """The rows of the ads whose every row was readable: a partial sum would be a wrong figure, not a
        missing one, so an ad with one unreadable row is left out whole."""
        return [row for row in self.readable if row.ad_id not in self.tainted]


def report_windows(as_of: pd.Timestamp, lookback_days: int, window_days: int) -> list[tuple[str, str]]:
    """Inclusive (start_date, end_date) pairs of at most `window_days` days covering the lookback up to as_of."""
    end = as_utc(as_of).normalize()
    start = end - pd.Timedelta(days=lookback_days - 1)
    out: list[tuple[str, str]] = []
    while start <= end:
        stop = min(start + pd.Timedelta(days=window_days - 1), end)
        out.append((start.strftime("%Y-%m-%d"), stop.strftime("%Y-%m-%d")))
        start = stop + pd.Timedelta(days=1)
    return out


def advertiser_timezone(client: TikTokClient, advertiser: str, got: Gathered) -> ZoneInfo:
    """The ad account's time zone (`advertiser/info/`, already read by `_fetch_advertisers` when it named
    the advertiser), in which report days and hours are given; UTC, with a note, when the API does not say
    or names an unknown zone."""
    if advertiser in got.advertisers:
        name = str(got.advertisers[advertiser].get("timezone") or "")
    else:
        try:
            data = client.get(ADVERTISER_INFO,
                              {"advertiser_ids": [advertiser], "fields": ["advertiser_id", "timezone"]})
        except TikTokApiError as exc:
            if isinstance(exc, (TikTokTokenError, TikTokUnavailableError)):
                raise
            got.notes.append(f"advertiser {advertiser}: no time zone from {ADVERTISER_INFO} ({exc}); "
                             "report times read as UTC")
            return ZoneInfo("UTC")
        records = list_field(data, "list")
        name = next((str(r.get("timezone") or "") for r in records
                     if isinstance(r, dict) and str(r.get("advertiser_id", advertiser)) == advertiser), "")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        got.notes.append(f"advertiser {advertiser}: time zone {name!r} unknown; report times read as UTC")
        return ZoneInfo("UTC")


def local_to_utc(local: pd.Timestamp, tz: ZoneInfo) -> pd.Timestamp:
    """A naive wall-clock time in `tz` as naive UTC (a skipped DST hour moves forward; a repeated one reads
    as its first, daylight-saving occurrence)."""
    aware = pd.Timestamp(local).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return as_utc(aware)


def hourly_days(as_of: pd.Timestamp, tz: ZoneInfo, lookback_days: int) -> list[pd.Timestamp]:
    """The local dates (naive midnights) of the hourly lookback, oldest first, ending on as_of's local date."""
    today = as_utc(as_of).tz_localize("UTC").tz_convert(tz).tz_localize(None).normalize()
    return [today - pd.Timedelta(days=n) for n in range(lookback_days - 1, -1, -1)]


def parse_report_rows(
    rows: Iterable[Mapping[str, Any]], grain: ReportGrain, advertiser: str, got: Gathered
) -> ReportRows:
    """The ad, local day or hour and contract numbers of each report row of `advertiser` (spend as a float,
    the rest whole counts). An unreadable row is skipped and reported in `got`, once per ad, saying that every
    row of that ad is left out (`ReportRows.kept`); a row without a readable ad id is reported on its own."""
    readable: list[ReportRow] = []
    tainted: set[str] = set()
    time_field = f"dimensions.{grain.time_dimension}"
    for row in rows:
        dims = object_field(row, "dimensions")
        values = object_field(row, "metrics")
        ad_id, local, time_read = None, None, False
        try:
            ad_id = parse_id(dims.get("ad_id"), "dimensions.ad_id")
            local = parse_api_time(dims.get(grain.time_dimension), time_field)
            time_read = True
            if local is None:
                raise BadRecord(f"{time_field} is missing")
            numbers = {
                col: (parse_number(values, metric) if col == "spend" else parse_count(values, metric))
                for metric, col in grain.metrics.items()
            }
        except BadRecord as exc:
            label = grain.label(advertiser, ad_id, local, time_read)
            if ad_id is None:
                got.skip(REPORT, label, str(exc))
            elif ad_id not in tainted:
                tainted.add(ad_id)
                got.skip(REPORT, label, f"{exc}; every {grain.row} of ad {ad_id} is left out "
                                        f"(its {grain.loss} would be wrong)")
            continue
        readable.append(ReportRow(ad_id, local, numbers))
    return ReportRows(readable, frozenset(tainted))
