"""One API record mapped to contract values, and the rows gathered while fetching.

Every parser raises `BadRecord` with the field and the reason; the caller skips that record (and says so
in `Gathered.problems`) while the rest of the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sparkpick.contract import as_utc

log = logging.getLogger(__name__)

ITEM_ID_TIME_SHIFT = 32  # TikTok item ids carry their creation time (epoch seconds) in the upper bits.
# Decoded times before TikTok's launch (September 2016) mean the id is not such an id.
ITEM_ID_EARLIEST = pd.Timestamp("2016-09-01")

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



class BadRecord(ValueError):
    """A record that cannot be mapped; the message says which field and why."""


def object_field(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The record's `name` when it is a JSON object, else an empty one (a missing or odd field reads as empty)."""
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def list_field(record: Mapping[str, Any], name: str) -> list[Any]:
    """The record's `name` when it is a JSON list, else an empty one."""
    value = record.get(name)
    return value if isinstance(value, list) else []


def parse_id(value: Any, name: str) -> str:
    if value is None or isinstance(value, bool):
        raise BadRecord(f"{name} is missing")
    if isinstance(value, float):
        raise BadRecord(f"{name} {value!r} arrived as a floating point number (digits lost)")
    text = str(value).strip()
    if not text:
        raise BadRecord(f"{name} is missing")
    return text


def parse_number(record: Mapping[str, Any], name: str, required: bool = True) -> float | None:
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


def parse_count(record: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    number = parse_number(record, name, required)
    if number is None:
        return None
    if number != round(number):
        raise BadRecord(f"{name} {record.get(name)!r} is not a whole number")
    return round(number)


def parse_epoch(value: Any, name: str) -> pd.Timestamp:
    try:
        return as_utc(pd.Timestamp(int(str(value).strip()), unit="s"))
    except (TypeError, ValueError, OverflowError):
        raise BadRecord(f"{name} {value!r} is not an epoch time in seconds") from None


def parse_api_time(value: Any, name: str) -> pd.Timestamp | None:
    """'2026-10-01 12:00:00' (UTC, the API's format) or epoch seconds; empty -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        return parse_epoch(value, name)
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


def parse_auth_status(raw: Any, expires: pd.Timestamp | None, as_of: pd.Timestamp) -> str:
    status = AUTH_STATUS.get(str(raw or "").strip().upper(), "none")
    if status == "authorized" and expires is not None and expires <= as_of:
        return "expired"
    return status


def parse_snapshot(video: Mapping[str, Any], item_id: str, as_of: pd.Timestamp) -> dict[str, Any]:
    rate = parse_number(video, "full_video_watched_rate", required=False)
    if rate is not None and rate > 1:
        raise BadRecord(f"full_video_watched_rate {video.get('full_video_watched_rate')!r} is above 1")
    return {
        "post_id": item_id, "observed_at": as_of,
        "views": parse_count(video, "video_views"), "likes": parse_count(video, "likes"),
        "comments": parse_count(video, "comments"), "shares": parse_count(video, "shares"),
        "avg_watch_s": parse_number(video, "average_time_watched", required=False),
        "full_watch_rate": rate,
        "reach": parse_count(video, "reach", required=False),
    }


def parse_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# -- what a fetch gathers -------------------------------------------------------------------------------
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
class Gathered:
    creators: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    spark_rows: list[dict[str, Any]] = field(default_factory=list)
    baseline_rows: list[dict[str, Any]] = field(default_factory=list)
    # Hourly rows of Spark ads (`hour_start` in UTC) and the Spark ads still delivering at as_of.
    hourly_rows: list[dict[str, Any]] = field(default_factory=list)
    running_ads: set[str] = field(default_factory=set)
    problems: list[FetchProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    username_to_creator: dict[str, str] = field(default_factory=dict)
    # advertiser_id -> its advertisers row (name, currency, time zone) from advertiser/info/
    advertisers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def skip(self, endpoint: str, record: str, reason: str) -> None:
        log.warning("TikTok %s %s skipped: %s", endpoint, record, reason)
        self.problems.append(FetchProblem(endpoint, record, reason))
