"""Fetching (`sparkpick.sources.tiktok.fetch`) from a real local HTTP server (fake_server.py): the records of the
accounts and advertisers as valid contract tables, bad records skipped and reported."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sparkpick.config import Settings
from sparkpick.contract import METRICS, SPECS, as_utc, validate_frames
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources.tiktok import REPORT, FetchResult, TikTokClient, fetch_tables, item_posted_at, report_windows
from sparkpick.sources.tiktok.records import Gathered
from sparkpick.sources.tiktok.reports import DAILY, HOURLY, ReportGrain, parse_report_rows
from sparkpick.warehouse import Warehouse
from tests.sparkpick.sources.tiktok.fake_server import (
    ADV,
    ADV_NAME,
    AS_OF,
    AS_OF_UTC,
    BRAND,
    CREATOR,
    TOKEN,
    FakeTikTokServer,
    World,
    configured,
    sample_world,
)


# -- mapping to the contract -------------------------------------------------------------------------------------------
def test_fetch_returns_valid_contract_tables(fetched: FetchResult) -> None:
    tables = fetched.tables
    assert set(tables) == set(SPECS)
    for name, frame in tables.items():
        assert list(frame.columns) == SPECS[name].column_names
    checked = validate_frames(tables, {n: f"tiktok:{n}" for n in tables})
    assert checked.problems == []
    for name, frame in tables.items():
        assert len(checked.tables[name]) == len(frame) > 0, name


def test_posts_creators_and_authorisations(fetched: FetchResult, world: World) -> None:
    posts = fetched.tables["posts"].set_index("post_id")
    creators = fetched.tables["creators"].set_index("creator_id")
    brand_ok = [v for v in world.accounts[BRAND].videos if "item_id" in v]
    creator_videos = world.accounts[CREATOR].videos
    outsider = [a for a in world.authorisations[ADV] if a["user_info"].get("tiktok_name") == "sam.cooks"]
    assert len(posts) == len(brand_ok) + len(creator_videos) + len(outsider)
    assert (posts["advertiser_id"] == ADV).all()

    assert creators.loc[BRAND, "is_brand_account"] and creators.loc[BRAND, "follower_count"] == 182_400
    assert not creators.loc[CREATOR, "is_brand_account"] and creators.loc[CREATOR, "handle"] == "mia.makes"
    # The creator's authorisations name her by tiktok_name: folded into her account, not a second creator.
    assert "6900000000000000001" not in creators.index
    assert "6911111111111111111" in creators.index

    status = {str(v["item_id"]): posts.loc[str(v["item_id"]), "spark_auth_status"] for v in creator_videos[:5]}
    ids = [str(v["item_id"]) for v in creator_videos[:5]]
    assert [status[i] for i in ids] == ["authorized", "expired", "expired", "requested", "none"]
    assert posts.loc[ids[0], "spark_auth_expires_at"] > AS_OF_UTC

    for auth in outsider:
        item = auth["item_info"]["item_id"]
        assert posts.loc[item, "creator_id"] == "6911111111111111111"
        assert posts.loc[item, "posted_at"] == item_posted_at(item)
        assert posts.loc[item, "caption"] == auth["item_info"]["text"]
    partnerships = fetched.tables["partnerships"].set_index(["advertiser_id", "creator_id"])
    assert partnerships.loc[(ADV, BRAND), "kind"] == "own" and partnerships.loc[(ADV, BRAND), "usage_rights"]
    assert not partnerships.loc[(ADV, CREATOR), "usage_rights"]
    assert any("usage_rights" in note for note in fetched.notes)


def test_organic_snapshot_is_observed_at_as_of(fetched: FetchResult, world: World) -> None:
    metrics = fetched.tables["metrics"].set_index("post_id")
    assert (metrics["observed_at"] == AS_OF_UTC).all()
    video = world.accounts[CREATOR].videos[0]
    row = metrics.loc[str(video["item_id"])]
    assert row["views"] == video["video_views"] and row["likes"] == video["likes"]
    assert row["avg_watch_s"] == pytest.approx(video["average_time_watched"])
    assert row["full_watch_rate"] == pytest.approx(video["full_video_watched_rate"])
    assert row["reach"] == video["reach"]
    idle = [str(v["item_id"]) for v in world.accounts[BRAND].videos
            if "average_time_watched" not in v and "item_id" in v]
    assert idle, "the world should hold idle posts"
    if METRICS.column("avg_watch_s").nullable:
        assert metrics.loc[idle, "avg_watch_s"].isna().all()
    else:
        assert not set(idle) & set(metrics.index)
        note = next(n for n in fetched.notes if "idle post" in n)
        assert all(i in note for i in idle) and f"{len(idle)} idle post(s)" in note
        assert not any("idle" in str(p) for p in fetched.problems)  # expected behaviour, not a bad record


def _report_frame(world: World) -> pd.DataFrame:
    """The world's readable report rows; an ad with an unreadable row is left out whole."""
    rows, tainted = [], set()
    for row in world.report_rows[ADV]:
        try:
            spend = float(row["metrics"]["spend"])
        except ValueError:
            tainted.add(row["dimensions"]["ad_id"])
            continue
        rows.append({"ad_id": row["dimensions"]["ad_id"], "day": row["dimensions"]["stat_time_day"],
                     "spend": spend, "impressions": int(row["metrics"]["impressions"]),
                     "conversions": int(row["metrics"]["conversion"])})
    assert tainted, "the world should hold an unreadable report row"
    frame = pd.DataFrame(rows)
    return frame[~frame["ad_id"].isin(tainted)]


