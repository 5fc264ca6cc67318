"""The contract check: raw tables (from a folder or an API) parsed and validated against the contract.

Nothing is written here. `validate_frames` returns the valid rows, typed, and every problem found, each
naming the file, the row and the column. Parsing is ours (so that a bad value gets a precise message);
value checks (ranges, allowed values, unique keys) are pandera schemas built from the contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pandera.pandas as pa

from sparkpick import storage
from sparkpick.contract.tables import DTYPES, MAX_AMOUNT, MAX_COUNT, TABLES, Column, TableSpec

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
# A big id that went through a float: "7.2e+18" or "123.0".
_FLOATED_ID = re.compile(r"^\d+(\.\d*)?[eE][+-]?\d+$|^\d+\.0+$")
# An error message lists at most this many problems (the rest are counted).
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one value, row or file."""

    file: str
    row: int | None  # 1-based data row (line row + 1 in a CSV with its header); None for the whole file
    column: str | None
    message: str
    key: str | None = None  # the row's natural key, to find it quickly

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            line = f", line {self.row + 1}" if self.file.endswith(".csv") else ""
            where += f", row {self.row}{line}"
            if self.key:
                where += f" ({self.key})"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


@dataclass
class CheckedTables:
    """What the check found: the valid rows per table, every problem, and the rejected rows with reasons."""

    tables: dict[str, pd.DataFrame]
    problems: list[Problem] = field(default_factory=list)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.problems


def _blank(values: pd.Series) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return values.isna() | (values.astype("str").str.strip() == "")
    return values.isna()


