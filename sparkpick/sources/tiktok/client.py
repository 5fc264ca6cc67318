"""The HTTP client of the TikTok API for Business: its envelope, errors, throttling back-off and pagination.

`TikTokClient` speaks the API's conventions (base `.../open_api/v1.3/`, `Access-Token` header, a JSON
envelope `{code, message, request_id, data}` that usually carries errors with HTTP 200, two pagination
styles, throttling codes). The access token never appears in logs, errors or reprs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from sparkpick.config import TiktokConfig
from sparkpick.errors import InputError, SparkpickError, TransientError

log = logging.getLogger(__name__)

OK = 0
PARTIAL_SUCCESS = 20001
THROTTLED = frozenset({40100, 40132})
TOKEN_CODES = {40102: "has expired", 40105: "is invalid"}
PERMISSION_CODES = {40001: "lacks the permission", 40130: "lacks the authorised scope"}
HTTP_TOO_MANY = 429
HTTP_SERVER_ERROR = 500
# Write answers that leave it open whether the change was made: TikTok's "duplicated request" (an earlier
# copy may be running or done) and "write conflict" (another change to the same object was under way).
DUPLICATED = 40050
WRITE_CONFLICT = 40202


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


class TikTokUnavailableError(TikTokApiError, TransientError):
    """Still throttled, failing or unreachable after every retry: try again later."""


class TikTokThrottledError(TikTokApiError, TransientError):
    """A write was refused for rate (40100, 40132, HTTP 429): nothing was done; it may be sent again later."""


class TikTokUncertainError(TikTokApiError, TransientError):
    """A write's answer was lost or ambiguous (timeout, network error, 5xx, an unreadable body, 40050
    duplicated request, 40202 write conflict): the change may or may not have been made. Read the account
    before sending it again."""


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

    def write(self, path: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST one write request, once: (code, data) with code 0 or 20001 (partial success).

        Never retried here, because a write whose answer was lost may have been carried out: the caller
        reads the account back (sparkpick/sources/tiktok/actions/). Raises `TikTokThrottledError` when
        nothing was done for rate, `TikTokUncertainError` when it may have been done, and the token,
        permission and API errors as `get` does.
        """
        self.requests_made += 1
        try:
            resp = self._http.request("POST", path, json=dict(body),
                                      headers={"Access-Token": self.__token, "Accept": "application/json"})
        except httpx.TransportError as exc:
            raise TikTokUncertainError(self._redact(
                f"TikTok API {path}: no answer ({type(exc).__name__}: {exc}); the change may have been made"),
                endpoint=path) from None
        status, payload = resp.status_code, _json_or_none(resp)
        if status == HTTP_TOO_MANY:
            raise TikTokThrottledError(f"TikTok API {path}: HTTP 429 (rate limit)", endpoint=path)
        if status >= HTTP_SERVER_ERROR or not isinstance(payload, dict) or "code" not in payload:
            if HTTP_SERVER_ERROR > status >= 400:
                self._raise_http(path, status)
            raise TikTokUncertainError(
                f"TikTok API {path}: HTTP {status} without a readable answer; the change may have been made",
                endpoint=path)
        code = _int_or_none(payload.get("code"))
        message = self._redact(str(payload.get("message", "")))
        request_id = self._redact(str(payload.get("request_id", "") or ""))
        if code in (OK, PARTIAL_SUCCESS):
            data = payload.get("data")
            return int(code or 0), (data if isinstance(data, dict) else {})
        if code in THROTTLED:
            raise TikTokThrottledError(f"TikTok API {path}: code {code} ({message})", endpoint=path, code=code,
                                       request_id=request_id)
        if code in (DUPLICATED, WRITE_CONFLICT):
            raise TikTokUncertainError(f"TikTok API {path}: code {code} ({message}; request_id {request_id})",
                                       endpoint=path, code=code, request_id=request_id)
        self._raise_code(path, code, message, request_id, status)
        raise AssertionError("unreachable")  # _raise_code always raises

    def _redact(self, text: str) -> str:
        """The text with the token masked: every string the client formats from what it received (message,
        request_id, echoed parameters, exception texts) passes through here."""
        return text.replace(self.__token, "<redacted>") if self.__token and self.__token in text else text

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
            request_id = self._redact(str(payload.get("request_id", "") or ""))
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