def test_spark_results_and_baselines_add_up_to_the_report(fetched: FetchResult, world: World) -> None:
    report = _report_frame(world)
    item_of = {a["ad_id"]: a["tiktok_item_id"] for a in world.ads[ADV]}
    report["item"] = report["ad_id"].map(item_of)
    # A boost whose ad still delivers is live: it has hourly rows but no result yet (never a label).
    running = {a["ad_id"] for a in world.ads[ADV] if a.get("operation_status") == "ENABLE"}
    assert running and report["ad_id"].isin(running).any()
    report = report[~report["ad_id"].isin(running)]
    results = fetched.tables["spark_results"].set_index("post_id")
    posts = set(fetched.tables["posts"]["post_id"])
    spark = report[report["item"].fillna("").ne("") & report["item"].isin(posts)]
    assert set(results.index) == set(spark["item"])
    for item, part in spark.groupby("item"):
        delivered = part[part["impressions"] > 0]
        assert results.loc[item, "impressions"] == part["impressions"].sum()
        assert results.loc[item, "spend"] == pytest.approx(part["spend"].sum())
        assert results.loc[item, "boosted_at"] == as_utc(delivered["day"].min())
        assert results.loc[item, "ended_at"] <= AS_OF_UTC
    plain = report[report["item"].eq("")]
    baselines = fetched.tables["baselines"]
    assert baselines["spend"].sum() == pytest.approx(plain["spend"].sum())
    assert baselines["conversions"].sum() == plain["conversions"].sum()
    assert (baselines["period_start"].dt.day == 1).all()  # calendar months by default
    assert (baselines["period_end"] > baselines["period_start"]).all()


def test_bad_records_are_skipped_and_reported(fetched: FetchResult, world: World) -> None:
    text = "\n".join(str(p) for p in fetched.problems)
    assert "video #5 of business account -000BrandAcct9xQ: item_id is missing" in text
    na_item = str(world.accounts[BRAND].videos[6]["item_id"])
    assert f"item {na_item}: metrics snapshot skipped: video_views 'n/a' is not a number" in text
    assert na_item in set(fetched.tables["posts"]["post_id"])  # the post itself is fine
    assert "'1,2.x' is not a number; every row of ad" in text
    assert "ad 1789999999999999999: not returned by ad/get" in text
    assert "authorisation #8 of advertiser" in text
    ghost = world.ads[ADV][3]["tiktok_item_id"]
    assert f"Spark Ad result of item {ghost}" in text