class _Parser:
    """Turns one raw column into typed values, collecting a problem per bad cell."""

    def __init__(self, file: str, folder: Path | None, keys: pd.Series) -> None:
        self.file = file
        self.folder = folder
        self.keys = keys
        self.problems: list[Problem] = []
        self.bad_rows: set[int] = set()

    def _flag(self, rows: pd.Index, column: str, message_of: pd.Series | str) -> None:
        for i in rows:
            msg = message_of if isinstance(message_of, str) else str(message_of.loc[i])
            self.problems.append(Problem(self.file, int(i) + 1, column, msg, self.keys.get(i)))
            self.bad_rows.add(int(i))

    def parse(self, col: Column, raw: pd.Series) -> pd.Series:
        blank = _blank(raw)
        if col.required and not col.nullable:
            self._flag(raw.index[blank], col.name, "missing value")
        parsed = getattr(self, f"_{col.kind}")(col, raw, blank)
        return parsed

    def _text(self, raw: pd.Series, blank: pd.Series) -> pd.Series:
        out = raw.astype("str").str.strip()
        return out.where(~blank, None).astype(DTYPES["str"])

    def _id(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_float_dtype(raw):
            self._flag(raw.index[~blank], col.name, "ids must be text or integers, not floating point numbers")
        text = self._text(raw, blank)
        floated = text.str.match(_FLOATED_ID) & ~blank
        self._flag(
            text.index[floated], col.name,
            text.map(lambda v: f"id {v!r} looks like a number that went through a float; store ids as text"),
        )
        return text

    def _str(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        text = self._text(raw, blank)
        if col.allowed:
            bad = ~blank & ~text.isin(col.allowed)
            self._flag(
                text.index[bad], col.name,
                text.map(lambda v: f"{v!r} is not one of {', '.join(col.allowed)}"),
            )
        return text

    def _path(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        text = self._text(raw, blank)
        out = pd.Series([None] * len(text), index=text.index, dtype="object")
        root = self.folder.resolve() if self.folder else None
        for i, value in text[~blank].items():
            if storage.is_url(value):  # object storage (s3://, gs://) or file://: read through fsspec
                problem = storage.check(value)
                if problem is not None:
                    self._flag(pd.Index([i]), col.name, f"video URL unreachable: {problem}")
                    continue
                out.loc[i] = value
                continue
            candidate = Path(value)
            if root is None:
                resolved = candidate.resolve()
            else:
                resolved = (root / candidate).resolve()
                if not resolved.is_relative_to(root):
                    self._flag(pd.Index([i]), col.name, f"video path {value!r} points outside the folder {root}")
                    continue
            if not resolved.is_file():
                self._flag(pd.Index([i]), col.name, f"video file {value!r} does not exist")
                continue
            out.loc[i] = str(resolved)
        return out.astype(DTYPES["path"])

    def _time(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = pd.to_datetime(raw, utc=True)
        else:
            parsed = pd.to_datetime(raw.where(~blank, None), utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna() & ~blank
        self._flag(raw.index[bad], col.name, raw.map(lambda v: f"unparseable time {v!r} (use ISO 8601)"))
        return parsed.dt.tz_localize(None).astype(DTYPES["time"])

    def _number(self, col: Column, raw: pd.Series, blank: pd.Series, maximum: float = MAX_AMOUNT) -> pd.Series:
        """Finite numbers up to `maximum` in size; anything else (text, NaN, inf, 1e309, a number too big to
        be real) is flagged and left empty, so that no later step computes with it."""
        values = pd.to_numeric(raw.where(~blank, None), errors="coerce").astype(DTYPES["float"])
        bad = values.isna() & ~blank
        self._flag(raw.index[bad], col.name, raw.map(lambda v: f"{v!r} is not a number"))
        infinite = values.notna() & ~np.isfinite(values)
        self._flag(raw.index[infinite], col.name, raw.map(lambda v: f"{v!r} is not a finite number"))
        huge = values.notna() & np.isfinite(values) & (values.abs() > maximum)
        self._flag(raw.index[huge], col.name,
                   raw.map(lambda v: f"{v!r} is out of range (at most {maximum:.0e} in size)".replace("e+", "e")))
        return values.where(~(infinite | huge))

    def _int(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        values = self._number(col, raw, blank, maximum=MAX_COUNT)
        fractional = values.notna() & (values != values.round())
        self._flag(values.index[fractional], col.name, values.map(lambda v: f"{v} is not a whole number"))
        return values.round().astype(DTYPES["int"])

    def _float(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        return self._number(col, raw, blank)

    def _rate(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        return self._number(col, raw, blank)

    def _bool(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype(DTYPES["bool"])
        text = raw.astype("str").str.strip().str.lower()
        out = pd.Series(pd.NA, index=raw.index, dtype=DTYPES["bool"])
        out[text.isin(_TRUE)] = True
        out[text.isin(_FALSE)] = False
        bad = out.isna() & ~blank
        self._flag(raw.index[bad], col.name, raw.map(lambda v: f"{v!r} is not a boolean (true or false)"))
        return out


def _pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {}
    for col in spec.columns:
        checks: list[pa.Check] = []
        if col.non_negative:
            checks.append(pa.Check.ge(0, error="must not be negative"))
        if col.kind == "rate":
            checks.append(pa.Check.in_range(0, 1, error="must be between 0 and 1"))
        if col.positive:
            checks.append(pa.Check.gt(0, error="must be above 0 (a logged probability cannot be 0)"))
        columns[col.name] = pa.Column(checks=checks, nullable=True, required=False)
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


def _value_problems(spec: TableSpec, file: str, frame: pd.DataFrame, keys: pd.Series) -> list[Problem]:
    try:
        _pandera_schema(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        out: list[Problem] = []
        for _, case in cases.iterrows():
            idx = case["index"]
            row = None if pd.isna(idx) else int(idx)
            check = str(case["check"])
            message = f"{case['failure_case']!r} {check}" if " " in check else f"fails {check}"
            out.append(Problem(file, None if row is None else row + 1, case["column"], message,
                               None if row is None else keys.get(row)))
        return out
    return []


def _is_timezone(text: str) -> bool:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# Column.form -> (test, what a valid value is).
_FORMS: dict[str, tuple[Callable[[str], bool], str]] = {
    "currency": (lambda text: re.fullmatch(r"[A-Z]{3}", text) is not None,
                 "a 3-letter ISO 4217 currency code such as USD"),
    "timezone": (_is_timezone, "an IANA time zone such as Europe/Berlin"),
}


def problem_list(problems: list[Problem]) -> str:
    """Problems as indented lines, at most `MAX_PROBLEMS_SHOWN`, then how many more there are."""
    shown = "\n".join(f"  - {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return shown + (f"\n  ... and {more} more" if more > 0 else "")


def key_text(spec: TableSpec, frame: pd.DataFrame) -> pd.Series:
    """Each row's natural key in words ("advertiser_id A, creator_id B"), to find it in a message."""
    parts = [f"{k} " + frame[k].astype("str") for k in spec.key if k in frame.columns]
    if not parts:
        return pd.Series(dtype="str")
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out


def unknown_ids(
    frame: pd.DataFrame, column: str, known: Collection[str], why: str, file: str, keys: pd.Series
) -> list[Problem]:
    """A problem for each row whose `column` holds an id outside `known` (`why` says where it was looked for)."""
    unknown = frame[column].notna() & ~frame[column].isin(known)
    return [
        Problem(file, int(i) + 1, column, f"unknown {column} {frame.loc[i, column]!r}: {why}", keys.get(i))
        for i in frame.index[unknown]
    ]


def validate_table(
    spec: TableSpec,
    raw: pd.DataFrame,
    file: str,
    folder: Path | None,
    known: Mapping[str, set[str]],
) -> tuple[pd.DataFrame, list[Problem], set[int]]:
    """Parse and check one table's raw rows. Returns the typed frame (all rows), problems and bad rows."""
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    if missing:
        probs = [Problem(file, None, name, "required column is missing") for name in missing]
        return pd.DataFrame(), probs, set(range(len(raw)))
    keys = key_text(spec, raw)
    parser = _Parser(file, folder, keys)
    typed = pd.DataFrame(index=raw.index)
    for col in spec.columns:
        source = raw[col.name] if col.name in raw.columns else pd.Series([None] * len(raw), index=raw.index)
        typed[col.name] = parser.parse(col, source)
    problems = parser.problems
    bad = set(parser.bad_rows)

    value_probs = _value_problems(spec, file, typed, keys)
    problems += value_probs
    bad |= {p.row - 1 for p in value_probs if p.row is not None}

    dup = typed.duplicated(list(spec.key), keep=False) & typed[list(spec.key)].notna().all(axis=1)
    for i in typed.index[dup]:
        first = int(typed.index[(typed[list(spec.key)] == typed.loc[i, list(spec.key)]).all(axis=1)][0])
        if first != i:
            problems.append(Problem(file, int(i) + 1, ", ".join(spec.key),
                                    f"duplicate key: same as row {first + 1}", keys.get(i)))
            bad.add(int(i))

    for column, parent, _parent_col in spec.references:
        unknown = unknown_ids(typed, column, known.get(parent, set()), f"not in {parent}", file, keys)
        problems += unknown
        bad |= {p.row - 1 for p in unknown if p.row is not None}

    for col in spec.columns:
        if col.form:
            ok, expected = _FORMS[col.form]
            values = typed[col.name]
            for i in typed.index[values.notna()]:
                if not ok(str(values[i])):
                    problems.append(Problem(file, int(i) + 1, col.name, f"{values[i]!r} is not {expected}",
                                            keys.get(i)))
                    bad.add(int(i))
        if col.on_the_hour:
            times = typed[col.name]
            off = times.notna() & (times != times.dt.floor("h"))
            for i in typed.index[off]:
                problems.append(Problem(file, int(i) + 1, col.name,
                                        f"{times[i]} is not on the hour (hourly rows start at HH:00:00)", keys.get(i)))
                bad.add(int(i))
    if "hour_start" in typed.columns and "boosted_at" in typed.columns:
        early = typed["hour_start"] < typed["boosted_at"].dt.floor("h")
        for i in typed.index[early]:
            problems.append(Problem(file, int(i) + 1, "hour_start",
                                    "hour_start is before the hour the boost started in (boosted_at)", keys.get(i)))
            bad.add(int(i))

    for start, end in (("boosted_at", "ended_at"), ("period_start", "period_end")):
        if start in typed.columns and end in typed.columns:
            backwards = typed[end] < typed[start]
            for i in typed.index[backwards]:
                problems.append(Problem(file, int(i) + 1, end, f"{end} is before {start}", keys.get(i)))
                bad.add(int(i))
    return typed, problems, bad


def _first_observed(metrics: pd.DataFrame | None) -> pd.Series:
    """Each post's earliest engagement snapshot in this batch (naive UTC, by post_id). Unreadable times are
    left out here: the metrics check reports them."""
    if metrics is None or not {"post_id", "observed_at"} <= set(metrics.columns) or metrics.empty:
        return pd.Series(dtype=DTYPES["time"])
    raw = metrics["observed_at"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        times = pd.to_datetime(raw, utc=True)
    else:
        times = pd.to_datetime(raw.astype("str").str.strip(), utc=True, format="ISO8601", errors="coerce")
    seen = pd.DataFrame({"post_id": metrics["post_id"].astype("str").str.strip(),
                         "observed_at": times.dt.tz_localize(None)}).dropna()
    return seen.groupby("post_id")["observed_at"].min()


def post_date_problems(
    posts: pd.DataFrame, file: str, keys: pd.Series, first_observed: pd.Series, received_at: pd.Timestamp | None
) -> list[Problem]:
    """Posts dated after their own first engagement snapshot, or after the moment the data was received.

    Either means a wrong clock or a wrong column (a post cannot be seen before it exists); stored as given,
    it would put the post's features in the future of every decision that uses them.
    """
    problems: list[Problem] = []
    posted = posts["posted_at"]
    first = pd.Series(first_observed.reindex(posts["post_id"]).to_numpy(), index=posts.index)
    for i in posts.index[posted.notna() & first.notna() & (posted > first)]:
        problems.append(Problem(file, int(i) + 1, "posted_at",
                                f"posted_at {posted[i]} is after the post's own first metrics snapshot "
                                f"(observed_at {first[i]})", keys.get(i)))
    if received_at is not None:
        limit = received_at.tz_convert("UTC").tz_localize(None) if received_at.tzinfo else received_at
        for i in posts.index[posted.notna() & (posted > limit)]:
            problems.append(Problem(file, int(i) + 1, "posted_at",
                                    f"posted_at {posted[i]} is after the time of this ingest ({limit} UTC)",
                                    keys.get(i)))
    return problems


def boost_date_problems(
    boosts: pd.DataFrame, file: str, keys: pd.Series, posted: pd.Series, received_at: pd.Timestamp | None,
    max_boost_hours: float | None,
) -> list[Problem]:
    """Boosts (spark_results or spark_hourly rows) that start before their post was published, after the
    data was received, or (hourly rows) more than `max_boost_hours` before the boost's first hourly row.

    Each is a wrong date: stored, it would put a boost before its post exists, in the future, or give the
    monitor a boost years long. `posted` maps post_id to posted_at (naive UTC) for the posts known.
    """
    problems: list[Problem] = []
    boosted = boosts["boosted_at"]
    published = pd.Series(posted.reindex(boosts["post_id"]).to_numpy(), index=boosts.index)
    for i in boosts.index[boosted.notna() & published.notna() & (boosted < published)]:
        problems.append(Problem(file, int(i) + 1, "boosted_at",
                                f"boosted_at {boosted[i]} is before its post was published (posted_at {published[i]})",
                                keys.get(i)))
    if received_at is not None:
        limit = received_at.tz_convert("UTC").tz_localize(None) if received_at.tzinfo else received_at
        for i in boosts.index[boosted.notna() & (boosted > limit)]:
            problems.append(Problem(file, int(i) + 1, "boosted_at",
                                    f"boosted_at {boosted[i]} is after the time of this ingest ({limit} UTC)",
                                    keys.get(i)))
    if max_boost_hours is not None and "hour_start" in boosts.columns and len(boosts):
        first = boosts.groupby(["post_id", "boosted_at"])["hour_start"].transform("min")
        gap = (first - boosted) / pd.Timedelta(hours=1)
        for i in boosts.index[gap.notna() & (gap > max_boost_hours)]:
            problems.append(Problem(
                file, int(i) + 1, "boosted_at",
                f"boosted_at {boosted[i]} is {gap[i]:,.0f} hours before the boost's first hourly row "
                f"({first[i]}); at most {max_boost_hours:g} (contract.max_boost_hours): check the date", keys.get(i)))
    return problems


def validate_frames(
    raw_tables: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    folder: Path | None = None,
    known: Mapping[str, set[str]] | None = None,
    received_at: pd.Timestamp | None = None,
    *,
    known_posted: pd.Series | None = None,
    max_boost_hours: float | None = None,
) -> CheckedTables:
    """Validate raw tables (as read from files or fetched from an API) against the contract.

    `known` holds ids already stored (for example creators in the warehouse) so that a folder with only
    new posts may name creators loaded earlier. Rows rejected in a parent table make their children's
    references unknown, so they are rejected too (and say why). `received_at` is when the data was
    gathered: a post dated after it (or after its own first metrics snapshot) is refused, and so is a
    boost. A boost may not start before its post (this batch's posts, else `known_posted`: post_id ->
    posted_at of the posts stored) or, with `max_boost_hours` (contract.max_boost_hours), more than that
    before its first hourly row.
    """
    known_ids: dict[str, set[str]] = {k: set(v) for k, v in (known or {}).items()}
    posted = known_posted if known_posted is not None else pd.Series(dtype=DTYPES["time"])
    first_observed = _first_observed(raw_tables.get("metrics"))
    tables: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    rejected_rows: list[dict[str, object]] = []
    for spec in TABLES:
        if spec.name not in raw_tables:
            continue
        raw = raw_tables[spec.name]
        file = files.get(spec.name, spec.name)
        typed, probs, bad = validate_table(spec, raw, file, folder, known_ids)
        if spec.name == "posts" and not typed.empty:
            dated = post_date_problems(typed, file, key_text(spec, raw), first_observed, received_at)
            probs += dated
            bad |= {p.row - 1 for p in dated if p.row is not None}
        if spec.name in {"spark_results", "spark_hourly"} and not typed.empty:
            dated = boost_date_problems(typed, file, key_text(spec, raw), posted, received_at, max_boost_hours)
            probs += dated
            bad |= {p.row - 1 for p in dated if p.row is not None}
        problems += probs
        reasons: dict[int, list[str]] = {}
        for p in probs:
            if p.row is not None:
                reasons.setdefault(p.row - 1, []).append(str(p))
        for i in sorted(bad):
            raw_row = {str(k): (None if pd.isna(v) else str(v)) for k, v in raw.iloc[i].items()} if i < len(raw) else {}
            rejected_rows.append({
                "file": file, "row": i + 1,
                "reasons": " | ".join(reasons.get(i, ["whole file rejected"])),
                "values": json.dumps(raw_row, ensure_ascii=False),
            })
        if typed.empty and len(raw):
            continue
        good = typed.drop(index=sorted(bad)) if bad else typed
        tables[spec.name] = good.reset_index(drop=True)
        if spec.name in {"creators", "posts"}:
            key = spec.key[0]
            known_ids.setdefault(spec.name, set()).update(good[key].dropna().tolist())
        if spec.name == "posts" and len(good):
            mine = good.dropna(subset=["posted_at"]).set_index("post_id")["posted_at"]
            posted = mine.combine_first(posted) if len(posted) else mine
    return CheckedTables(tables, problems, pd.DataFrame(rejected_rows))
