"""The data contract: the tables users fill, their columns, keys and checks.

One `TableSpec` per table is the single source of truth: the contract check (`check.py`) parses with it,
pandera schemas are built from it, and the warehouse creates its tables from it. `DTYPES` is the one map
from a column kind to its pandas dtype, used by the check, the sources and the warehouse. Ids are strings everywhere
(TikTok item ids are 19-digit numbers that a float silently corrupts); all times are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

Kind = Literal["id", "str", "time", "int", "float", "bool", "rate", "path"]

# The pandas dtype of each column kind once checked: ids and text as strings (never through a float),
# times naive UTC in microseconds, counts nullable integers, booleans nullable.
DTYPES: dict[str, str] = {
    "id": "str",
    "str": "str",
    "path": "str",
    "time": "datetime64[us]",
    "int": "Int64",
    "float": "float64",
    "rate": "float64",
    "bool": "boolean",
}

# The largest count a cell may hold: a trillion. No TikTok count comes near it (the platform has about two
# billion users; a post's views and an account's yearly impressions stay far below), every count up to it is
# exact as a float, and millions of such rows still sum inside a 64-bit integer. More is an export error.
MAX_COUNT = 10**12
# The largest amount (money, seconds) a cell may hold: a thousand trillion, more than a year of any
# advertiser's spend in any currency; more is a unit or export error, and sums of such values stay finite.
MAX_AMOUNT = 1e15

AUTH_STATUSES = ("none", "requested", "authorized", "expired")
PARTNERSHIP_KINDS = ("own", "ongoing", "one_off")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    non_negative: bool = False
    # A number that must be above 0 (a probability that was logged: 0 would mean "could not happen").
    positive: bool = False
    # A time that must fall exactly on the hour (hourly reports).
    on_the_hour: bool = False
    # A text with a known form, checked by the contract check: "currency" (ISO 4217), "timezone" (IANA).
    form: Literal["", "currency", "timezone"] = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    optional_file: bool = False
    # (column, parent table, parent column): every value must exist in the parent.
    references: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _count(name: str, required: bool = True) -> Column:
    return Column(name, "int", required=required, nullable=not required, non_negative=True)


def _amount(name: str) -> Column:
    return Column(name, "float", non_negative=True)


# Who the advertiser ids are, for people: a marketer reads names, not 19-digit ids. Optional: without it
# (or for an advertiser it does not list) the id is shown. `currency` is an ISO 4217 code, `timezone` an
# IANA zone name (the ad account's reporting day).
ADVERTISERS = TableSpec(
    "advertisers",
    (
        Column("advertiser_id", "id"),
        Column("name", "str"),
        Column("currency", "str", required=False, nullable=True, form="currency"),
        Column("timezone", "str", required=False, nullable=True, form="timezone"),
    ),
    key=("advertiser_id",),
    optional_file=True,
)

CREATORS = TableSpec(
    "creators",
    (
        Column("creator_id", "id"),
        Column("handle", "str"),
        _count("follower_count"),
        Column("is_brand_account", "bool"),
    ),
    key=("creator_id",),
)

PARTNERSHIPS = TableSpec(
    "partnerships",
    (
        Column("advertiser_id", "id"),
        Column("creator_id", "id"),
        Column("kind", "str", allowed=PARTNERSHIP_KINDS),
        Column("started_at", "time"),
        Column("usage_rights", "bool"),
    ),
    key=("advertiser_id", "creator_id"),
    optional_file=True,
    references=(("creator_id", "creators", "creator_id"),),
)

POSTS = TableSpec(
    "posts",
    (
        Column("post_id", "id"),
        Column("advertiser_id", "id"),
        Column("creator_id", "id"),
        Column("posted_at", "time"),
        Column("caption", "str", nullable=True),
        Column("video_path", "path", required=False, nullable=True),
        Column("spark_auth_status", "str", allowed=AUTH_STATUSES),
        Column("spark_auth_expires_at", "time", required=False, nullable=True),
    ),
    key=("post_id",),
    references=(("creator_id", "creators", "creator_id"),),
)

METRICS = TableSpec(
    "metrics",
    (
        Column("post_id", "id"),
        Column("observed_at", "time"),
        _count("views"),
        _count("likes"),
        _count("comments"),
        _count("shares"),
        # The API drops watch-time fields once a post has been idle for 7 days: the column must be there,
        # a value may be empty.
        Column("avg_watch_s", "float", nullable=True, non_negative=True),
        Column("full_watch_rate", "rate", nullable=True),
        _count("reach", required=False),
    ),
    key=("post_id", "observed_at"),
    references=(("post_id", "posts", "post_id"),),
)

SPARK_RESULTS = TableSpec(
    "spark_results",
    (
        Column("post_id", "id"),
        Column("boosted_at", "time"),
        Column("ended_at", "time"),
        _amount("spend"),
        _count("impressions"),
        _count("views_2s"),
        _count("views_6s"),
        _count("likes"),
        _count("comments"),
        _count("shares"),
        _count("clicks"),
        _count("conversions"),
        # The logging policy's probability of shortlisting the post that night (sparkpick's own scores
        # table holds it for the nights it ranked; a brand's own logs may carry it here): in (0, 1].
        Column("boost_propensity", "rate", required=False, nullable=True, positive=True),
    ),
    key=("post_id", "boosted_at"),
    references=(("post_id", "posts", "post_id"),),
)

BASELINES = TableSpec(
    "baselines",
    (
        Column("advertiser_id", "id"),
        Column("period_start", "time"),
        Column("period_end", "time"),
        _amount("spend"),
        _count("impressions"),
        _count("views_2s"),
        _count("likes"),
        _count("comments"),
        _count("shares"),
        _count("clicks"),
        _count("conversions"),
    ),
    key=("advertiser_id", "period_start"),
)

# A boost's delivery hour by hour (increments, not running totals), as reported so far: the live-boost
# monitor's input. `post_id, boosted_at` name the boost as in spark_results (a live boost has no result row
# yet); the first hour is the one the boost started in. A re-exported hour replaces the old one (upsert):
# TikTok attributes conversions late and rewrites earlier hours. `conversions` are the report's
# `conversion` metric, counted at the impression's time.
SPARK_HOURLY = TableSpec(
    "spark_hourly",
    (
        Column("post_id", "id"),
        Column("boosted_at", "time"),
        Column("hour_start", "time", on_the_hour=True),
        _amount("spend"),
        _count("impressions"),
        _count("views_2s"),
        _count("views_6s"),
        _count("likes"),
        _count("comments"),
        _count("shares"),
        _count("clicks"),
        _count("conversions"),
    ),
    key=("post_id", "boosted_at", "hour_start"),
    optional_file=True,
    references=(("post_id", "posts", "post_id"),),
)

# In load order: a table's references point only to tables earlier in this tuple.
TABLES: tuple[TableSpec, ...] = (
    ADVERTISERS, CREATORS, PARTNERSHIPS, POSTS, METRICS, SPARK_RESULTS, BASELINES, SPARK_HOURLY,
)
SPECS: dict[str, TableSpec] = {t.name: t for t in TABLES}


def as_utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """A moment as a naive UTC timestamp, the warehouse's convention (no offset means UTC)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("us")


def typed_frame(spec: TableSpec, rows: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """Rows (already valid values) as a frame with the table's columns, in order, in `DTYPES`."""
    frame = pd.DataFrame(list(rows), columns=spec.column_names)
    for col in spec.columns:
        values = frame[col.name]
        if col.kind == "time":
            frame[col.name] = pd.to_datetime(values).astype(DTYPES["time"])
        elif col.kind == "int":
            frame[col.name] = pd.array(values.tolist(), dtype=DTYPES["int"])
        else:
            frame[col.name] = values.astype(DTYPES[col.kind])
    return frame