def test_a_refused_account_does_not_sink_the_others(
    client: TikTokClient, server: FakeTikTokServer, cfg: Settings
) -> None:
    server.fail("business/get/", "permission")
    result = fetch_tables(client, cfg, AS_OF_UTC)
    assert any("business account" in str(p) and "40001" in str(p) for p in result.problems)
    assert len(result.tables["posts"]) > 0


def test_refetching_adds_nothing_twice(server: FakeTikTokServer, cfg: Settings, tmp_path: Path) -> None:
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        for round_ in range(2):
            with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
                tables = fetch_tables(c, cfg, AS_OF_UTC).tables
            counts = wh.upsert(validate_frames(tables, {}).tables)
            if round_:
                assert all(c.new == 0 and c.changed == 0 for c in counts.values()), counts
        assert wh.count("posts") == len(tables["posts"])


def test_unmapped_accounts_are_a_config_error(server: FakeTikTokServer, settings: Settings) -> None:
    cfg = configured(settings, advertiser_ids=[ADV, "7000000000000000002"])
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c, pytest.raises(InputError, match="account_advertisers"):
        fetch_tables(c, cfg, AS_OF_UTC)
    assert server.requests == []


def test_report_windows_cover_the_lookback_without_gaps() -> None:
    windows = report_windows(AS_OF_UTC, 95, 30)
    days = [pd.date_range(a, b) for a, b in windows]
    assert all(len(d) <= 30 for d in days)
    covered = days[0].append(days[1:])
    assert covered.is_unique and len(covered) == 95
    assert covered.max() == AS_OF_UTC.normalize() and (covered == covered.sort_values()).all()


# -- hourly delivery of live boosts ------------------------------------------------------------------------------------
def _hourly_fetch(settings: Settings, timezone: str, **tiktok: object) -> tuple[FetchResult, FakeTikTokServer, World]:
    world = sample_world(AS_OF, timezone=timezone)
    cfg = configured(settings, **tiktok)
    with FakeTikTokServer(world, TOKEN) as srv, TikTokClient(srv.base_url, TOKEN, cfg.tiktok) as c:
        return fetch_tables(c, cfg, AS_OF_UTC), srv, world


@pytest.mark.parametrize("timezone", ["UTC", "America/Los_Angeles", "Asia/Shanghai"])
def test_hourly_rows_of_the_live_boost_in_utc(settings: Settings, timezone: str) -> None:
    fetched, srv, world = _hourly_fetch(settings, timezone, hourly_lookback_days=3)
    hourly = fetched.tables["spark_hourly"]
    live_ad = next(a for a in world.ads[ADV] if a.get("operation_status") == "ENABLE")
    item = live_ad["tiktok_item_id"]
    assert set(hourly["post_id"]) == {item}
    assert item not in set(fetched.tables["spark_results"]["post_id"])  # live: no result yet
    # Every served hour but the unfinished current one, moved from the account's clock to UTC.
    tz = ZoneInfo(timezone)
    served = [r for r in world.hourly_rows[ADV] if r["dimensions"]["ad_id"] == live_ad["ad_id"]]
    utc = [as_utc(pd.Timestamp(r["dimensions"]["stat_time_hour"]).tz_localize(tz)) for r in served]
    done = [(t, r) for t, r in zip(utc, served, strict=True) if t + pd.Timedelta(hours=1) <= AS_OF_UTC]
    assert len(done) == len(served) - 1
    assert sorted(hourly["hour_start"]) == sorted(t for t, _ in done)
    assert hourly["spend"].sum() == pytest.approx(sum(float(r["metrics"]["spend"]) for _, r in done))
    # Conversions counted when they happened, not credited back to the impression's hour.
    assert hourly["conversions"].sum() == sum(int(r["metrics"]["real_time_conversion"]) for _, r in done)
    assert hourly["conversions"].sum() != sum(int(r["metrics"]["conversion"]) for _, r in done)
    # The boost is named as its result row will be: the local midnight of its first day, in UTC.
    first_local = pd.Timestamp(served[0]["dimensions"]["stat_time_hour"]).normalize()
    assert set(hourly["boosted_at"]) == {as_utc(first_local.tz_localize(tz))}
    assert (hourly["hour_start"] >= hourly["boosted_at"]).all()
    # One request per local day with deliveries, filtered to the Spark ads, never more than a day long.
    hourly_calls = [c for c in srv.calls(REPORT) if "stat_time_hour" in c.params.get("dimensions", "")]
    days = {c.params["start_date"] for c in hourly_calls}
    assert all(c.params["start_date"] == c.params["end_date"] for c in hourly_calls)
    assert len(days) == len({r["dimensions"]["stat_time_hour"][:10] for r in served})
    assert all(live_ad["ad_id"] in c.params["filtering"] for c in hourly_calls)
    checked = validate_frames(fetched.tables, {n: f"tiktok:{n}" for n in fetched.tables})
    assert checked.problems == []


