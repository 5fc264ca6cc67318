"""Fetching from the TikTok API for Business: the accounts' and advertisers' records as contract tables.

`fetch_tables` reads the configured accounts and advertisers and returns the
contract tables (`sparkpick.contract`) plus every record it had to skip, so that the ingest step validates
and loads them exactly like a local folder.

Where each contract column comes from
-------------------------------------
advertisers   (one per configured advertiser, from `advertiser/info/`, up to 100 ids per request)
  advertiser_id, name, currency, timezone   same names (an advertiser the API does not name is left out
                                            and listed in `notes`: the report shows its id)
creators      (one per business account in `tiktok.business_ids`, and one per creator identity met in
              `tt_video/list/` that is not one of those accounts)
  creator_id        business_id (`business/get/`) | `user_info.identity_id` (`tt_video/list/`; an identity
                    whose `tiktok_name` equals a configured account's username is folded into that account)
  handle            `username` (else `display_name`) | `user_info.tiktok_name`
  follower_count    `followers_count` | not given by `tt_video/list/`: 0, listed in `notes`
  is_brand_account  business_id in `tiktok.brand_business_ids` | `identity_type == "TT_USER"`
posts         (organic posts of the accounts, plus authorised posts not among them)
  post_id           `item_id` (19-digit ids stay exact strings; a float is rejected as corrupted)
  advertiser_id     `tiktok.account_advertisers[business_id]` (or the only advertiser) | the advertiser
                    whose `tt_video/list/` holds the item
  creator_id        as above
  posted_at         `create_time` (epoch seconds) | not in `tt_video/list/`: decoded from the item id, whose
                    upper 32 bits are the creation time in epoch seconds (listed in `notes`)
  caption           `caption` | `item_info.text`
  video_path        always empty: the API gives expiring preview URLs, not files (nothing is downloaded)
  spark_auth_status `auth_info.ad_auth_status` (AUTHORIZED -> authorized, EXPIRED -> expired, INVITING /
                    PENDING -> requested, anything else -> none; authorized past `auth_end_time` -> expired);
                    posts absent from `tt_video/list/` -> none
  spark_auth_expires_at  `auth_info.auth_end_time`
partnerships  (one per advertiser and creator pair seen in posts)
  kind              "own" for brand accounts, else `tiktok.default_partnership_kind`
  started_at        the pair's earliest post (the API knows nothing of contracts)
  usage_rights      NOT in the API: it lives in the creator's contract. True for the brand's own account,
                    false for everyone else until a local partnerships table (argument `partnerships`, read
                    from the `--partnerships FILE` or `tiktok.partnerships_file` by `read_partnerships`)
                    overrides kind, started_at and usage_rights per pair.
metrics       (one snapshot per organic post, `observed_at = as_of`)
  views, likes, comments, shares  `video_views`, `likes`, `comments`, `shares`
  avg_watch_s, full_watch_rate    `average_time_watched` (s), `full_video_watched_rate` (0-1)
  reach                           `reach`
  Quirks: reach and the watch fields vanish once a post has been idle for 7 days (kept null where the
  contract allows it, otherwise the snapshot is left out and listed in `notes`: an idle post's earlier
  snapshot already holds them); numbers arrive 24-48 h late, so a snapshot stamped `as_of` describes
  the post a day or two earlier; they stop updating 365 days after posting. The API answers with
  today's numbers only, so `as_of` must be the moment of fetching (posts created after it are left out).
spark_results (one per finished boost: Spark ads of the same post whose delivery starts on the same day are
              summed; a boost with an ad still delivering (`operation_status` ENABLE and delivery on the
              as-of day or the day before) is live: no result row yet, so it is never a training label)
  from `report/integrated/get/` (AUCTION_AD, daily rows per `ad_id`, `report_window_days` windows over
  `report_lookback_days`, metric values given as strings) joined to `ad/get/` (`ad_id -> tiktok_item_id`;
  an ad with an item id is a Spark Ad).
  boosted_at / ended_at  first delivery day / the day after the last delivery day (capped at `as_of`);
                         report days are in the advertiser's time zone (`advertiser/info/`), stored as the
                         UTC moment of that local midnight
spark_hourly  (one per boost and hour, for Spark ads that delivered in the last `hourly_lookback_days`)
  from `report/integrated/get/` with dimensions `["ad_id", "stat_time_hour"]`, one day per request (the
  API serves hourly rows for short ranges only; the Airbyte connector steps P1D too), filtered to those
  ads; the whole lookback is re-read every time because conversions are attributed late and earlier
  hours change (the warehouse upsert replaces them). `stat_time_hour` is in the advertiser's time zone and
  becomes a UTC `hour_start`; only hours that ended by `as_of` are kept; the boost key (`post_id`,
  `boosted_at`) is the one its spark_results row has or will have.
  spend, impressions, clicks, likes, comments, shares   same names
  views_2s, views_6s   `video_watched_2s`, `video_watched_6s`
  conversions        `real_time_conversion`: counted in the hour the conversion happened, so a finished
                     boost's hours show the lag between spend and conversions that the monitor learns;
                     `conversion` (spark_results, baselines) credits the impression's hour and keeps
                     growing for days, which hides that lag and leaves recent hours short
  boost_propensity   unknown to the API: empty
baselines     (non-Spark ads of each advertiser, summed per `baseline_period`, default calendar month)
  period_start / period_end   start of the period / start of the next one; views_2s from
                              `video_watched_2s`, conversions from `conversion`.

A bad record (missing or float item id, unparseable number or time, negative count) is skipped and
reported in `FetchResult.problems` with its id and reason; the rest of the batch goes on. An ad with one
unreadable daily row is left out whole (a partial sum would be a wrong result, not a missing one), and so are
its hourly rows when one hourly row is unreadable (`_parse_report_rows` reads both). The access token never
appears in logs, errors or reprs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pandas.tseries.frequencies import to_offset

from sparkpick.config import Settings, TiktokConfig
from sparkpick.contract import METRICS, SPECS, as_utc, typed_frame
from sparkpick.errors import InputError
from sparkpick.sources.tiktok.client import TikTokApiError, TikTokClient, TikTokTokenError, TikTokUnavailableError
from sparkpick.sources.tiktok.partnerships import partnership_table
from sparkpick.sources.tiktok.records import (
    AUTH_STATUS,
    BadRecord,
    FetchResult,
    Gathered,
    item_posted_at,
    parse_api_time,
    parse_auth_status,
    parse_count,
    parse_epoch,
    parse_id,
    parse_number,
    parse_snapshot,
    parse_text,
)

log = logging.getLogger(__name__)

VIDEO_LIST = "business/video/list/"
ACCOUNT_GET = "business/get/"
SPARK_LIST = "tt_video/list/"
AD_GET = "ad/get/"
REPORT = "report/integrated/get/"
ADVERTISER_INFO = "advertiser/info/"
# An enabled Spark ad that delivered this recently (days, in the account's time zone) is still running.
RUNNING_WITHIN_DAYS = 1

VIDEO_FIELDS = [
    "item_id", "create_time", "caption", "video_duration", "share_url", "video_views", "reach", "likes",
    "comments", "shares", "favorites", "average_time_watched", "total_time_watched",
    "full_video_watched_rate",
]
ACCOUNT_FIELDS = ["username", "display_name", "followers_count"]
ADVERTISER_FIELDS = ["advertiser_id", "name", "currency", "timezone"]
# advertiser/info/ takes at most this many ids per request.
ADVERTISER_INFO_BATCH = 100
AD_FIELDS = ["ad_id", "advertiser_id", "tiktok_item_id", "identity_type", "identity_id", "create_time",
             "operation_status"]
# Report metric -> contract column (spark_results and baselines share them).
REPORT_METRICS = {
    "spend": "spend",
    "impressions": "impressions",
    "video_watched_2s": "views_2s",
    "video_watched_6s": "views_6s",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "clicks": "clicks",
    "conversion": "conversions",
}
# Hourly rows take the conversion counted when it happened (see spark_hourly above), the rest as REPORT_METRICS.
HOURLY_METRICS = {**{k: v for k, v in REPORT_METRICS.items() if k != "conversion"},
                  "real_time_conversion": "conversions"}


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
    numbers: dict[str, float | int]  # contract column -> value


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


def account_advertisers(cfg: TiktokConfig) -> dict[str, str]:
    """business_id -> advertiser_id, from `account_advertisers` or the single configured advertiser."""
    out: dict[str, str] = {}
    unmapped: list[str] = []
    for bid in cfg.business_ids:
        if bid in cfg.account_advertisers:
            out[bid] = cfg.account_advertisers[bid]
        elif len(cfg.advertiser_ids) == 1:
            out[bid] = cfg.advertiser_ids[0]
        else:
            unmapped.append(bid)
    if unmapped:
        raise InputError(
            f"tiktok.account_advertisers must name the advertiser of business account(s) "
            f"{', '.join(unmapped)}: with {len(cfg.advertiser_ids)} advertisers configured it cannot be guessed."
        )
    return out


def fetch_tables(
    client: TikTokClient,
    settings: Settings,
    as_of: pd.Timestamp,
    partnerships: pd.DataFrame | None = None,
) -> FetchResult:
    """Fetch everything the configured accounts and advertisers hold, as the six contract tables.

    `as_of` is the moment of fetching (naive UTC): organic numbers become a snapshot observed then.
    `partnerships` (optional, in the contract's columns) overrides kind, started_at and usage_rights per
    advertiser and creator pair, since contracts are not in the API. See the module docstring for which
    API field feeds which column.
    """
    cfg = settings.tiktok
    as_of = as_utc(as_of)
    if not cfg.business_ids and not cfg.advertiser_ids:
        raise InputError("Nothing to fetch: set tiktok.business_ids and/or tiktok.advertiser_ids in the config.")
    owners = account_advertisers(cfg)
    try:
        period = to_offset(cfg.baseline_period)
    except ValueError as exc:
        raise InputError(f"tiktok.baseline_period {cfg.baseline_period!r} is not a pandas period alias.") from exc

    got = Gathered()
    # first: the names go in the advertisers table, the time zones read the reports' days and hours
    advertisers = _fetch_advertisers(client, sorted({*cfg.advertiser_ids, *owners.values()}), got)
    for bid, advertiser in owners.items():
        _fetch_account(client, cfg, bid, advertiser, as_of, got)
    for advertiser in cfg.advertiser_ids:
        _fetch_authorisations(client, cfg, advertiser, as_of, got)
    for advertiser in cfg.advertiser_ids:
        _fetch_ad_results(client, cfg, advertiser, as_of, got)

    tables = {
        "advertisers": typed_frame(SPECS["advertisers"], advertisers),
        "creators": typed_frame(SPECS["creators"], list(got.creators.values())),
        "partnerships": partnership_table(got, cfg, partnerships),
        "posts": typed_frame(SPECS["posts"], list(got.posts.values())),
        "metrics": typed_frame(SPECS["metrics"], got.metrics),
        "spark_results": _spark_results(got, as_of),
        "baselines": _baselines(got, period),
        "spark_hourly": _spark_hourly(got),
    }
    notes = got.notes + client.notes
    log.info(
        "TikTok fetch as of %s: %s; %d skipped, %d notes, %d requests", as_of,
        ", ".join(f"{len(t)} {n}" for n, t in tables.items()), len(got.problems), len(notes),
        client.requests_made,
    )
    return FetchResult(tables, got.problems, notes)


def _fetch_advertisers(client: TikTokClient, ids: list[str], got: Gathered) -> list[dict[str, Any]]:
    """Name, currency and time zone of each advertiser (`advertiser/info/`). Optional: a refusal or a bad
    record leaves that advertiser unnamed (the report then shows its id), never the night."""
    rows: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), ADVERTISER_INFO_BATCH):
        batch = ids[start:start + ADVERTISER_INFO_BATCH]
        try:
            data = client.get(ADVERTISER_INFO, {"advertiser_ids": batch, "fields": ADVERTISER_FIELDS})
        except TikTokApiError as exc:
            _per_scope(got, exc.endpoint, f"advertiser(s) {', '.join(batch)}", exc)
            continue
        listed = data.get("list") if isinstance(data.get("list"), list) else []
        for n, record in enumerate(listed, start=1):
            label = f"advertiser #{n} of {ADVERTISER_INFO}"
            try:
                advertiser = parse_id(record.get("advertiser_id"), "advertiser_id")
                label = f"advertiser {advertiser}"
                name = parse_text(record.get("name"))
                if not name:
                    raise BadRecord("no name")
            except (BadRecord, AttributeError) as exc:
                got.skip(ADVERTISER_INFO, label, str(exc))
                continue
            if advertiser not in batch:
                got.notes.append(f"{ADVERTISER_INFO} returned advertiser {advertiser}, not asked for: ignored")
                continue
            got.advertisers[advertiser] = rows[advertiser] = {"advertiser_id": advertiser, "name": name,
                                "currency": parse_text(record.get("currency")),
                                "timezone": parse_text(record.get("timezone"))}
    unnamed = [a for a in ids if a not in rows]
    if unnamed:
        got.notes.append(f"no name for advertiser(s) {', '.join(unnamed)}: shown by id")
    return list(rows.values())


def _per_scope(got: Gathered, endpoint: str, scope: str, exc: TikTokApiError) -> None:
    """A definitive refusal for one account or advertiser skips that scope; the others go on."""
    if isinstance(exc, (TikTokTokenError, TikTokUnavailableError)):
        raise exc
    got.skip(endpoint, scope, str(exc))


def _fetch_account(
    client: TikTokClient, cfg: TiktokConfig, bid: str, advertiser: str, as_of: pd.Timestamp, got: Gathered
) -> None:
    try:
        profile = client.get(ACCOUNT_GET, {"business_id": bid, "fields": ACCOUNT_FIELDS})
        videos = list(client.iter_cursor(VIDEO_LIST, {"business_id": bid, "fields": VIDEO_FIELDS}, "videos"))
    except TikTokApiError as exc:
        _per_scope(got, exc.endpoint, f"business account {bid}", exc)
        return
    handle = str(profile.get("username") or profile.get("display_name") or bid).strip()
    try:
        followers = parse_count(profile, "followers_count")
    except BadRecord as exc:
        followers = 0
        got.notes.append(f"business account {bid}: {exc}; follower_count stored as 0")
    got.creators[bid] = {
        "creator_id": bid, "handle": handle, "follower_count": followers,
        "is_brand_account": bid in cfg.brand_business_ids,
    }
    got.username_to_creator[handle.lstrip("@").lower()] = bid
    watch_nullable = METRICS.column("avg_watch_s").nullable and METRICS.column("full_watch_rate").nullable
    idle: list[str] = []

    for n, video in enumerate(videos, start=1):
        label = f"video #{n} of business account {bid}"
        try:
            item_id = parse_id(video.get("item_id"), "item_id")
            label = f"item {item_id}"
            posted_at = parse_epoch(video.get("create_time"), "create_time")
        except BadRecord as exc:
            got.skip(VIDEO_LIST, label, str(exc))
            continue
        if item_id in got.posts:
            continue  # cursor pages can overlap when new posts arrive mid-listing
        if posted_at > as_of:
            continue  # posted after the as-of moment: not part of this snapshot
        got.posts[item_id] = {
            "post_id": item_id, "advertiser_id": advertiser, "creator_id": bid, "posted_at": posted_at,
            "caption": parse_text(video.get("caption")), "video_path": None, "spark_auth_status": "none",
            "spark_auth_expires_at": None,
        }
        try:
            snapshot = parse_snapshot(video, item_id, as_of)
        except BadRecord as exc:
            got.skip(VIDEO_LIST, label, f"metrics snapshot skipped: {exc}")
            continue
        if (snapshot["avg_watch_s"] is None or snapshot["full_watch_rate"] is None) and not watch_nullable:
            idle.append(item_id)  # expected API behaviour, not a bad record: one note, not a problem each
            continue
        got.metrics.append(snapshot)
    if idle:
        got.notes.append(
            f"business account {bid}: no snapshot for {len(idle)} idle post(s) (the API drops watch-time "
            f"fields after 7 idle days and the contract requires them; earlier snapshots keep them): "
            f"{', '.join(idle)}"
        )


def _fetch_authorisations(
    client: TikTokClient, cfg: TiktokConfig, advertiser: str, as_of: pd.Timestamp, got: Gathered
) -> None:
    try:
        items = list(client.iter_pages(SPARK_LIST, {"advertiser_id": advertiser}, "list"))
    except TikTokApiError as exc:
        _per_scope(got, exc.endpoint, f"advertiser {advertiser}", exc)
        return
    for n, item in enumerate(items, start=1):
        label = f"authorisation #{n} of advertiser {advertiser}"
        info = item.get("item_info") if isinstance(item.get("item_info"), dict) else {}
        auth = item.get("auth_info") if isinstance(item.get("auth_info"), dict) else {}
        user = item.get("user_info") if isinstance(item.get("user_info"), dict) else {}
        try:
            item_id = parse_id(info.get("item_id"), "item_info.item_id")
            label = f"item {item_id}"
            expires = parse_api_time(auth.get("auth_end_time"), "auth_info.auth_end_time")
        except BadRecord as exc:
            got.skip(SPARK_LIST, label, str(exc))
            continue
        raw_status = str(auth.get("ad_auth_status") or "").strip().upper()
        if raw_status not in AUTH_STATUS:
            got.notes.append(f"item {item_id}: unknown ad_auth_status {raw_status!r}, read as none")
        status = parse_auth_status(raw_status, expires, as_of)
        post = got.posts.get(item_id)
        if post is not None:
            if post["advertiser_id"] != advertiser:
                got.notes.append(
                    f"item {item_id} is authorised to advertiser {advertiser} but belongs to "
                    f"{post['advertiser_id']} (its account's advertiser); kept with {post['advertiser_id']}"
                )
                continue
            post["spark_auth_status"], post["spark_auth_expires_at"] = status, expires
            continue
        try:
            creator_id = _creator_from_identity(user, got)
        except BadRecord as exc:
            got.skip(SPARK_LIST, label, str(exc))
            continue
        posted_at = item_posted_at(item_id)
        if posted_at is None:
            got.skip(SPARK_LIST, label, "no posting time: the item id does not encode one")
            continue
        if posted_at > as_of:
            continue
        got.notes.append(f"item {item_id}: posted_at decoded from the item id (tt_video/list gives no time)")
        got.posts[item_id] = {
            "post_id": item_id, "advertiser_id": advertiser, "creator_id": creator_id, "posted_at": posted_at,
            "caption": parse_text(info.get("text")), "video_path": None, "spark_auth_status": status,
            "spark_auth_expires_at": expires,
        }


def _creator_from_identity(user: Mapping[str, Any], got: Gathered) -> str:
    name = parse_text(user.get("tiktok_name"))
    if name and name.lstrip("@").lower() in got.username_to_creator:
        return got.username_to_creator[name.lstrip("@").lower()]
    identity = parse_id(user.get("identity_id"), "user_info.identity_id")
    if identity not in got.creators:
        got.creators[identity] = {
            "creator_id": identity, "handle": name or identity, "follower_count": 0,
            "is_brand_account": str(user.get("identity_type", "")).upper() == "TT_USER",
        }
        got.notes.append(f"creator {identity}: follower count unknown (tt_video/list gives none); stored as 0")
    return identity


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
        records = data.get("list") if isinstance(data.get("list"), list) else []
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


def _fetch_ad_results(
    client: TikTokClient, cfg: TiktokConfig, advertiser: str, as_of: pd.Timestamp, got: Gathered
) -> None:
    try:
        tz = advertiser_timezone(client, advertiser, got)
        ads = list(client.iter_pages(
            AD_GET,
            {"advertiser_id": advertiser, "fields": AD_FIELDS, "filtering": {"primary_status": "STATUS_ALL"}},
            "list", page_size=cfg.report_page_size,
        ))
        rows: list[dict[str, Any]] = []
        for start, end in report_windows(as_of, cfg.report_lookback_days, cfg.report_window_days):
            rows += client.iter_pages(REPORT, DAILY.params(advertiser, start, end), "list",
                                      page_size=cfg.report_page_size)
    except TikTokApiError as exc:
        _per_scope(got, exc.endpoint, f"advertiser {advertiser}", exc)
        return

    item_of: dict[str, str | None] = {}
    enabled: set[str] = set()
    for n, ad in enumerate(ads, start=1):
        try:
            ad_id = parse_id(ad.get("ad_id"), "ad_id")
        except BadRecord as exc:
            got.skip(AD_GET, f"ad #{n} of advertiser {advertiser}", str(exc))
            continue
        raw_item = ad.get("tiktok_item_id")
        if str(ad.get("operation_status") or "").upper() == "ENABLE":
            enabled.add(ad_id)
        try:
            item_of[ad_id] = parse_id(raw_item, "tiktok_item_id") if raw_item not in (None, "", 0, "0") else None
        except BadRecord as exc:
            got.skip(AD_GET, f"ad {ad_id}", str(exc))

    report = _parse_report_rows(rows, DAILY, advertiser, got)
    for ad_id in dict.fromkeys(row.ad_id for row in report.readable if row.ad_id not in item_of):
        got.skip(REPORT, f"ad {ad_id}", "not returned by ad/get: cannot tell its post; its rows are skipped")
    recent = hourly_days(as_of, tz, max(cfg.hourly_lookback_days, RUNNING_WITHIN_DAYS + 1))
    spark_days: dict[pd.Timestamp, set[str]] = {}
    for row in report.kept:
        if row.ad_id not in item_of:
            continue
        item = item_of[row.ad_id]
        # The report's day is a local date: stored as the UTC moment its local midnight began.
        record = {"advertiser_id": advertiser, "ad_id": row.ad_id, "day": local_to_utc(row.local, tz),
                  **row.numbers}
        if item is None:
            got.baseline_rows.append(record)
            continue
        got.spark_rows.append({**record, "post_id": item})
        if record["impressions"] > 0 or record["spend"] > 0:
            spark_days.setdefault(row.local, set()).add(row.ad_id)
            if row.ad_id in enabled and row.local >= recent[-1 - RUNNING_WITHIN_DAYS]:
                got.running_ads.add(row.ad_id)
    if cfg.hourly_lookback_days > 0:
        days = recent[-cfg.hourly_lookback_days:]
        _fetch_hourly(client, cfg, advertiser, tz, as_of, {d: spark_days[d] for d in days if d in spark_days},
                      item_of, got)


def _fetch_hourly(
    client: TikTokClient, cfg: TiktokConfig, advertiser: str, tz: ZoneInfo, as_of: pd.Timestamp,
    ads_by_day: dict[pd.Timestamp, set[str]], item_of: Mapping[str, str | None], got: Gathered,
) -> None:
    """Hourly rows of the Spark ads that delivered on each recent local day, one request (and its pages) a day."""
    rows: list[dict[str, Any]] = []
    try:
        for day, ad_ids in sorted(ads_by_day.items()):
            date = day.strftime("%Y-%m-%d")
            rows += client.iter_pages(REPORT, {
                **HOURLY.params(advertiser, date, date),
                "filtering": [{"field_name": "ad_ids", "filter_type": "IN",
                               "filter_value": json.dumps(sorted(ad_ids))}],
            }, "list", page_size=cfg.report_page_size)
    except TikTokApiError as exc:
        _per_scope(got, exc.endpoint, f"hourly rows of advertiser {advertiser}", exc)
        return
    for row in _parse_report_rows(rows, HOURLY, advertiser, got).kept:
        item = item_of.get(row.ad_id)
        if not item:
            continue  # not a Spark Ad of this advertiser (the filter should have kept it out)
        hour_start = local_to_utc(row.local.floor("h"), tz)
        if hour_start + pd.Timedelta(hours=1) > as_of:
            continue  # the hour is still running: its figures are not final
        got.hourly_rows.append({"ad_id": row.ad_id, "post_id": item, "hour_start": hour_start, **row.numbers})


def _parse_report_rows(
    rows: Iterable[Mapping[str, Any]], grain: ReportGrain, advertiser: str, got: Gathered
) -> ReportRows:
    """The ad, local day or hour and contract numbers of each report row of `advertiser` (spend as a float,
    the rest whole counts). An unreadable row is skipped and reported in `got`, once per ad, saying that every
    row of that ad is left out (`ReportRows.kept`); a row without a readable ad id is reported on its own."""
    readable: list[ReportRow] = []
    tainted: set[str] = set()
    time_field = f"dimensions.{grain.time_dimension}"
    for row in rows:
        dims = row.get("dimensions") if isinstance(row.get("dimensions"), dict) else {}
        values = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
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
