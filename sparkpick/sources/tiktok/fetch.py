"""The TikTok endpoint readers: the configured accounts' and advertisers' records, gathered for the tables.

`fetch_tables` reads the configured accounts and advertisers and returns the contract tables
(`sparkpick.contract`, assembled by `assemble.py`) plus every record it had to skip, so that the ingest step
validates and loads them exactly like a local folder. `fields.py` says which API field feeds which column;
`reports.py` reads the report rows on the advertiser's clock.

A bad record (missing or float item id, unparseable number or time, negative count) is skipped and
reported in `FetchResult.problems` with its id and reason; the rest of the batch goes on. An ad with one
unreadable daily row is left out whole (a partial sum would be a wrong result, not a missing one), and so are
its hourly rows when one hourly row is unreadable (`reports.parse_report_rows` reads both). The access token
never appears in logs, errors or reprs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from pandas.tseries.frequencies import to_offset

from sparkpick.clock import hour_ended_by
from sparkpick.config import Settings, TiktokConfig
from sparkpick.contract import METRICS, as_utc
from sparkpick.errors import InputError
from sparkpick.sources.tiktok.assemble import contract_tables
from sparkpick.sources.tiktok.client import TikTokApiError, TikTokClient, TikTokTokenError, TikTokUnavailableError
from sparkpick.sources.tiktok.fields import (
    ACCOUNT_FIELDS,
    ACCOUNT_GET,
    AD_FIELDS,
    AD_GET,
    ADVERTISER_FIELDS,
    ADVERTISER_INFO,
    REPORT,
    SPARK_LIST,
    VIDEO_FIELDS,
    VIDEO_LIST,
)
from sparkpick.sources.tiktok.records import (
    AUTH_STATUS,
    BadRecord,
    FetchResult,
    Gathered,
    item_posted_at,
    list_field,
    object_field,
    parse_api_time,
    parse_auth_status,
    parse_count,
    parse_epoch,
    parse_id,
    parse_snapshot,
    parse_text,
)
from sparkpick.sources.tiktok.reports import (
    DAILY,
    HOURLY,
    advertiser_timezone,
    hourly_days,
    local_to_utc,
    parse_report_rows,
    report_windows,
)

log = logging.getLogger(__name__)

# An enabled Spark ad that delivered this recently (days, in the account's time zone) is still running.
RUNNING_WITHIN_DAYS = 1
# advertiser/info/ takes at most this many ids per request.
ADVERTISER_INFO_BATCH = 100


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

    tables = contract_tables(got, cfg, advertisers, partnerships, as_of, period)
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
        listed = list_field(data, "list")
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
        info = object_field(item, "item_info")
        auth = object_field(item, "auth_info")
        user = object_field(item, "user_info")
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

    report = parse_report_rows(rows, DAILY, advertiser, got)
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
    for row in parse_report_rows(rows, HOURLY, advertiser, got).kept:
        item = item_of.get(row.ad_id)
        if not item:
            continue  # not a Spark Ad of this advertiser (the filter should have kept it out)
        hour_start = local_to_utc(row.local.floor("h"), tz)
        if not hour_ended_by(hour_start, as_of):
            continue  # the hour is still running: its figures are not final
        got.hourly_rows.append({"ad_id": row.ad_id, "post_id": item, "hour_start": hour_start, **row.numbers})