def test_hourly_rows_go_through_ingest_and_the_monitor_sees_the_boost(
    settings: Settings, home: Home, tmp_path: Path
) -> None:
    from flows.ingest import ingest_tables
    from flows.monitor import run_monitor

    fetched, _, world = _hourly_fetch(settings, "Asia/Shanghai", hourly_lookback_days=2)
    ingest_tables(home, configured(settings), fetched.tables, "tiktok", skip_invalid=True)
    run = run_monitor(home, configured(settings), AS_OF_UTC)
    live_item = next(a["tiktok_item_id"] for a in world.ads[ADV] if a.get("operation_status") == "ENABLE")
    assert run.boosts["post_id"].tolist() == [live_item]
    assert run.boosts["hours_live"].iloc[0] > 24


def test_no_hourly_rows_when_switched_off(settings: Settings) -> None:
    fetched, srv, _ = _hourly_fetch(settings, "UTC", hourly_lookback_days=0)
    assert fetched.tables["spark_hourly"].empty
    assert not [c for c in srv.calls(REPORT) if "stat_time_hour" in c.params.get("dimensions", "")]


def test_a_bad_hourly_row_leaves_that_ads_hours_out(settings: Settings) -> None:
    world = sample_world(AS_OF)
    rows = world.hourly_rows[ADV]
    rows[3]["metrics"]["impressions"] = "lots"
    cfg = configured(settings, hourly_lookback_days=3)
    with FakeTikTokServer(world, TOKEN) as srv, TikTokClient(srv.base_url, TOKEN, cfg.tiktok) as c:
        fetched = fetch_tables(c, cfg, AS_OF_UTC)
    assert fetched.tables["spark_hourly"].empty
    assert any("every hourly row of ad" in str(p) and "'lots'" in str(p) for p in fetched.problems)


