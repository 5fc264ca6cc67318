"""The TikTok API for Business source against a real local HTTP server (tests/.../tiktok_server.py)."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sparkpick.config import Home, Settings, with_overrides
from sparkpick.contract import METRICS, SPECS, as_utc, validate_frames
from sparkpick.errors import InputError
from sparkpick.sources.tiktok import (
    REPORT,
    SPARK_LIST,
    VIDEO_LIST,
    FetchResult,
    TikTokApiError,
    TikTokClient,
    TikTokPermissionError,
    TikTokTokenError,
    TikTokUnavailableError,
    fetch_tables,
    item_posted_at,
    read_partnerships,
    report_windows,
)
from sparkpick.warehouse import Warehouse
from tests.sparkpick.sources.tiktok_server import (
    ADV,
    ADV_NAME,
    AS_OF,
    BRAND,
    CREATOR,
    TIKTOK_CONFIG,
    TOKEN,
    FakeTikTokServer,
    World,
    item_id_at,
    sample_world,
)


@pytest.fixture
def world() -> World:
    return sample_world(AS_OF)


@pytest.fixture
def server(world: World) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, TOKEN) as srv:
        yield srv


def configured(settings: Settings, **tiktok: object) -> Settings:
    return with_overrides(settings, {"tiktok": {**TIKTOK_CONFIG, **tiktok}})


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    return configured(settings)


@pytest.fixture
def client(server: FakeTikTokServer, cfg: Settings) -> Iterator[TikTokClient]:
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
        yield c


def _as_of() -> pd.Timestamp:
    return as_utc(pd.Timestamp(AS_OF))


# -- pagination ----------------------------------------------------------------------------------------
def test_cursor_pagination_reads_every_video_across_short_pages(
    client: TikTokClient, server: FakeTikTokServer, world: World
) -> None:
    got = list(client.iter_cursor(VIDEO_LIST, {"business_id": BRAND, "fields": ["item_id"]}, "videos"))
    expected = [v.get("item_id") for v in world.accounts[BRAND].videos]
    assert sorted(map(str, (v.get("item_id") for v in got))) == sorted(map(str, expected))
    calls = server.calls(VIDEO_LIST)
    assert all(int(c.params["max_count"]) <= 20 for c in calls)
    # Pages come short (10 of 20) with has_more true: 25 videos then take 3 requests, not 2.
    assert len(calls) >= 3
    assert "cursor" not in calls[0].params and all("cursor" in c.params for c in calls[1:])


def test_page_pagination_reads_every_page(client: TikTokClient, server: FakeTikTokServer, world: World) -> None:
    got = list(client.iter_pages(SPARK_LIST, {"advertiser_id": ADV}))
    assert len(got) == len(world.authorisations[ADV]) == 8
    assert [c.params["page"] for c in server.calls(SPARK_LIST)] == ["1", "2", "3"]


def test_page_limit_bounds_a_listing_and_says_so(server: FakeTikTokServer, settings: Settings) -> None:
    with TikTokClient(server.base_url, TOKEN, configured(settings, max_pages=2).tiktok) as c:
        got = list(c.iter_pages(SPARK_LIST, {"advertiser_id": ADV}))
        assert len(got) == 6
        assert any("cut short" in note for note in c.notes)


# -- retries and errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["throttle", "frequency", "http500", "http429", "malformed"])
def test_transient_failures_are_retried_then_succeed(
    client: TikTokClient, server: FakeTikTokServer, kind: str
) -> None:
    server.fail("business/get/", kind, times=2)
    data = client.get("business/get/", {"business_id": BRAND, "fields": ["username", "followers_count"]})
    assert data == {"username": "blendco", "followers_count": 182_400}
    assert len(server.calls("business/get/")) == 3


def test_backoff_is_exponential(client: TikTokClient, server: FakeTikTokServer, cfg: Settings) -> None:
    waits: list[float] = []
    client._sleep = waits.append
    server.fail("business/get/", "throttle", times=3)
    client.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    b = cfg.tiktok.backoff_s
    assert waits == pytest.approx([b, 2 * b, 4 * b])


def test_gives_up_after_max_retries(client: TikTokClient, server: FakeTikTokServer, cfg: Settings) -> None:
    server.fail("business/get/", "throttle", times=99)
    with pytest.raises(TikTokUnavailableError, match="after 4 attempts"):
        client.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    assert len(server.calls("business/get/")) == cfg.tiktok.max_retries + 1


def test_invalid_token_asks_to_refresh_it(server: FakeTikTokServer, cfg: Settings) -> None:
    with TikTokClient(server.base_url, "act.wrong-token", cfg.tiktok) as c, pytest.raises(TikTokTokenError) as err:
        c.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    message = str(err.value)
    assert "invalid" in message and "Refresh" in message and cfg.tiktok.token_env in message
    assert isinstance(err.value, InputError)  # the CLI exits with status 2: the user must act


def test_expired_token_is_not_retried(client: TikTokClient, server: FakeTikTokServer) -> None:
    server.fail(SPARK_LIST, "token_expired")
    with pytest.raises(TikTokTokenError, match="expired"):
        list(client.iter_pages(SPARK_LIST, {"advertiser_id": ADV}))
    assert len(server.calls(SPARK_LIST)) == 1


@pytest.mark.parametrize("kind", ["permission", "scope"])
def test_permission_errors_name_the_endpoint(client: TikTokClient, server: FakeTikTokServer, kind: str) -> None:
    server.fail(SPARK_LIST, kind)
    with pytest.raises(TikTokPermissionError, match="tt_video/list/"):
        client.get(SPARK_LIST, {"advertiser_id": ADV})


def test_other_codes_carry_code_message_and_request_id(client: TikTokClient, server: FakeTikTokServer) -> None:
    server.fail("ad/get/", "bad_param")
    with pytest.raises(TikTokApiError) as err:
        client.get("ad/get/", {"advertiser_id": ADV, "fields": ["ad_id"]})
    assert err.value.code == 40002 and err.value.request_id
    message = str(err.value)
    assert "40002" in message and "Invalid parameter" in message and err.value.request_id in message


def test_post_sends_a_json_body_with_the_token(client: TikTokClient, server: FakeTikTokServer) -> None:
    assert client.post("tt_video/authorize/", {"advertiser_id": ADV, "auth_code": "#abc"}) == {}
    seen = server.calls("tt_video/authorize/")[-1]
    assert seen.method == "POST" and seen.token_ok and seen.params["auth_code"] == "#abc"
    with pytest.raises(TikTokApiError, match="invalid authorisation code"):
        client.post("tt_video/authorize/", {"advertiser_id": ADV, "auth_code": "nope"})


def test_partial_success_keeps_the_data_and_warns(
    client: TikTokClient, server: FakeTikTokServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("business/get/", "partial")
    with caplog.at_level(logging.WARNING, logger="sparkpick.sources.tiktok"):
        data = client.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    assert data == {"username": "blendco"}
    assert "partial success" in caplog.text and client.notes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_token_never_leaks(
    server: FakeTikTokServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = configured(settings, max_retries=1)
    raised: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
            assert TOKEN not in repr(c) and TOKEN not in str(c)
            for kind in ("echo_token", "token_invalid", "scope", "throttle"):
                server.fail("business/get/", kind, times=5)
                with pytest.raises(TikTokApiError) as err:
                    c.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
                raised.append(err.value)
                server.clear_faults()
            server.fail(VIDEO_LIST, "token_invalid")
            with pytest.raises(TikTokTokenError) as err:
                fetch_tables(c, cfg, _as_of())
            raised.append(err.value)
        with TikTokClient(f"http://127.0.0.1:{_free_port()}/open_api/v1.3/", TOKEN, cfg.tiktok) as dead:
            with pytest.raises(TikTokUnavailableError) as err:
                dead.get("business/get/", {"business_id": BRAND})
            raised.append(err.value)
    assert len(raised) == 6
    assert "Access-Token" in str(raised[0])  # the API echoed the token: the client masked it
    for exc in raised:
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        assert TOKEN not in "".join(traceback.format_exception(exc))
    assert caplog.records and TOKEN not in caplog.text


# -- mapping to the contract ---------------------------------------------------------------------------
@pytest.fixture
def fetched(client: TikTokClient, cfg: Settings) -> FetchResult:
    return fetch_tables(client, cfg, _as_of())


def test_fetch_returns_valid_contract_tables(fetched: FetchResult) -> None:
    tables = fetched.tables
    assert set(tables) == set(SPECS)
    for name, frame in tables.items():
        assert list(frame.columns) == SPECS[name].column_names
    checked = validate_frames(tables, {n: f"tiktok:{n}" for n in tables})
    assert checked.problems == []
    for name, frame in tables.items():
        assert len(checked.tables[name]) == len(frame) > 0, name


def test_item_ids_stay_exact_strings(fetched: FetchResult, world: World) -> None:
    posts = fetched.tables["posts"]
    bare_int = world.accounts[BRAND].videos[1]["item_id"]
    assert isinstance(bare_int, int) and bare_int > 2**53  # beyond what a float holds exactly
    assert str(bare_int) in set(posts["post_id"])
    assert posts["post_id"].str.len().eq(19).all() and pd.api.types.is_string_dtype(posts["post_id"])
    metrics_ids = set(fetched.tables["metrics"]["post_id"])
    assert metrics_ids <= set(posts["post_id"])


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
    assert posts.loc[ids[0], "spark_auth_expires_at"] > _as_of()

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
    assert (metrics["observed_at"] == _as_of()).all()
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
        assert results.loc[item, "ended_at"] <= _as_of()
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


def test_a_float_item_id_is_rejected_not_rounded(server: FakeTikTokServer, world: World, cfg: Settings) -> None:
    world.accounts[CREATOR].videos[0]["item_id"] = float(world.accounts[CREATOR].videos[0]["item_id"])
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
        result = fetch_tables(c, cfg, _as_of())
    assert any("floating point" in str(p) for p in result.problems)
    assert not any(pid.endswith("00000") or "e+" in pid for pid in result.tables["posts"]["post_id"])


def test_a_refused_account_does_not_sink_the_others(
    client: TikTokClient, server: FakeTikTokServer, cfg: Settings
) -> None:
    server.fail("business/get/", "permission")
    result = fetch_tables(client, cfg, _as_of())
    assert any("business account" in str(p) and "40001" in str(p) for p in result.problems)
    assert len(result.tables["posts"]) > 0


def test_partnerships_override_grants_usage_rights(client: TikTokClient, cfg: Settings) -> None:
    override = pd.DataFrame([{"advertiser_id": ADV, "creator_id": CREATOR, "kind": "ongoing",
                              "started_at": pd.Timestamp("2026-01-15"), "usage_rights": True}])
    result = fetch_tables(client, cfg, _as_of(), partnerships=override)
    row = result.tables["partnerships"].set_index("creator_id").loc[CREATOR]
    assert row["usage_rights"] and row["kind"] == "ongoing" and row["started_at"] == pd.Timestamp("2026-01-15")


# -- the partnerships file (`--partnerships FILE`, `tiktok.partnerships_file`) ---------------------------
HEADER = "advertiser_id,creator_id,kind,started_at,usage_rights\n"
SAM = "6911111111111111111"  # a creator known only from the advertiser's Spark authorisations
ELSEWHERE = "7000000000000000002"  # an advertiser the config does not name


def _file(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def test_partnerships_file_is_read_as_csv_or_parquet(tmp_path: Path, cfg: Settings) -> None:
    csv = _file(tmp_path / "partnerships.csv", f"{ADV},{CREATOR},ongoing,2026-01-15,true",
                f"{ADV},{SAM},one_off,2026-03-01T09:00:00+02:00,FALSE")
    read = read_partnerships(csv, cfg.tiktok)
    assert read["creator_id"].tolist() == [CREATOR, SAM]
    assert read["usage_rights"].tolist() == [True, False]
    assert read["started_at"].tolist() == [pd.Timestamp("2026-01-15"), pd.Timestamp("2026-03-01T07:00")]
    parquet = tmp_path / "partnerships.parquet"
    pd.read_csv(csv, dtype=str).to_parquet(parquet)
    pd.testing.assert_frame_equal(read_partnerships(parquet, cfg.tiktok), read)


def test_a_bad_partnerships_file_names_file_row_and_column(tmp_path: Path, cfg: Settings) -> None:
    path = _file(
        tmp_path / "contracts.csv",
        f"{ADV},{CREATOR},forever,2026-01-15,true",
        f"{ADV},{BRAND},own,2026-01-15,sometimes",
        f"{ELSEWHERE},{CREATOR},ongoing,2026-01-15,true",
        f"{ADV},{SAM},ongoing,last spring,true",
    )
    with pytest.raises(InputError) as err:
        read_partnerships(path, cfg.tiktok)
    message = str(err.value)
    assert f"Partnerships file {path} has 4 problem(s)" in message
    for expected in (
        f"{path}, row 1, line 2 (advertiser_id {ADV}, creator_id {CREATOR}), column 'kind': 'forever' is not "
        "one of own, ongoing, one_off",
        f"{path}, row 2, line 3 (advertiser_id {ADV}, creator_id {BRAND}), column 'usage_rights': 'sometimes' "
        "is not a boolean",
        f"{path}, row 3, line 4 (advertiser_id {ELSEWHERE}, creator_id {CREATOR}), column 'advertiser_id': "
        f"unknown advertiser_id '{ELSEWHERE}'",
        f"{path}, row 4, line 5 (advertiser_id {ADV}, creator_id {SAM}), column 'started_at': unparseable time",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("absent.csv", None, "does not exist"),
        ("contracts.xlsx", HEADER, "must be a .csv or .parquet file"),
        ("contracts.parquet", "not parquet at all", "cannot be read"),
        ("contracts.csv", f"advertiser_id,creator_id,kind,started_at\n{ADV},{CREATOR},ongoing,2026-01-15\n",
         "column 'usage_rights': required column is missing"),
    ],
)
def test_an_unusable_partnerships_file_is_named(
    tmp_path: Path, cfg: Settings, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="Partnerships file") as err:
        read_partnerships(path, cfg.tiktok)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_refetching_adds_nothing_twice(server: FakeTikTokServer, cfg: Settings, tmp_path: Path) -> None:
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        for round_ in range(2):
            with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
                tables = fetch_tables(c, cfg, _as_of()).tables
            counts = wh.upsert(validate_frames(tables, {}).tables)
            if round_:
                assert all(c.new == 0 and c.changed == 0 for c in counts.values()), counts
        assert wh.count("posts") == len(tables["posts"])


def test_unmapped_accounts_are_a_config_error(server: FakeTikTokServer, settings: Settings) -> None:
    cfg = configured(settings, advertiser_ids=[ADV, "7000000000000000002"])
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c, pytest.raises(InputError, match="account_advertisers"):
        fetch_tables(c, cfg, _as_of())
    assert server.requests == []


# -- pure helpers --------------------------------------------------------------------------------------
def test_report_windows_cover_the_lookback_without_gaps() -> None:
    windows = report_windows(_as_of(), 95, 30)
    days = [pd.date_range(a, b) for a, b in windows]
    assert all(len(d) <= 30 for d in days)
    covered = days[0].append(days[1:])
    assert covered.is_unique and len(covered) == 95
    assert covered.max() == _as_of().normalize() and (covered == covered.sort_values()).all()


def test_item_ids_encode_their_posting_time() -> None:
    import random

    moment = datetime(2026, 10, 3, 14, 5, 9, tzinfo=UTC)
    item = item_id_at(moment, random.Random(3))
    assert len(item) == 19
    assert item_posted_at(item) == as_utc(pd.Timestamp(moment))
    assert item_posted_at("not-an-id") is None
    assert item_posted_at(item_id_at(moment + timedelta(seconds=1), random.Random(3))) > item_posted_at(item)


# -- hourly delivery of live boosts -----------------------------------------------------------------------
def _hourly_fetch(settings: Settings, timezone: str, **tiktok: object) -> tuple[FetchResult, FakeTikTokServer, World]:
    world = sample_world(AS_OF, timezone=timezone)
    cfg = configured(settings, **tiktok)
    with FakeTikTokServer(world, TOKEN) as srv, TikTokClient(srv.base_url, TOKEN, cfg.tiktok) as c:
        return fetch_tables(c, cfg, _as_of()), srv, world


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
    done = [(t, r) for t, r in zip(utc, served, strict=True) if t + pd.Timedelta(hours=1) <= _as_of()]
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
    run = run_monitor(home, configured(settings), _as_of())
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
        fetched = fetch_tables(c, cfg, _as_of())
    assert fetched.tables["spark_hourly"].empty
    assert any("every hourly row of ad" in str(p) and "'lots'" in str(p) for p in fetched.problems)


# -- advertisers by name -------------------------------------------------------------------------------
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
    result = fetch_tables(client, cfg, _as_of())
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


def test_the_token_is_redacted_from_every_field_the_api_echoes(
    server: FakeTikTokServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = configured(settings, max_retries=1)
    with caplog.at_level(logging.DEBUG), TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
        server.fail("business/get/", "echo_token_fields")
        with pytest.raises(TikTokApiError) as err:
            c.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
        server.fail("business/get/", "echo_token_partial")
        c.get("business/get/", {"business_id": BRAND})
        notes = list(c.notes)
    exc = err.value
    assert "<redacted>" in str(exc) and "rid-<redacted>" in str(exc)
    for text in (str(exc), repr(exc), str(exc.request_id), *notes, caplog.text,
                 "".join(traceback.format_exception(exc))):
        assert TOKEN not in text
    assert notes and "rid-<redacted>" in notes[0]

