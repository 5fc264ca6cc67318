"""The contract check: raw tables (from a folder or an API) parsed and validated against the contract.

Nothing is written here. `validate_frames` returns the valid rows, typed, and every problem found, each
naming the file, the row and the column. Parsing is ours (`parse.py`, so that a bad value gets a precise
message); value checks (ranges, allowed values, unique keys) are pandera schemas built from the contract;
dates that cannot be right are in `dates.py`, and a problem and how it is listed in `problems.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import pandera.pandas as pa

from sparkpick.contract.dates import boost_date_problems, first_observed_times, post_date_problems
from sparkpick.contract.parse import ColumnParser
from sparkpick.contract.problems import CheckedTables, Problem, key_text, unknown_ids
from sparkpick.contract.tables import DTYPES, TABLES, TableSpec


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
    parser = ColumnParser(file, folder, keys)
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
    first_observed = first_observed_times(raw_tables.get("metrics"))
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