@pytest.mark.parametrize(("grain", "label", "left_out"), [
    (DAILY, "ad 11 on 2026-10-02", "every row of ad 11 is left out (its totals would be wrong)"),
    (HOURLY, "hourly row of ad 11", "every hourly row of ad 11 is left out (its hours would be wrong)"),
], ids=["daily", "hourly"])
def test_one_unreadable_report_row_leaves_its_ad_out_whole(grain: ReportGrain, label: str, left_out: str) -> None:
    def row(ad_id: str | None, when: str, **bad: str) -> dict[str, object]:
        numbers = {"spend": "2.50", "impressions": "1,200", "video_watched_2s": "40", "video_watched_6s": "20",
                   "likes": "3", "comments": "1", "shares": "0", "clicks": "9", "conversion": "7",
                   "real_time_conversion": "2"}
        return {"dimensions": {"ad_id": ad_id, grain.time_dimension: when}, "metrics": {**numbers, **bad}}

    rows = [row("11", "2026-10-01 00:00:00"), row("22", "2026-10-01 00:00:00"),
            row("11", "2026-10-02 00:00:00", impressions="lots"), row("11", "2026-10-03 00:00:00", clicks="1.5"),
            row(None, "2026-10-01 00:00:00"), row("22", "2026-10-02 01:00:00"), row("33", "")]
    got = Gathered()
    report = parse_report_rows(rows, grain, ADV, got)
    assert [r.ad_id for r in report.readable] == ["11", "22", "22"]
    assert report.tainted == {"11", "33"}
    # Ad 11's readable first row goes too: its sums would be wrong, not missing.
    assert [(r.ad_id, r.local) for r in report.kept] == [
        ("22", pd.Timestamp("2026-10-01")), ("22", pd.Timestamp("2026-10-02 01:00"))]
    numbers = report.kept[0].numbers
    assert set(numbers) == set(grain.metrics.values())
    assert numbers["spend"] == 2.5 and numbers["impressions"] == 1200 and isinstance(numbers["impressions"], int)
    # Hourly rows count conversions when they happened (real_time_conversion), daily ones by impression.
    assert numbers["conversions"] == (2 if grain is HOURLY else 7)
    problems = [str(p) for p in got.problems]
    assert len(problems) == 3  # ad 11 once, however many of its rows are bad
    assert problems[0] == f"{REPORT} {label}: impressions 'lots' is not a number; {left_out}"
    assert problems[1] == f"{REPORT} {grain.row} of advertiser {ADV}: dimensions.ad_id is missing"
    assert f"dimensions.{grain.time_dimension} is missing; every {grain.row} of ad 33" in problems[2]


# -- advertisers by name -----------------------------------------------------------------------------------------------
def test_advertisers_are_named_from_advertiser_info(fetched: FetchResult, server: FakeTikTokServer) -> None:
    advertisers = fetched.tables["advertisers"]
    assert advertisers.to_dict("records") == [
        {"advertiser_id": ADV, "name": ADV_NAME, "currency": "USD", "timezone": "UTC"}]
    asked = server.calls("advertiser/info/")
    assert len(asked) == 1 and asked[0].token_ok
    assert json.loads(asked[0].params["advertiser_ids"]) == [ADV]
    assert set(json.loads(asked[0].params["fields"])) == {"advertiser_id", "name", "currency", "timezone"}
    checked = validate_frames({"advertisers": advertisers}, {"advertisers": "tiktok:advertisers"})
    assert checked.problems == [] and checked.tables["advertisers"]["name"].tolist() == [ADV_NAME]


def test_a_refused_advertiser_info_leaves_advertisers_unnamed_not_the_night(
    client: TikTokClient, server: FakeTikTokServer, cfg: Settings
) -> None:
    server.fail("advertiser/info/", "permission")
    result = fetch_tables(client, cfg, AS_OF_UTC)
    assert result.tables["advertisers"].empty
    assert any(p.endpoint == "advertiser/info/" for p in result.problems)
    assert any("shown by id" in note for note in result.notes)
    assert len(result.tables["posts"]) > 0  # the rest of the fetch went on


def test_advertiser_info_asks_at_most_a_hundred_ids_at_once(client: TikTokClient, server: FakeTikTokServer) -> None:
    from sparkpick.sources.tiktok.fetch import _fetch_advertisers
    from sparkpick.sources.tiktok.records import Gathered

    ids = sorted({ADV, *(str(7_100_000_000_000_000_000 + i) for i in range(150))})
    got = Gathered()
    rows = _fetch_advertisers(client, ids, got)
    asked = [json.loads(c.params["advertiser_ids"]) for c in server.calls("advertiser/info/")]
    assert [len(a) for a in asked] == [100, 51] and sorted(i for a in asked for i in a) == ids
    assert [r["advertiser_id"] for r in rows] == [ADV]
    assert any("7100000000000000000" in note and "shown by id" in note for note in got.notes)
