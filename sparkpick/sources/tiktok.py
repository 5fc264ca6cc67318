"""The TikTok API for Business source: an HTTP client and the mapping of its records to the contract.

`TikTokClient` speaks the API's conventions (base `.../open_api/v1.3/`, `Access-Token` header, a JSON
envelope `{code, message, request_id, data}` that usually carries errors with HTTP 200, two pagination
styles, throttling codes). `fetch_tables` reads the configured accounts and advertisers and returns the six
contract tables (`sparkpick.contract`) plus every record it had to skip, so that the ingest step validates
and loads them exactly like a local folder.

Where each contract column comes from
-------------------------------------
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
spark_results (one per boost: Spark ads of the same post whose delivery starts on the same day are summed)
  from `report/integrated/get/` (AUCTION_AD, daily rows per `ad_id`, `report_window_days` windows over
  `report_lookback_days`, metric values given as strings) joined to `ad/get/` (`ad_id -> tiktok_item_id`;
  an ad with an item id is a Spark Ad).
  boosted_at / ended_at  first delivery day / the day after the last delivery day (capped at `as_of`);
                         report days are in the advertiser's time zone and stored as UTC midnights
  spend, impressions, clicks, likes, comments, shares   same names
  views_2s, views_6s, conversions   `video_watched_2s`, `video_watched_6s`, `conversion`
  boost_propensity   unknown to the API: empty
baselines     (non-Spark ads of each advertiser, summed per `baseline_period`, default calendar month)
  period_start / period_end   start of the period / start of the next one; views_2s from
                              `video_watched_2s`, conversions from `conversion`.

A bad record (missing or float item id, unparseable number or time, negative count) is skipped and
reported in `FetchResult.problems` with its id and reason; the rest of the batch goes on. An ad with one
unreadable daily row is left out whole (a partial sum would be a wrong result, not a missing one). The access
token never appears in logs, errors or reprs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from pandas.tseries.frequencies import to_offset

from sparkpick.config import Settings, TiktokConfig
from sparkpick.contract import METRICS, PARTNERSHIPS, SPECS, as_utc
from sparkpick.errors import InputError, SparkpickError
from sparkpick.sources.local import (
    TABLE_SUFFIXES,
    key_text,
    problem_list,
    read_table_file,
    unknown_ids,
    validate_table,
)

log = logging.getLogger(__name__)

# Envelope codes (TikTok Business API SDK).
OK = 0
PARTIAL_SUCCESS = 20001
THROTTLED = frozenset({40100, 40132})
TOKEN_CODES = {40102: "has expired", 40105: "is invalid"}
PERMISSION_CODES = {40001: "lacks the permission", 40130: "lacks the authorised scope"}

ITEM_ID_TIME_SHIFT = 32  # TikTok item ids carry their creation time (epoch seconds) in the upper bits.
# Decoded times before TikTok's launch (September 2016) mean the id is not such an id.
ITEM_ID_EARLIEST = pd.Timestamp("2016-09-01")
HTTP_TOO_MANY = 429
HTTP_SERVER_ERROR = 500

VIDEO_LIST = "business/video/list/"
ACCOUNT_GET = "business/get/"
SPARK_LIST = "tt_video/list/"
AD_GET = "ad/get/"
REPORT = "report/integrated/get/"

VIDEO_FIELDS = [
    "item_id", "create_time", "caption", "video_duration", "share_url", "video_views", "reach", "likes",
    "comments", "shares", "favorites", "average_time_watched", "total_time_watched",
    "full_video_watched_rate",
]
ACCOUNT_FIELDS = ["username", "display_name", "followers_count"]
AD_FIELDS = ["ad_id", "advertiser_id", "tiktok_item_id", "identity_type", "identity_id", "create_time"]
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
AUTH_STATUS = {
    "AUTHORIZED": "authorized",
    "EXPIRED": "expired",
    "INVITING": "requested",
    "PENDING": "requested",
    "REQUESTED": "requested",
    "UNAUTHORIZED": "none",
    "CANCELED": "none",
    "CANCELLED": "none",
    "REVOKED": "none",
}


# -- errors --------------------------------------------------------------------------------------------
class TikTokApiError(SparkpickError):
    """The API refused a request or answered something unusable (the message names the endpoint)."""

    def __init__(
        self, message: str, *, endpoint: str, code: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.code = code
        self.request_id = request_id


class TikTokUnavailableError(TikTokApiError):
    """Still throttled, failing or unreachable after every retry: try again later."""


class TikTokTokenError(TikTokApiError, InputError):
    """The access token has expired or is invalid: the user must refresh it."""


class TikTokPermissionError(TikTokApiError, InputError):
    """The token's app or user lacks a permission or scope for one endpoint."""


