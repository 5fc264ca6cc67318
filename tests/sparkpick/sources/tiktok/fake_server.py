"""A small fake of the TikTok API for Business (v1.3) for tests: real HTTP on 127.0.0.1, standard library.

It serves a generated world (`sample_world`) with the API's habits: the `{code, message, request_id, data}`
envelope with errors under HTTP 200, `Access-Token` checking (40105), cursor paging with short pages while
`has_more` stays true, page paging with `page_info`, report rows whose metric values are strings, a 30-day
cap on report windows and a 20-item cap on `max_count` (40002), and injected faults: throttling
(40100/40132), HTTP 429/5xx, a truncated JSON body, token and permission codes, partial success. Hourly
report rows (`stat_time_hour`, in the advertiser's time zone from `advertiser/info/`) are served one day
per request, filtered by `ad_ids`, as the real API limits hourly ranges.
`configured` points sparkpick's `tiktok:` settings at the sample world (`AS_OF_UTC` is its fetch time).

The write side (`ad/create/`, `ad/status/update/`, `adgroup/create/`, `adgroup/update/`,
`tt_video/authorize/`, with `adgroup/get/` and `tt_video/info/` to read them back) changes the world as the
real API would. Faults named `after_commit:KIND` make the change first and then answer badly: KIND
`timeout` (the answer comes after `hang_s` seconds, past the client's timeout), `http500`, or a code
(`40050`). `readonly_token` is a second token that may read but not write (40001 on every write).
`ad_account` gives the sample world ad groups, a campaign and codes of its own per post.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from sparkpick.config import Settings, with_overrides
from sparkpick.contract import as_utc

PREFIX = "/open_api/v1.3/"
# What `sample_world` holds and how tests reach it.
TOKEN = "act.7f3c9e2b1d4a4c8e9b0f5a6d7c8e9f01SECRETTOKEN"
AS_OF = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
AS_OF_UTC = as_utc(pd.Timestamp(AS_OF))  # AS_OF as sparkpick holds moments (naive UTC): the fetch's as_of
ADV = "7028479839571156993"
BRAND, CREATOR = "-000BrandAcct9xQ", "-000CreatorMia7Lp"
# The `tiktok:` config section for reading `sample_world` quickly: its accounts, tiny back-off, small pages.
TIKTOK_CONFIG = {
    "business_ids": [BRAND, CREATOR], "advertiser_ids": [ADV], "brand_business_ids": [BRAND],
    "backoff_s": 0.001, "max_backoff_s": 0.005, "max_retries": 3, "timeout_s": 5.0,
    "page_size": 3, "report_page_size": 25, "report_lookback_days": 90,
}

VIDEO_MAX_COUNT = 20
ADVERTISER_INFO_MAX_IDS = 100
# The sample advertiser's name: hostile text, as any name from outside is.
ADV_NAME = 'Glow & Co <script>alert("x")</script> [bold]=HYPERLINK("http://evil")'

PAGE_SIZE_MAX = 1000
REPORT_MAX_DAYS = 30
IDLE_DAYS = 7

FAULTS = {
    "throttle": (200, {"code": 40100, "message": "Requests made too frequently. Please try again later."}),
    "frequency": (200, {"code": 40132, "message": "Frequency limited, please retry later."}),
    "token_expired": (200, {"code": 40102, "message": "Access token has expired."}),
    "token_invalid": (200, {"code": 40105, "message": "Access token is incorrect or has been revoked."}),
    "permission": (200, {"code": 40001, "message": "No permission to operate advertiser."}),
    "scope": (200, {"code": 40130, "message": "The scope of this API is not authorized."}),
    "bad_param": (200, {"code": 40002, "message": "Invalid parameter."}),
    "duplicate": (200, {"code": 40050, "message": "Duplicated request."}),
    "conflict": (200, {"code": 40202, "message": "Write conflict, please retry."}),
}


def configured(settings: Settings, **tiktok: object) -> Settings:
    """`settings` reading `sample_world` (TIKTOK_CONFIG), with `tiktok` overriding single keys."""
    return with_overrides(settings, {"tiktok": {**TIKTOK_CONFIG, **tiktok}})


def acting(settings: Settings, **actions: object) -> Settings:
    """`configured` settings that may act on the sample advertiser (campaign CAMPAIGN, new ad group per
    pick, cap 200, auto), with `actions` overriding single keys of the `actions:` section."""
    account = {"campaign_id": CAMPAIGN, "adgroup_id": "", "daily_budget_cap": 200.0,
               "modes": {"pause": "auto", "scale": "auto"}, "identity_authorized_bc_id": ""}
    return with_overrides(configured(settings, timeout_s=0.5), {
        "actions": {"advertisers": {ADV: account}, "min_spend_before_pause": 5.0, **actions}})


def acting_home(server: FakeTikTokServer, home: Any, settings: Settings, folder: Any) -> Any:
    """A config overlay (written in `folder`; its path returned) acting on the fake's advertiser through the
    real HTTP server, and `home`'s warehouse holding the sample world's posts (fetched from the fake)."""
    import yaml

    from sparkpick.sources.tiktok import TikTokClient, fetch_tables
    from sparkpick.warehouse import Warehouse

    cfg = configured(settings)
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as client:
        fetched = fetch_tables(client, cfg, AS_OF_UTC)
    with Warehouse(home.warehouse) as wh:
        wh.upsert({k: v for k, v in fetched.tables.items() if k in ("advertisers", "creators", "posts")})
    server.requests.clear()
    path = folder / "acting.yaml"
    path.write_text(yaml.safe_dump({
        "tiktok": {**TIKTOK_CONFIG, "base_url": server.base_url, "timeout_s": 30.0},
        "actions": {"advertisers": {ADV: {"campaign_id": CAMPAIGN, "adgroup_id": "", "daily_budget_cap": 200.0,
                                          "modes": None, "identity_authorized_bc_id": ""}}},
    }), encoding="utf-8")
    return path


@dataclass
class Account:
    """One business (TikTok) account: its profile and its organic videos as the API returns them."""

    business_id: str
    profile: dict[str, Any]
    videos: list[dict[str, Any]]


@dataclass
class World:
    """Everything the fake API knows."""

    accounts: dict[str, Account] = field(default_factory=dict)
    authorisations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    report_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # advertiser -> hourly rows ({"dimensions": {ad_id, stat_time_hour (local)}, "metrics": {...}}).
    hourly_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # advertiser -> IANA time zone of its ad account (report days and hours are local to it).
    timezones: dict[str, str] = field(default_factory=dict)
    # advertiser_id -> its `advertiser/info/` record (the time zone comes from `timezones`).
    advertisers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # advertiser_id -> its ad groups ({adgroup_id, adgroup_name, campaign_id, budget, operation_status}).
    adgroups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # auth codes bound to an advertiser by tt_video/authorize/.
    authorised_codes: set[tuple[str, str]] = field(default_factory=set)
    next_id: int = 1_795_000_000_000_000_000


@dataclass(frozen=True)
class Seen:
    """One request the server received (the token is recorded only as right or wrong)."""

    method: str
    endpoint: str
    params: dict[str, str]
    token_ok: bool
    body: Any = None  # a POST's JSON body as sent


def item_id_at(moment: datetime, rng: random.Random) -> str:
    """A TikTok-style item id: creation time (epoch seconds) in the upper 32 bits; 19 digits today."""
    return str((int(moment.timestamp()) << 32) | rng.getrandbits(32))


def sample_world(as_of: datetime, seed: int = 1, timezone: str = "UTC") -> World:
    """A small, credible world: one advertiser, its brand account, a creator account, creators' Spark
    authorisations in every state, Spark and non-Spark ads with daily rows over about 80 days, a few
    broken records (missing item id, unparseable count, bad report number, an ad unknown to ad/get), and a
    live Spark ad (still enabled, delivering hour by hour up to as_of) in an ad account in `timezone`."""
    rng = random.Random(seed)
    adv, brand, creator = ADV, BRAND, CREATOR
    world = World()

    def videos(n: int, reach_scale: float) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            posted = as_of - timedelta(days=2 + i * 3, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
            views = int(rng.lognormvariate(8, 1.2) * reach_scale)
            video: dict[str, Any] = {
                "item_id": item_id_at(posted, rng),
                "create_time": int(posted.timestamp()),
                "caption": f"day {i} with the new blender #ad" if i % 3 else f"unboxing {i} \U0001f525",
                "video_duration": round(rng.uniform(6, 45), 1),
                "share_url": f"https://www.tiktok.com/@x/video/{i}",
                "video_views": views,
                "likes": int(views * rng.uniform(0.02, 0.12)),
                "comments": int(views * rng.uniform(0.001, 0.01)),
                "shares": int(views * rng.uniform(0.001, 0.02)),
                "favorites": int(views * rng.uniform(0.001, 0.02)),
                "reach": int(views * rng.uniform(0.6, 0.9)),
                "average_time_watched": round(rng.uniform(2, 14), 2),
                "total_time_watched": views * 5,
                "full_video_watched_rate": round(rng.uniform(0.05, 0.6), 4),
            }
            # Idle for more than 7 days: reach and watch fields disappear (documented API quirk).
            if (as_of - posted).days > 40 and i % 2:
                for name in ("reach", "average_time_watched", "total_time_watched", "full_video_watched_rate"):
                    video.pop(name)
            out.append(video)
        return out

    brand_videos = videos(25, 3.0)
    creator_videos = videos(12, 1.0)
    # One id as a bare JSON integer: 19 digits must survive exactly (no float on the way).
    brand_videos[1]["item_id"] = int(brand_videos[1]["item_id"])
    brand_videos[4].pop("item_id")  # broken record: no item id
    brand_videos[6]["video_views"] = "n/a"  # broken record: unparseable count
    world.accounts[brand] = Account(
        brand, {"username": "blendco", "display_name": "BlendCo", "followers_count": 182_400}, brand_videos
    )
    world.accounts[creator] = Account(
        creator, {"username": "mia.makes", "display_name": "Mia", "followers_count": 41_250}, creator_videos
    )

    def auth(item_id: str, status: str, end: datetime, identity: str, name: str, text: str = "") -> dict:
        return {
            "item_info": {"item_id": item_id, "auth_code": "#" + "x" * 20, "text": text, "status": "ok"},
            "auth_info": {
                "ad_auth_status": status,
                "auth_start_time": (end - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S"),
                "auth_end_time": end.strftime("%Y-%m-%d %H:%M:%S"),
                "invite_start_time": "",
            },
            "user_info": {"identity_id": identity, "identity_type": "AUTH_CODE", "tiktok_name": name},
            "video_info": {"duration": 15.0, "width": 1080, "height": 1920, "preview_url": "https://p/x"},
        }

    later, earlier = as_of + timedelta(days=20), as_of - timedelta(days=3)
    outsider_posts = [as_of - timedelta(days=d) for d in (5, 9, 50)]
    outsider_ids = [item_id_at(t, rng) for t in outsider_posts]
    world.authorisations[adv] = [
        auth(str(creator_videos[0]["item_id"]), "AUTHORIZED", later, "6900000000000000001", "mia.makes"),
        auth(str(creator_videos[1]["item_id"]), "AUTHORIZED", earlier, "6900000000000000001", "mia.makes"),
        auth(str(creator_videos[2]["item_id"]), "EXPIRED", earlier, "6900000000000000001", "mia.makes"),
        auth(str(creator_videos[3]["item_id"]), "INVITING", later, "6900000000000000001", "mia.makes"),
        # A creator who is not one of the configured business accounts.
        auth(outsider_ids[0], "AUTHORIZED", later, "6911111111111111111", "sam.cooks", "sam's smoothie hack"),
        auth(outsider_ids[1], "AUTHORIZED", later, "6911111111111111111", "sam.cooks", "5am routine"),
        auth(outsider_ids[2], "EXPIRED", earlier, "6911111111111111111", "sam.cooks", "old but gold"),
        {"item_info": {"auth_code": "#broken"}, "auth_info": {"ad_auth_status": "AUTHORIZED"}, "user_info": {}},
    ]

    spark_items = [str(creator_videos[0]["item_id"]), outsider_ids[1], str(brand_videos[2]["item_id"])]
    ghost_item = item_id_at(as_of - timedelta(days=200), rng)  # boosted post nobody returns
    ads = []
    ad_number = 1_780_000_000_000_000
    for item in [*spark_items, ghost_item]:
        ad_number += 17
        ads.append({"ad_id": str(ad_number), "advertiser_id": adv, "tiktok_item_id": item,
                    "identity_type": "AUTH_CODE", "identity_id": "6900000000000000001",
                    "create_time": "2026-01-01 00:00:00"})
    for _ in range(3):
        ad_number += 17
        ads.append({"ad_id": str(ad_number), "advertiser_id": adv, "tiktok_item_id": "",
                    "identity_type": "CUSTOMIZED_USER", "identity_id": "", "create_time": "2026-01-01 00:00:00"})
    world.ads[adv] = ads

    # A Spark ad delivers from the day after its post was published, never before.
    published = {str(v["item_id"]): datetime.fromtimestamp(v["create_time"], as_of.tzinfo)
                 for v in [*brand_videos, *creator_videos] if "item_id" in v}
    published.update(zip(outsider_ids, outsider_posts, strict=True))
    rows: list[dict[str, Any]] = []
    for n, ad in enumerate([*ads, {"ad_id": "1789999999999999999"}]):  # the last is unknown to ad/get
        first = as_of - timedelta(days=80 - 9 * n)
        posted = published.get(str(ad.get("tiktok_item_id", "")))
        if posted is not None:
            first = max(first, posted + timedelta(days=1))
        for d in range(rng.randint(12, 40)):
            day = (first + timedelta(days=d)).replace(hour=0, minute=0, second=0, microsecond=0)
            if day.date() > (as_of - timedelta(days=4)).date():  # over before the live boost's hours
                break
            imp = rng.randint(0, 20_000) if d else 0  # the first day delivers nothing
            metrics = {
                "spend": f"{imp * rng.uniform(0.004, 0.012):.2f}",
                "impressions": str(imp),
                "clicks": str(int(imp * 0.01)),
                "video_watched_2s": str(int(imp * rng.uniform(0.2, 0.45))),
                "video_watched_6s": str(int(imp * rng.uniform(0.08, 0.2))),
                "likes": str(int(imp * 0.03)),
                "comments": str(int(imp * 0.002)),
                "shares": str(int(imp * 0.003)),
                "conversion": str(int(imp * rng.uniform(0.0005, 0.003))),
            }
            rows.append({"dimensions": {"ad_id": ad["ad_id"], "stat_time_day": day.strftime("%Y-%m-%d %H:%M:%S")},
                         "metrics": metrics})
    rows[5]["metrics"]["spend"] = "1,2.x"  # broken record: unparseable number
    world.report_rows[adv] = rows
    for ad in ads:
        ad["operation_status"] = "DISABLE"  # the past boosts are over
    world.timezones[adv] = timezone
    add_live_boost(world, as_of, str(brand_videos[0]["item_id"]), ad_id="1781111111111111111", seed=seed)
    world.advertisers[adv] = {
        "advertiser_id": adv, "name": ADV_NAME, "currency": "USD", "status": "STATUS_ENABLE",
        "company": "Glow & Co Ltd",
    }
    return world


def add_live_boost(world: World, as_of: datetime, item_id: str, ad_id: str, seed: int, hours: int = 30) -> None:
    """An enabled Spark ad of `item_id` that started `hours` ago (local clock of the ad account) and has
    delivered every hour since, the current (unfinished) hour included, with matching daily rows."""
    from zoneinfo import ZoneInfo

    rng = random.Random(seed + 7919)  # its own generator: the rest of the world stays as it was
    adv = ADV
    tz = ZoneInfo(world.timezones.get(adv, "UTC"))
    world.ads[adv].append({"ad_id": ad_id, "advertiser_id": adv, "tiktok_item_id": item_id,
                           "identity_type": "BC_AUTH_TT", "identity_id": "", "create_time": "2026-01-01 00:00:00",
                           "operation_status": "ENABLE"})
    local_now = as_of.astimezone(tz).replace(tzinfo=None)
    start = (local_now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    daily: dict[str, dict[str, float]] = {}
    hourly = world.hourly_rows.setdefault(adv, [])
    hour = start
    while hour <= local_now:
        imp = rng.randint(300, 3000)
        metrics = {
            "spend": round(imp * rng.uniform(0.004, 0.012), 2), "impressions": imp, "clicks": int(imp * 0.01),
            "video_watched_2s": int(imp * 0.35), "video_watched_6s": int(imp * 0.15), "likes": int(imp * 0.03),
            "comments": int(imp * 0.002), "shares": int(imp * 0.003), "conversion": int(rng.random() < 0.3),
        }
        # The same conversions counted when they happened: two hours after the impression's hour.
        lagged = [int(r["metrics"]["conversion"]) for r in hourly if r["dimensions"]["ad_id"] == ad_id]
        served = {**metrics, "real_time_conversion": lagged[-2] if len(lagged) >= 2 else 0}
        hourly.append({"dimensions": {"ad_id": ad_id, "stat_time_hour": hour.strftime("%Y-%m-%d %H:%M:%S")},
                       "metrics": {k: (f"{v:.2f}" if k == "spend" else str(v)) for k, v in served.items()}})
        day = hour.strftime("%Y-%m-%d 00:00:00")
        for k, v in metrics.items():
            daily.setdefault(day, {}).setdefault(k, 0)
            daily[day][k] += v
        hour += timedelta(hours=1)
    for day, metrics in daily.items():
        world.report_rows[adv].append({"dimensions": {"ad_id": ad_id, "stat_time_day": day},
                                       "metrics": {k: (f"{v:.2f}" if k == "spend" else str(int(v)))
                                                   for k, v in metrics.items()}})


CAMPAIGN = "1790000000000000001"
SPARK_ADGROUP = "1791000000000000001"
READONLY_TOKEN = "act.readonly0000000000000000000000000000READONLY"
WRITES = ("ad/create/", "ad/status/update/", "adgroup/create/", "adgroup/update/", "tt_video/authorize/")


def ad_account(world: World) -> World:
    """`world` with an ad account to act on: a campaign, the live boost's ad group (daily budget 50), a
    distinct code per authorised post (`#code-<item id>`), ad names on the existing ads."""
    adv = ADV
    world.adgroups[adv] = [{"adgroup_id": SPARK_ADGROUP, "adgroup_name": "always-on spark", "campaign_id": CAMPAIGN,
                            "budget": 50.0, "operation_status": "ENABLE"}]
    for ad in world.ads[adv]:
        ad.setdefault("adgroup_id", SPARK_ADGROUP)
        ad.setdefault("ad_name", f"hand-made {ad['ad_id']}")
    for item in world.authorisations[adv]:
        info = item.get("item_info") or {}
        if info.get("item_id"):
            info["auth_code"] = f"#code-{info['item_id']}"
    return world


class FakeTikTokServer:
    """Serve a `World` on 127.0.0.1 (free port) in a thread; use as a context manager."""

    def __init__(self, world: World, token: str, short_pages: bool = True) -> None:
        self.world = world
        self.token = token
        self.hang_s = 1.0  # how long an `after_commit:timeout` answer is held back
        self.short_pages = short_pages
        self.requests: list[Seen] = []
        self._faults: list[list[Any]] = []  # [endpoint, kind, remaining]
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    def __enter__(self) -> FakeTikTokServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def fail(self, endpoint: str, kind: str, times: int = 1) -> None:
        """The next `times` requests to `endpoint` answer with fault `kind` (see FAULTS, plus http500,
        http429, malformed, partial, echo_token, echo_token_fields, echo_token_partial)."""
        with self._lock:
            self._faults.append([endpoint, kind, times])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls(self, endpoint: str) -> list[Seen]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def _take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault[0] == endpoint and fault[2] > 0:
                    fault[2] -= 1
                    return fault[1]
        return None

    # -- request handling ------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _envelope(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
                rid = f"2026{len(server.requests):016d}"
                body = {"code": code, "message": message, "request_id": rid, "data": data or {}}
                self._send(200, json.dumps(body).encode())

            def _write(self, endpoint: str, body: dict[str, Any], fault: str | None) -> None:
                try:
                    with server._lock:
                        data = server._writes(endpoint, body)
                except ValueError as exc:
                    self._envelope(40002, str(exc))
                    return
                after = (fault or "").removeprefix("after_commit:")
                if after == "timeout":
                    time.sleep(server.hang_s)
                elif after == "http500":
                    self._send(500, b"<html>Internal Server Error</html>")
                    return
                elif after.isdigit():
                    self._envelope(int(after), "Duplicated request." if after == "40050" else "Write conflict.")
                    return
                elif fault == "partial":
                    self._envelope(20001, "Partial success: some items failed.", data)
                    return
                with contextlib.suppress(OSError):  # the client may have given up waiting
                    self._envelope(0, "OK", data)

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                if not url.path.startswith(PREFIX):
                    self._send(404, b"not found")
                    return
                endpoint = url.path.removeprefix(PREFIX)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                raw: Any = None
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = json.loads(self.rfile.read(length) or b"{}")
                    params.update({k: str(v) for k, v in raw.items()})
                given = self.headers.get("Access-Token")
                readonly = given == READONLY_TOKEN
                token_ok = given == server.token or readonly
                with server._lock:
                    server.requests.append(Seen(method, endpoint, params, token_ok, raw))
                fault = server._take_fault(endpoint)
                if endpoint in WRITES and token_ok:
                    if readonly:
                        self._envelope(40001, "No permission to operate advertiser.")
                        return
                    if fault is None or fault.startswith("after_commit:") or fault == "partial":
                        self._write(endpoint, raw or {}, fault)
                        return
                if fault in FAULTS:
                    body = FAULTS[fault][1]
                    self._envelope(body["code"], body["message"])
                    return
                if fault == "http500":
                    self._send(500, b"<html>Internal Server Error</html>")
                    return
                if fault == "http429":
                    self._send(429, b'{"message": "slow down"}', {"Retry-After": "0"})
                    return
                if fault == "malformed":
                    self._send(200, b'{"code": 0, "message": "OK", "data": {"videos": [{"item_id": "73')
                    return
                if fault in ("echo_token_fields", "echo_token_partial"):
                    # The token echoed in every field the envelope has: message, request_id, echoed parameters.
                    tok = self.headers.get("Access-Token") or ""
                    body = {"code": 40002 if fault == "echo_token_fields" else 20001,
                            "message": f"Invalid parameter access_token={tok}", "request_id": f"rid-{tok}",
                            "data": {"echo": {"Access-Token": tok, "params": dict(params, token=tok)}}}
                    self._send(200, json.dumps(body).encode())
                    return
                if fault == "echo_token":
                    self._envelope(40002, f"Invalid parameter near Access-Token {self.headers.get('Access-Token')}")
                    return
                if not token_ok:
                    self._envelope(40105, "Access token is incorrect or has been revoked.")
                    return
                route = {
                    "business/get/": server._account,
                    "business/video/list/": server._videos,
                    "tt_video/list/": server._authorisations,
                    "ad/get/": server._ads,
                    "report/integrated/get/": server._report,
                    "advertiser/info/": server._advertiser_info,
                    "tt_video/info/": server._video_info,
                    "adgroup/get/": server._adgroups,
                }.get(endpoint)
                if route is None:
                    self._send(404, b'{"code": 40400, "message": "Not found"}')
                    return
                try:
                    data = route(params)
                except ValueError as exc:
                    self._envelope(40002, str(exc))
                    return
                if fault == "partial":
                    self._envelope(20001, "Partial success: some items failed.", data)
                    return
                self._envelope(0, "OK", data)

        return Handler

    # -- endpoints (raise ValueError for a 40002 answer) -----------------------------------------------
    @staticmethod
    def _json_list(params: dict[str, str], name: str) -> list[Any]:
        try:
            value = json.loads(params[name])
        except (KeyError, json.JSONDecodeError):
            raise ValueError(f"{name}: must be a JSON array string") from None
        if not isinstance(value, list):
            raise ValueError(f"{name}: must be a JSON array string")
        return value

    def _account_of(self, params: dict[str, str]) -> Account:
        account = self.world.accounts.get(params.get("business_id", ""))
        if account is None:
            raise ValueError("business_id: invalid or not authorised")
        return account

    def _account(self, params: dict[str, str]) -> dict[str, Any]:
        fields = self._json_list(params, "fields")
        profile = self._account_of(params).profile
        return {k: v for k, v in profile.items() if k in fields}

    def _videos(self, params: dict[str, str]) -> dict[str, Any]:
        account = self._account_of(params)
        fields = set(self._json_list(params, "fields"))
        max_count = int(params.get("max_count", VIDEO_MAX_COUNT))
        if not 0 < max_count <= VIDEO_MAX_COUNT:
            raise ValueError("max_count: must be between 1 and 20")
        ordered = sorted(account.videos, key=lambda v: -v["create_time"])
        cursor = params.get("cursor")
        if cursor is not None:
            ordered = [v for v in ordered if v["create_time"] * 1000 < int(cursor)]
        page_no = sum(1 for r in self.calls("business/video/list/") if r.params.get("business_id") ==
                      params.get("business_id") and "cursor" in r.params) if cursor else 0
        # Short pages with has_more still true, as the real API does now and then.
        take = max(1, max_count // 2) if self.short_pages and page_no % 3 != 2 else max_count
        page = ordered[:take]
        records = [{k: v for k, v in video.items() if k in fields or k == "item_id"} for video in page]
        has_more = len(ordered) > take
        return {"videos": records, "has_more": has_more,
                "cursor": page[-1]["create_time"] * 1000 if page else int(cursor or 0)}

    @staticmethod
    def _paged(items: list[dict[str, Any]], params: dict[str, str], key: str = "list") -> dict[str, Any]:
        page, size = int(params.get("page", 1)), int(params.get("page_size", 10))
        if not 0 < size <= PAGE_SIZE_MAX or page < 1:
            raise ValueError("page_size: must be between 1 and 1000")
        total_page = max(1, -(-len(items) // size))
        chunk = items[(page - 1) * size : page * size]
        return {key: chunk, "page_info": {"page": page, "page_size": size, "total_number": len(items),
                                         "total_page": total_page}}

    def _authorisations(self, params: dict[str, str]) -> dict[str, Any]:
        return self._paged(self.world.authorisations.get(params.get("advertiser_id", ""), []), params)

    def _advertiser_info(self, params: dict[str, str]) -> dict[str, Any]:
        """The asked advertisers' records (only the asked `fields`, the id always); unknown ids are left out."""
        ids = self._json_list(params, "advertiser_ids")
        if not 0 < len(ids) <= ADVERTISER_INFO_MAX_IDS:
            raise ValueError(f"advertiser_ids: between 1 and {ADVERTISER_INFO_MAX_IDS} ids")
        fields = set(self._json_list(params, "fields")) if "fields" in params else None
        known = [str(i) for i in ids if str(i) in self.world.advertisers or str(i) in self.world.ads]
        listed = [{"advertiser_id": a, **self.world.advertisers.get(a, {}),
                   "timezone": self.world.timezones.get(a, "UTC")} for a in known]
        return {"list": [{k: v for k, v in r.items() if fields is None or k in fields or k == "advertiser_id"}
                         for r in listed]}

    def _ads(self, params: dict[str, str]) -> dict[str, Any]:
        self._json_list(params, "fields")
        ads = self.world.ads.get(params.get("advertiser_id", ""), [])
        filtering = json.loads(params["filtering"]) if "filtering" in params else {}
        if isinstance(filtering, dict) and filtering.get("ad_ids"):
            ads = [a for a in ads if a["ad_id"] in set(filtering["ad_ids"])]
        return self._paged([dict(a) for a in ads], params)

    def _adgroups(self, params: dict[str, str]) -> dict[str, Any]:
        self._json_list(params, "fields")
        groups = self.world.adgroups.get(params.get("advertiser_id", ""), [])
        filtering = json.loads(params["filtering"]) if "filtering" in params else {}
        if filtering.get("adgroup_ids"):
            groups = [g for g in groups if g["adgroup_id"] in set(filtering["adgroup_ids"])]
        if filtering.get("campaign_ids"):
            groups = [g for g in groups if g["campaign_id"] in set(filtering["campaign_ids"])]
        return self._paged([dict(g) for g in groups], params)

    def _authorisation(self, advertiser: str, code: str) -> dict[str, Any]:
        for item in self.world.authorisations.get(advertiser, []):
            if (item.get("item_info") or {}).get("auth_code") == code:
                return item
        raise ValueError("auth_code: unknown authorisation code")

    def _video_info(self, params: dict[str, str]) -> dict[str, Any]:
        return json.loads(json.dumps(self._authorisation(params.get("advertiser_id", ""), params.get("auth_code", ""))))

    def _new_id(self) -> str:
        self.world.next_id += 1
        return str(self.world.next_id)

    def _writes(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """Carry out one write on the world (under the server's lock); its answer's data."""
        adv = str(body.get("advertiser_id", ""))
        if adv not in self.world.ads:
            raise ValueError("advertiser_id: unknown advertiser")
        if endpoint == "tt_video/authorize/":
            item = self._authorisation(adv, str(body.get("auth_code", "")))
            if item["auth_info"]["ad_auth_status"] != "AUTHORIZED":
                raise ValueError("auth_code: the authorization code has expired or is invalid")
            self.world.authorised_codes.add((adv, str(body["auth_code"])))
            return {}
        if endpoint == "adgroup/create/":
            for name in ("campaign_id", "adgroup_name", "budget_mode", "budget", "billing_event",
                         "optimization_goal", "pacing", "schedule_type", "location_ids"):
                if body.get(name) in (None, "", []):
                    raise ValueError(f"{name}: required")
            group = {"adgroup_id": self._new_id(), "adgroup_name": body["adgroup_name"],
                     "campaign_id": body["campaign_id"], "budget": float(body["budget"]), "operation_status": "ENABLE"}
            self.world.adgroups.setdefault(adv, []).append(group)
            return {"adgroup_id": group["adgroup_id"]}
        if endpoint == "adgroup/update/":
            group = next((g for g in self.world.adgroups.get(adv, []) if g["adgroup_id"] == body.get("adgroup_id")), None)
            if group is None:
                raise ValueError("adgroup_id: not found")
            group["budget"] = float(body["budget"])
            return {"adgroup_id": group["adgroup_id"]}
        if endpoint == "ad/create/":
            if not any(g["adgroup_id"] == body.get("adgroup_id") for g in self.world.adgroups.get(adv, [])):
                raise ValueError("adgroup_id: not found")
            ids = []
            for creative in body.get("creatives") or []:
                for name in ("ad_name", "ad_format", "identity_type", "identity_id", "tiktok_item_id"):
                    if not creative.get(name):
                        raise ValueError(f"creatives.{name}: required for a Spark Ad")
                ad = {"ad_id": self._new_id(), "advertiser_id": adv, "adgroup_id": body["adgroup_id"],
                      "ad_name": creative["ad_name"], "tiktok_item_id": creative["tiktok_item_id"],
                      "identity_type": creative["identity_type"], "identity_id": creative["identity_id"],
                      "create_time": "2026-11-01 06:30:00",
                      "operation_status": creative.get("operation_status", "ENABLE")}
                self.world.ads[adv].append(ad)
                ids.append(ad["ad_id"])
            return {"ad_ids": ids}
        if endpoint == "ad/status/update/":
            wanted = set(body.get("ad_ids") or [])
            status = body.get("operation_status")
            if status not in ("ENABLE", "DISABLE", "DELETE") or not wanted:
                raise ValueError("operation_status / ad_ids: invalid")
            for ad in self.world.ads[adv]:
                if ad["ad_id"] in wanted:
                    ad["operation_status"] = status
            return {"ad_ids": sorted(wanted), "status": status}
        raise ValueError(f"{endpoint}: not a write this fake knows")

    def _hourly(self, params: dict[str, str], metrics: list[Any]) -> dict[str, Any]:
        """Hourly rows: one day per request (start_date == end_date), optionally filtered by ad_ids."""
        if params.get("start_date") != params.get("end_date") or not params.get("start_date"):
            raise ValueError("end_date: hourly reports cover one day per request (start_date == end_date)")
        wanted: set[str] | None = None
        for rule in self._json_list(params, "filtering") if "filtering" in params else []:
            if rule.get("field_name") == "ad_ids" and rule.get("filter_type") == "IN":
                wanted = set(json.loads(rule["filter_value"]))
        rows = []
        for row in self.world.hourly_rows.get(params.get("advertiser_id", ""), []):
            dims = row["dimensions"]
            if dims["stat_time_hour"][:10] == params["start_date"] and (wanted is None or dims["ad_id"] in wanted):
                rows.append({"dimensions": dims, "metrics": {k: v for k, v in row["metrics"].items() if k in metrics}})
        return self._paged(rows, params)

    def _report(self, params: dict[str, str]) -> dict[str, Any]:
        for name, wanted in (("service_type", "AUCTION"), ("report_type", "BASIC"), ("data_level", "AUCTION_AD")):
            if params.get(name) != wanted:
                raise ValueError(f"{name}: this fake serves only {wanted}")
        dimensions = self._json_list(params, "dimensions")
        if dimensions == ["ad_id", "stat_time_hour"]:
            return self._hourly(params, self._json_list(params, "metrics"))
        if dimensions != ["ad_id", "stat_time_day"]:
            raise ValueError("dimensions: expected [ad_id, stat_time_day] or [ad_id, stat_time_hour]")
        metrics = self._json_list(params, "metrics")
        try:
            start = datetime.strptime(params["start_date"], "%Y-%m-%d").replace(tzinfo=UTC)
            end = datetime.strptime(params["end_date"], "%Y-%m-%d").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            raise ValueError("start_date/end_date: expected YYYY-MM-DD") from None
        if end < start or (end - start).days + 1 > REPORT_MAX_DAYS:
            raise ValueError("end_date: the time span of daily reports is at most 30 days")
        rows = []
        for row in self.world.report_rows.get(params.get("advertiser_id", ""), []):
            day = datetime.strptime(row["dimensions"]["stat_time_day"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            if start <= day <= end:
                rows.append({"dimensions": row["dimensions"],
                             "metrics": {k: v for k, v in row["metrics"].items() if k in metrics}})
        return self._paged(rows, params)


@contextmanager
def serving(world: World, token: str, short_pages: bool = True) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, token, short_pages) as server:
        yield server