# -- client --------------------------------------------------------------------------------------------
class TikTokClient:
    """A small synchronous client for the TikTok API for Business (v1.3 conventions).

    Retries throttling codes (40100, 40132), HTTP 429 and 5xx, network errors and unreadable bodies with
    exponential backoff (`backoff_s * 2**attempt`, at most `max_backoff_s`, at least `Retry-After`), up
    to `max_retries` times. Keeps partial successes (20001) and logs them. `transport` lets tests and
    proxies plug in an httpx transport.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        settings: TiktokConfig,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not access_token or not access_token.strip():
            raise InputError(
                f"The TikTok access token is empty: put a valid one in the environment variable "
                f"{settings.token_env}."
            )
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.settings = settings
        self.__token = access_token.strip()
        self._http = httpx.Client(base_url=self.base_url, timeout=settings.timeout_s, transport=transport)
        self._sleep: Callable[[float], None] = time.sleep
        self.requests_made = 0
        # Things the caller should hear about but that did not fail a request: partial successes,
        # listings cut short by the page limit.
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"TikTokClient(base_url={self.base_url!r}, access_token=<redacted>)"

    def __enter__(self) -> TikTokClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- one request -----------------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET `path`; lists and dicts in `params` are sent as JSON strings. Returns the envelope's data."""
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a JSON body to `path`. Returns the envelope's data."""
        return self._request("POST", path, body=body)

    def _redact(self, text: str) -> str:
        return text.replace(self.__token, "<redacted>") if self.__token in text else text

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        attempts = self.settings.max_retries + 1
        last = "no answer"
        for attempt in range(attempts):
            retry_after: float | None = None
            self.requests_made += 1
            try:
                resp = self._http.request(
                    method, path, params=query or None, json=dict(body) if body is not None else None,
                    headers={"Access-Token": self.__token, "Accept": "application/json"},
                )
            except httpx.TransportError as exc:
                last = self._redact(f"network error ({type(exc).__name__}: {exc})")
                self._pause(path, attempt, attempts, last, None)
                continue
            status = resp.status_code
            payload = _json_or_none(resp)
            if status == HTTP_TOO_MANY or status >= HTTP_SERVER_ERROR:
                retry_after = _retry_after(resp)
                last = f"HTTP {status}"
                self._pause(path, attempt, attempts, last, retry_after)
                continue
            if not isinstance(payload, dict) or "code" not in payload:
                if status >= 400:
                    self._raise_http(path, status)
                last = "an answer that is not the JSON envelope {code, message, data}"
                self._pause(path, attempt, attempts, last, None)
                continue
            code = _int_or_none(payload.get("code"))
            message = self._redact(str(payload.get("message", "")))
            request_id = str(payload.get("request_id", "") or "")
            if code in (OK, PARTIAL_SUCCESS):
                if code == PARTIAL_SUCCESS:
                    note = f"{path}: partial success ({message}; request_id {request_id}); kept what came back"
                    log.warning("TikTok API %s", note)
                    self.notes.append(note)
                data = payload.get("data")
                return data if isinstance(data, dict) else {}
            if code in THROTTLED:
                last = f"code {code} ({message})"
                self._pause(path, attempt, attempts, last, None)
                continue
            self._raise_code(path, code, message, request_id, status)
        raise TikTokUnavailableError(
            f"TikTok API {path} still failing after {attempts} attempts (last: {last}). The API may be "
            "throttling this app or be down: try again later (or raise tiktok.max_retries / backoff_s).",
            endpoint=path,
        )

    def _pause(self, path: str, attempt: int, attempts: int, why: str, retry_after: float | None) -> None:
        if attempt + 1 >= attempts:
            return
        delay = self.settings.backoff_s * 2**attempt
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = min(delay, self.settings.max_backoff_s)
        log.warning("TikTok API %s: %s; retry %d of %d in %.2f s", path, why, attempt + 1, attempts - 1, delay)
        self._sleep(delay)

    def _raise_http(self, path: str, status: int) -> None:
        if status == 401:
            raise TikTokTokenError(self._token_message(path, "was refused (HTTP 401)"), endpoint=path)
        if status == 403:
            raise TikTokPermissionError(
                f"TikTok API {path} answered HTTP 403: the app or token lacks permission for this endpoint.",
                endpoint=path,
            )
        raise TikTokApiError(f"TikTok API {path} answered HTTP {status} without an API envelope.", endpoint=path)

    def _token_message(self, path: str, what: str) -> str:
        return (
            f"The TikTok access token {what} (at {path}). Refresh it (TikTok for Business developer portal "
            f"or your OAuth refresh flow) and put the new one in the environment variable "
            f"{self.settings.token_env}."
        )

    def _raise_code(self, path: str, code: int | None, message: str, request_id: str, status: int) -> None:
        suffix = f" (API message: {message}; request_id {request_id or 'none'})"
        if code in TOKEN_CODES:
            raise TikTokTokenError(
                self._token_message(path, TOKEN_CODES[code]) + suffix, endpoint=path, code=code,
                request_id=request_id,
            )
        if code in PERMISSION_CODES:
            raise TikTokPermissionError(
                f"TikTok API {path}: the token {PERMISSION_CODES[code]} for this endpoint (code {code}). "
                f"Grant the app that scope, or re-authorise the account/advertiser{suffix}.",
                endpoint=path, code=code, request_id=request_id,
            )
        raise TikTokApiError(
            f"TikTok API {path} failed with code {code} (HTTP {status}): {message} "
            f"(request_id {request_id or 'none'}).",
            endpoint=path, code=code, request_id=request_id,
        )

    # -- pagination ------------------------------------------------------------------------------------
    def iter_cursor(self, path: str, params: Mapping[str, Any], items_key: str) -> Iterator[dict[str, Any]]:
        """Records of a cursor-paged listing (`cursor`/`max_count`; `data.has_more`, `data.cursor`).

        A short (even empty) page with `has_more` true goes on; a cursor that does not move, or more than
        `max_pages` pages, stops the listing with a note rather than looping.
        """
        cursor: Any = None
        for _ in range(self.settings.max_pages):
            query = dict(params, max_count=self.settings.max_count)
            if cursor is not None:
                query["cursor"] = cursor
            data = self.get(path, query)
            yield from _records(data.get(items_key))
            if not _truthy(data.get("has_more")):
                return
            next_cursor = data.get("cursor")
            if next_cursor is None or next_cursor == cursor:
                self._cut(path, f"has_more is true but the cursor did not advance ({next_cursor!r})")
                return
            cursor = next_cursor
        self._cut(path, f"stopped after tiktok.max_pages = {self.settings.max_pages} pages")

    def iter_pages(
        self, path: str, params: Mapping[str, Any], items_key: str = "list", page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Records of a page-numbered listing (`page`/`page_size`; `data.page_info.total_page`)."""
        size = page_size or self.settings.page_size
        for page in range(1, self.settings.max_pages + 1):
            data = self.get(path, dict(params, page=page, page_size=size))
            items = _records(data.get(items_key))
            yield from items
            info = data.get("page_info")
            total = _int_or_none(info.get("total_page")) if isinstance(info, dict) else None
            if total is None:
                if len(items) < size:
                    return
            elif page >= total:
                return
        self._cut(path, f"stopped after tiktok.max_pages = {self.settings.max_pages} pages")

    def _cut(self, path: str, why: str) -> None:
        note = f"{path}: listing cut short: {why}"
        log.warning("TikTok API %s", note)
        self.notes.append(note)


def _param(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _records(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v if isinstance(v, dict) else {"_not_an_object": v} for v in value]


# -- parsing one record --------------------------------------------------------------------------------
class BadRecord(ValueError):
    """A record that cannot be mapped; the message says which field and why."""


def _id(value: Any, name: str) -> str:
    if value is None or isinstance(value, bool):
        raise BadRecord(f"{name} is missing")
    if isinstance(value, float):
        raise BadRecord(f"{name} {value!r} arrived as a floating point number (digits lost)")
    text = str(value).strip()
    if not text:
        raise BadRecord(f"{name} is missing")
    return text


def _number(record: Mapping[str, Any], name: str, required: bool = True) -> float | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRecord(f"{name} is missing")
        return None
    if isinstance(value, bool):
        raise BadRecord(f"{name} {value!r} is not a number")
    try:
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise BadRecord(f"{name} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadRecord(f"{name} {value!r} is not a finite number")
    if number < 0:
        raise BadRecord(f"{name} {value!r} is negative")
    return number


def _count(record: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    number = _number(record, name, required)
    if number is None:
        return None
    if number != round(number):
        raise BadRecord(f"{name} {record.get(name)!r} is not a whole number")
    return round(number)


def _epoch(value: Any, name: str) -> pd.Timestamp:
    try:
        return as_utc(pd.Timestamp(int(str(value).strip()), unit="s"))
    except (TypeError, ValueError, OverflowError):
        raise BadRecord(f"{name} {value!r} is not an epoch time in seconds") from None


def _api_time(value: Any, name: str) -> pd.Timestamp | None:
    """'2026-10-01 12:00:00' (UTC, the API's format) or epoch seconds; empty -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        return _epoch(value, name)
    try:
        return as_utc(pd.Timestamp(str(value).strip()))
    except (TypeError, ValueError):
        raise BadRecord(f"{name} {value!r} is not a time") from None


def item_posted_at(item_id: str) -> pd.Timestamp | None:
    """The creation time a TikTok item id encodes in its upper 32 bits (None if it is not such an id)."""
    if not item_id.isdigit():
        return None
    moment = as_utc(pd.Timestamp(int(item_id) >> ITEM_ID_TIME_SHIFT, unit="s"))
    return moment if moment >= ITEM_ID_EARLIEST else None


def _auth_status(raw: Any, expires: pd.Timestamp | None, as_of: pd.Timestamp) -> str:
    status = AUTH_STATUS.get(str(raw or "").strip().upper(), "none")
    if status == "authorized" and expires is not None and expires <= as_of:
        return "expired"
    return status


# -- fetching ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FetchProblem:
    """One record the source skipped (or part of one), and why."""

    endpoint: str
    record: str
    reason: str

    def __str__(self) -> str:
        return f"{self.endpoint} {self.record}: {self.reason}"


@dataclass
class FetchResult:
    """Contract tables fetched from the API, the records skipped, and notes about filled-in gaps."""

    tables: dict[str, pd.DataFrame]
    problems: list[FetchProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Gathered:
    creators: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    spark_rows: list[dict[str, Any]] = field(default_factory=list)
    baseline_rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[FetchProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    username_to_creator: dict[str, str] = field(default_factory=dict)

    def skip(self, endpoint: str, record: str, reason: str) -> None:
        log.warning("TikTok %s %s skipped: %s", endpoint, record, reason)
        self.problems.append(FetchProblem(endpoint, record, reason))


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


def configured_advertisers(cfg: TiktokConfig) -> set[str]:
    """Every advertiser id the config names (ad accounts and the advertisers of business accounts)."""
    return set(cfg.advertiser_ids) | set(cfg.account_advertisers.values())


def read_partnerships(path: Path, cfg: TiktokConfig) -> pd.DataFrame:
    """Read and check a partnerships file (CSV or Parquet in the contract's partnerships columns).

    Every problem names the file, the row and the column: a missing column, an unknown `kind`, a boolean
    that is not true/false, an unparseable time, a pair listed twice, an advertiser the config does not
    name. Creator ids can only be checked once the API has said which creators exist: `fetch_tables`
    reports and skips a row whose creator it did not return. Raises `InputError`; returns the typed rows,
    indexed by their position in the file.
    """
    if not path.is_file():
        raise InputError(f"Partnerships file {path} does not exist.")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"Partnerships file {path} must be a {' or '.join(TABLE_SUFFIXES)} file.")
    try:
        raw = read_table_file(path)
    except Exception as exc:  # a damaged file is the user's to fix, not a crash
        raise InputError(f"Partnerships file {path} cannot be read: {exc}") from exc
    without_creator_check = replace(PARTNERSHIPS, references=())
    typed, problems, _ = validate_table(without_creator_check, raw, str(path), None, {})
    if "advertiser_id" in typed.columns:
        problems += unknown_ids(
            typed, "advertiser_id", configured_advertisers(cfg),
            "not in tiktok.advertiser_ids or tiktok.account_advertisers", str(path), key_text(PARTNERSHIPS, typed),
        )
    if problems:
        raise InputError(
            f"Partnerships file {path} has {len(problems)} problem(s); nothing was written to the warehouse.\n"
            f"{problem_list(sorted(problems, key=lambda p: p.row or 0))}"
        )
    return typed


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

    got = _Gathered()
    for bid, advertiser in owners.items():
        _fetch_account(client, cfg, bid, advertiser, as_of, got)
    for advertiser in cfg.advertiser_ids:
        _fetch_authorisations(client, cfg, advertiser, as_of, got)
    for advertiser in cfg.advertiser_ids:
        _fetch_ad_results(client, cfg, advertiser, as_of, got)

    tables = {
        "creators": _frame("creators", list(got.creators.values())),
        "partnerships": _partnerships(got, cfg, partnerships),
        "posts": _frame("posts", list(got.posts.values())),
        "metrics": _frame("metrics", got.metrics),
        "spark_results": _spark_results(got, as_of),
        "baselines": _baselines(got, period),
    }
    notes = got.notes + client.notes
    log.info(
        "TikTok fetch as of %s: %s; %d skipped, %d notes, %d requests", as_of,
        ", ".join(f"{len(t)} {n}" for n, t in tables.items()), len(got.problems), len(notes),
        client.requests_made,
    )
    return FetchResult(tables, got.problems, notes)


def _per_scope(got: _Gathered, endpoint: str, scope: str, exc: TikTokApiError) -> None:
    """A definitive refusal for one account or advertiser skips that scope; the others go on."""
    if isinstance(exc, (TikTokTokenError, TikTokUnavailableError)):
        raise exc
    got.skip(endpoint, scope, str(exc))


def _fetch_account(
    client: TikTokClient, cfg: TiktokConfig, bid: str, advertiser: str, as_of: pd.Timestamp, got: _Gathered
) -> None:
    try:
        profile = client.get(ACCOUNT_GET, {"business_id": bid, "fields": ACCOUNT_FIELDS})
        videos = list(client.iter_cursor(VIDEO_LIST, {"business_id": bid, "fields": VIDEO_FIELDS}, "videos"))
    except TikTokApiError as exc:
        _per_scope(got, exc.endpoint, f"business account {bid}", exc)
        return
    handle = str(profile.get("username") or profile.get("display_name") or bid).strip()
    try:
        followers = _count(profile, "followers_count")
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
            item_id = _id(video.get("item_id"), "item_id")
            label = f"item {item_id}"
            posted_at = _epoch(video.get("create_time"), "create_time")
        except BadRecord as exc:
            got.skip(VIDEO_LIST, label, str(exc))
            continue
        if item_id in got.posts:
            continue  # cursor pages can overlap when new posts arrive mid-listing
        if posted_at > as_of:
            continue  # posted after the as-of moment: not part of this snapshot
        got.posts[item_id] = {
            "post_id": item_id, "advertiser_id": advertiser, "creator_id": bid, "posted_at": posted_at,
            "caption": _text(video.get("caption")), "video_path": None, "spark_auth_status": "none",
            "spark_auth_expires_at": None,
        }
        try:
            snapshot = _snapshot(video, item_id, as_of)
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


def _snapshot(video: Mapping[str, Any], item_id: str, as_of: pd.Timestamp) -> dict[str, Any]:
    rate = _number(video, "full_video_watched_rate", required=False)
    if rate is not None and rate > 1:
        raise BadRecord(f"full_video_watched_rate {video.get('full_video_watched_rate')!r} is above 1")
    return {
        "post_id": item_id, "observed_at": as_of,
        "views": _count(video, "video_views"), "likes": _count(video, "likes"),
        "comments": _count(video, "comments"), "shares": _count(video, "shares"),
        "avg_watch_s": _number(video, "average_time_watched", required=False),
        "full_watch_rate": rate,
        "reach": _count(video, "reach", required=False),
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _fetch_authorisations(
    client: TikTokClient, cfg: TiktokConfig, advertiser: str, as_of: pd.Timestamp, got: _Gathered
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
            item_id = _id(info.get("item_id"), "item_info.item_id")
            label = f"item {item_id}"
            expires = _api_time(auth.get("auth_end_time"), "auth_info.auth_end_time")
        except BadRecord as exc:
            got.skip(SPARK_LIST, label, str(exc))
            continue
        raw_status = str(auth.get("ad_auth_status") or "").strip().upper()
        if raw_status not in AUTH_STATUS:
            got.notes.append(f"item {item_id}: unknown ad_auth_status {raw_status!r}, read as none")
        status = _auth_status(raw_status, expires, as_of)
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
            "caption": _text(info.get("text")), "video_path": None, "spark_auth_status": status,
            "spark_auth_expires_at": expires,
        }


def _creator_from_identity(user: Mapping[str, Any], got: _Gathered) -> str:
    name = _text(user.get("tiktok_name"))
    if name and name.lstrip("@").lower() in got.username_to_creator:
        return got.username_to_creator[name.lstrip("@").lower()]
    identity = _id(user.get("identity_id"), "user_info.identity_id")
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


def _fetch_ad_results(
    client: TikTokClient, cfg: TiktokConfig, advertiser: str, as_of: pd.Timestamp, got: _Gathered
) -> None:
    try:
        ads = list(client.iter_pages(
            AD_GET,
            {"advertiser_id": advertiser, "fields": AD_FIELDS, "filtering": {"primary_status": "STATUS_ALL"}},
            "list", page_size=cfg.report_page_size,
        ))
        rows: list[dict[str, Any]] = []
        for start, end in report_windows(as_of, cfg.report_lookback_days, cfg.report_window_days):
            rows += client.iter_pages(REPORT, {
                "advertiser_id": advertiser, "service_type": "AUCTION", "report_type": "BASIC",
                "data_level": "AUCTION_AD", "dimensions": ["ad_id", "stat_time_day"],
                "metrics": list(REPORT_METRICS), "start_date": start, "end_date": end,
            }, "list", page_size=cfg.report_page_size)
    except TikTokApiError as exc:
        _per_scope(got, exc.endpoint, f"advertiser {advertiser}", exc)
        return

    item_of: dict[str, str | None] = {}
    for n, ad in enumerate(ads, start=1):
        try:
            ad_id = _id(ad.get("ad_id"), "ad_id")
        except BadRecord as exc:
            got.skip(AD_GET, f"ad #{n} of advertiser {advertiser}", str(exc))
            continue
        raw_item = ad.get("tiktok_item_id")
        try:
            item_of[ad_id] = _id(raw_item, "tiktok_item_id") if raw_item not in (None, "", 0, "0") else None
        except BadRecord as exc:
            got.skip(AD_GET, f"ad {ad_id}", str(exc))

    unknown_ads: set[str] = set()
    # An ad with an unreadable daily row would get wrong totals: all of its rows are left out.
    tainted: set[str] = set()
    kept: list[dict[str, Any]] = []
    for row in rows:
        dims = row.get("dimensions") if isinstance(row.get("dimensions"), dict) else {}
        values = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        label = f"row of advertiser {advertiser}"
        ad_id = None
        try:
            ad_id = _id(dims.get("ad_id"), "dimensions.ad_id")
            day = _api_time(dims.get("stat_time_day"), "dimensions.stat_time_day")
            label = f"ad {ad_id} on {day.date() if day is not None else '?'}"
            if day is None:
                raise BadRecord("dimensions.stat_time_day is missing")
            numbers = {
                col: (_number(values, metric) if col == "spend" else _count(values, metric))
                for metric, col in REPORT_METRICS.items()
            }
        except BadRecord as exc:
            if ad_id is not None and ad_id not in tainted:
                tainted.add(ad_id)
                got.skip(REPORT, label, f"{exc}; every row of ad {ad_id} is left out (its totals would be wrong)")
            elif ad_id is None:
                got.skip(REPORT, label, str(exc))
            continue
        if ad_id not in item_of:
            if ad_id not in unknown_ads:
                unknown_ads.add(ad_id)
                got.skip(REPORT, f"ad {ad_id}", "not returned by ad/get: cannot tell its post; its rows are skipped")
            continue
        kept.append({"advertiser_id": advertiser, "ad_id": ad_id, "day": day, **numbers})
    for record in kept:
        if record["ad_id"] in tainted:
            continue
        item = item_of[record["ad_id"]]
        if item is None:
            got.baseline_rows.append(record)
        else:
            got.spark_rows.append({**record, "post_id": item})


def _spark_results(got: _Gathered, as_of: pd.Timestamp) -> pd.DataFrame:
    cols = list(REPORT_METRICS.values())
    daily = pd.DataFrame(got.spark_rows, columns=["advertiser_id", "ad_id", "day", "post_id", *cols])
    daily = daily[(daily["impressions"] > 0) | (daily["spend"] > 0)]
    if daily.empty:
        return _frame("spark_results", [])
    per_ad = daily.groupby(["post_id", "ad_id"], as_index=False).agg(
        boosted_at=("day", "min"), last_day=("day", "max"), **{c: (c, "sum") for c in cols}
    )
    per_ad["ended_at"] = (per_ad["last_day"] + pd.Timedelta(days=1)).clip(upper=as_of)
    boosts = per_ad.groupby(["post_id", "boosted_at"], as_index=False).agg(
        ended_at=("ended_at", "max"), **{c: (c, "sum") for c in cols}
    )
    rows: list[dict[str, Any]] = []
    for rec in boosts.to_dict("records"):
        if rec["post_id"] not in got.posts:
            got.skip(REPORT, f"Spark Ad result of item {rec['post_id']}",
                     "the boosted post is neither an organic post of a configured account nor authorised "
                     "to the advertiser (tt_video/list); result skipped")
            continue
        rows.append({**rec, "boost_propensity": None})
    return _frame("spark_results", rows)


def _baselines(got: _Gathered, period: pd.DateOffset) -> pd.DataFrame:
    cols = list(REPORT_METRICS.values())
    daily = pd.DataFrame(got.baseline_rows, columns=["advertiser_id", "ad_id", "day", *cols])
    if daily.empty:
        return _frame("baselines", [])
    daily["period_start"] = daily["day"].map(lambda d: period.rollback(d.normalize()))
    sums = daily.groupby(["advertiser_id", "period_start"], as_index=False)[
        [c for c in cols if c != "views_6s"]
    ].sum()
    sums["period_end"] = sums["period_start"].map(lambda s: s + period)
    return _frame("baselines", sums.to_dict("records"))


def _partnerships(got: _Gathered, cfg: TiktokConfig, override: pd.DataFrame | None) -> pd.DataFrame:
    first_post: dict[tuple[str, str], pd.Timestamp] = {}
    for post in got.posts.values():
        key = (post["advertiser_id"], post["creator_id"])
        first_post[key] = min(first_post.get(key, post["posted_at"]), post["posted_at"])
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (advertiser, creator), started in first_post.items():
        own = bool(got.creators[creator]["is_brand_account"])
        rows[(advertiser, creator)] = {
            "advertiser_id": advertiser, "creator_id": creator, "started_at": started,
            "kind": "own" if own else cfg.default_partnership_kind, "usage_rights": own,
        }
    if override is not None and len(override):
        for rec in override.to_dict("records"):
            key = (str(rec.get("advertiser_id")), str(rec.get("creator_id")))
            if key[1] not in got.creators:
                got.skip("partnerships", f"{key[0]}/{key[1]}",
                         "the partnerships file names a creator the API did not return this time "
                         "(not yet authorised?): row ignored until it does")
                continue
            merged = rows.get(key, {"advertiser_id": key[0], "creator_id": key[1]})
            for col in ("kind", "started_at", "usage_rights"):
                if col in rec and not pd.isna(rec[col]):
                    merged[col] = as_utc(rec[col]) if col == "started_at" else rec[col]
            rows[key] = merged
    else:
        creators_without = sum(1 for r in rows.values() if not r["usage_rights"])
        if creators_without:
            got.notes.append(
                f"usage_rights set to false for {creators_without} creator partnership(s): the API does not "
                "know contracts; supply a partnerships table to say which ones allow Spark Ads"
            )
    return _frame("partnerships", list(rows.values()))


_DTYPES = {"id": "str", "str": "str", "path": "object", "time": "datetime64[us]", "int": "Int64",
           "float": "float64", "rate": "float64", "bool": "bool"}


def _frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a frame with the contract's columns, in order, typed (ids as text, times naive UTC)."""
    spec = SPECS[name]
    frame = pd.DataFrame(rows, columns=spec.column_names)
    for col in spec.columns:
        values = frame[col.name]
        if col.kind == "time":
            frame[col.name] = pd.to_datetime(values).astype("datetime64[us]")
        elif col.kind in ("int",):
            frame[col.name] = pd.array(values.tolist(), dtype="Int64")
        else:
            frame[col.name] = values.astype(_DTYPES[col.kind])
    return frame
