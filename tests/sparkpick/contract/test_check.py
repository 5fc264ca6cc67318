"""The contract check through its public functions: a valid batch passes whole, and each bad value gives
exactly one problem naming the file, the row and the column, rejects only its own row, and says why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sparkpick.contract import (
    MAX_PROBLEMS_SHOWN,
    SPECS,
    CheckedTables,
    Problem,
    key_text,
    problem_list,
    unknown_ids,
    validate_frames,
    validate_table,
)

POST_1, POST_2 = "7300000000000000001", "7300000000000000002"


def raw_batch() -> dict[str, pd.DataFrame]:
    """A small valid batch as a CSV reader gives it: every cell text, two rows a table where it matters."""
    rows: dict[str, list[dict[str, str]]] = {
        "advertisers": [{"advertiser_id": "adv1", "name": "Brand", "currency": "EUR", "timezone": "Europe/Berlin"}],
        "creators": [
            {"creator_id": "c1", "handle": "@brand", "follower_count": "1200", "is_brand_account": "true"},
            {"creator_id": "c2", "handle": "@maya", "follower_count": "45", "is_brand_account": "no"},
        ],
        "partnerships": [
            {"advertiser_id": "adv1", "creator_id": "c2", "kind": "ongoing", "started_at": "2026-01-01",
             "usage_rights": "1"},
        ],
        "posts": [
            {"post_id": pid, "advertiser_id": "adv1", "creator_id": cid, "posted_at": f"2026-04-0{i}T12:00:00Z",
             "caption": "hello", "video_path": "", "spark_auth_status": "authorized",
             "spark_auth_expires_at": ""}
            for i, (pid, cid) in enumerate(((POST_1, "c1"), (POST_2, "c2")), start=1)
        ],
        "metrics": [
            {"post_id": pid, "observed_at": "2026-04-05T00:00:00Z", "views": "1000", "likes": "50",
             "comments": "5", "shares": "2", "avg_watch_s": "4.5", "full_watch_rate": "0.2", "reach": ""}
            for pid in (POST_1, POST_2)
        ],
        "spark_results": [
            {"post_id": pid, "boosted_at": "2026-04-06T00:00:00Z", "ended_at": "2026-04-13T00:00:00Z",
             "spend": "500", "impressions": "100000", "views_2s": "32000", "views_6s": "15000", "likes": "900",
             "comments": "40", "shares": "30", "clicks": "1200", "conversions": "25", "boost_propensity": "0.5"}
            for pid in (POST_1, POST_2)
        ],
        "baselines": [
            {"advertiser_id": "adv1", "period_start": f"2026-0{m}-01", "period_end": f"2026-0{m}-28",
             "spend": "10000", "impressions": "2000000", "views_2s": "600000", "likes": "8000", "comments": "300",
             "shares": "200", "clicks": "20000", "conversions": "300"}
            for m in (3, 4)
        ],
        "spark_hourly": [
            {"post_id": POST_1, "boosted_at": "2026-04-06T00:00:00Z", "hour_start": f"2026-04-06T0{h}:00:00Z",
             "spend": "10", "impressions": "1000", "views_2s": "300", "views_6s": "150", "likes": "9",
             "comments": "1", "shares": "1", "clicks": "12", "conversions": "1"}
            for h in (0, 1)
        ],
    }
    return {name: pd.DataFrame(table, dtype="str") for name, table in rows.items()}


FILES = {name: f"{name}.csv" for name in SPECS}
RECEIVED = pd.Timestamp("2026-05-01T00:00:00Z")


def check(raw: dict[str, pd.DataFrame], **kwargs: Any) -> CheckedTables:
    return validate_frames(raw, FILES, received_at=RECEIVED, **kwargs)


def test_a_valid_batch_passes_whole_and_typed() -> None:
    raw = raw_batch()
    result = check(raw)
    assert result.ok, problem_list(result.problems)
    assert result.rejected.empty
    assert {name: len(t) for name, t in result.tables.items()} == {name: len(t) for name, t in raw.items()}
    posts = result.tables["posts"]
    assert posts["post_id"].tolist() == [POST_1, POST_2]  # 19-digit ids kept exactly, as text
    assert str(posts["posted_at"].dtype) == "datetime64[us]"
    assert result.tables["creators"]["is_brand_account"].tolist() == [True, False]
    assert str(result.tables["metrics"]["views"].dtype) == "Int64"
    assert result.tables["metrics"]["reach"].isna().all()  # an optional count may be empty


@dataclass(frozen=True)
class Bad:
    table: str
    column: str
    value: str
    says: str  # a fragment of the one problem's message
    row: int = 2  # 1-based data row changed
    named: str = ""  # the column the problem names, when not `column` (a key names all its columns)


BAD_VALUES = [
    Bad("creators", "follower_count", "lots", "'lots' is not a number"),
    Bad("creators", "follower_count", "12.5", "12.5 is not a whole number"),
    Bad("creators", "follower_count", "-3", "must not be negative"),
    Bad("creators", "follower_count", "inf", "is not a finite number"),
    Bad("creators", "follower_count", "1e13", "is out of range"),
    Bad("creators", "is_brand_account", "maybe", "is not a boolean"),
    Bad("creators", "handle", " ", "missing value"),
    Bad("posts", "post_id", "7.3e+18", "went through a float"),
    Bad("posts", "posted_at", "yesterday", "unparseable time 'yesterday'"),
    Bad("posts", "spark_auth_status", "approved", "'approved' is not one of none, requested, authorized, expired"),
    Bad("posts", "posted_at", "2026-04-06T00:00:00Z", "after the post's own first metrics snapshot"),
    Bad("metrics", "full_watch_rate", "1.5", "must be between 0 and 1"),
    Bad("metrics", "observed_at", "2026-04-05T00:00:00+00:00", "duplicate key: same as row 1",
        named="post_id, observed_at"),
    Bad("spark_results", "ended_at", "2026-04-01T00:00:00Z", "ended_at is before boosted_at"),
    Bad("spark_results", "boost_propensity", "0", "must be above 0"),
    Bad("baselines", "period_end", "2026-01-01", "period_end is before period_start"),
    Bad("spark_hourly", "hour_start", "2026-04-06T01:30:00Z", "is not on the hour"),
    Bad("advertisers", "currency", "euro", "is not a 3-letter ISO 4217 currency code", row=1),
    Bad("advertisers", "timezone", "Mars/Olympus", "is not an IANA time zone", row=1),
    Bad("partnerships", "kind", "forever", "is not one of own, ongoing, one_off", row=1),
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda b: f"{b.table}.{b.column}={b.value}")
def test_one_bad_value_is_one_problem_naming_file_row_and_column(bad: Bad) -> None:
    raw = raw_batch()
    raw[bad.table].loc[bad.row - 1, bad.column] = bad.value
    if bad.table == "metrics" and bad.says.startswith("duplicate"):
        raw["metrics"].loc[1, "post_id"] = POST_1
    result = check(raw)

    file = f"{bad.table}.csv"
    own = [p for p in result.problems if p.file == file]
    assert len(own) == 1, problem_list(result.problems)
    problem = own[0]
    assert (problem.row, problem.column) == (bad.row, bad.named or bad.column)
    assert bad.says in problem.message
    assert str(problem).startswith(f"{file}, row {bad.row}, line {bad.row + 1}")
    # Only that row of the file is rejected, with the problem as its reason; rows that name it in other
    # tables (a post of a rejected creator) are refused as unknown, and nothing else is.
    rejected = result.rejected[result.rejected["file"] == file]
    assert rejected["row"].tolist() == [bad.row]
    assert bad.says in rejected["reasons"].iloc[0]
    assert len(result.tables[bad.table]) == len(raw[bad.table]) - 1
    assert all(p.message.startswith("unknown ") for p in result.problems if p.file != file)


def test_a_missing_required_column_rejects_the_file_and_names_the_column() -> None:
    raw = raw_batch()
    raw["baselines"] = raw["baselines"].drop(columns=["spend"])
    result = check(raw)
    assert [(p.file, p.row, p.column, p.message) for p in result.problems] == [
        ("baselines.csv", None, "spend", "required column is missing")
    ]
    assert "baselines" not in result.tables
    assert result.rejected["reasons"].tolist() == ["whole file rejected"] * 2
    assert str(result.problems[0]) == "baselines.csv, column 'spend': required column is missing"


def test_a_rejected_parent_rejects_its_children_and_says_why() -> None:
    raw = raw_batch()
    raw["creators"].loc[1, "follower_count"] = "many"
    result = check(raw)
    unknown = [p for p in result.problems if p.message.startswith("unknown creator_id")]
    assert {(p.file, p.row, p.column) for p in unknown} == {("partnerships.csv", 1, "creator_id"),
                                                           ("posts.csv", 2, "creator_id")}
    assert all("'c2': not in creators" in p.message for p in unknown)
    # POST_2 is gone, so its metrics and boosts are refused too; POST_1's rows stay.
    assert result.tables["metrics"]["post_id"].tolist() == [POST_1]
    assert result.tables["spark_results"]["post_id"].tolist() == [POST_1]


def test_ids_stored_earlier_count_as_known() -> None:
    raw = {"posts": raw_batch()["posts"]}
    assert check(raw, known={"creators": {"c1", "c2"}}).ok
    result = check(raw, known={"creators": {"c1"}})
    assert [(p.row, p.column) for p in result.problems] == [(2, "creator_id")]


def test_rows_dated_after_the_data_was_received_are_refused() -> None:
    raw = raw_batch()
    raw["spark_results"].loc[1, ["boosted_at", "ended_at"]] = ["2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z"]
    result = check(raw)
    assert [(p.file, p.row, p.column) for p in result.problems] == [("spark_results.csv", 2, "boosted_at")]
    assert "after the time of this ingest (2026-05-01 00:00:00 UTC)" in result.problems[0].message
    assert validate_frames(raw, FILES).ok  # no receipt time, no such check
    early = validate_frames(raw_batch(), FILES, received_at=pd.Timestamp("2026-04-01T18:00:00"))
    assert ("posts.csv", 2, "posted_at") in [(p.file, p.row, p.column) for p in early.problems]


def test_a_boost_of_a_stored_post_is_checked_against_that_posts_date() -> None:
    raw = {"spark_results": raw_batch()["spark_results"]}
    stored = pd.Series(pd.to_datetime(["2026-04-07", "2026-04-01"]).astype("datetime64[us]"),
                       index=[POST_1, POST_2])
    result = check(raw, known={"posts": {POST_1, POST_2}}, known_posted=stored)
    assert [(p.file, p.row, p.column) for p in result.problems] == [("spark_results.csv", 1, "boosted_at")]


def test_a_boost_far_before_its_first_hourly_row_is_refused_only_with_a_limit() -> None:
    raw = raw_batch()
    raw["spark_hourly"]["boosted_at"] = "2026-04-02T00:00:00Z"  # 96 hours before its first hourly row
    assert check(raw).ok
    assert check(raw, max_boost_hours=96).ok
    result = check(raw, max_boost_hours=48)
    assert {(p.file, p.column) for p in result.problems} == {("spark_hourly.csv", "boosted_at")}
    assert [p.row for p in result.problems] == [1, 2]
    assert "contract.max_boost_hours" in result.problems[0].message


def test_video_paths_resolve_inside_the_folder_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"not empty")
    raw = raw_batch()
    raw["posts"].loc[0, "video_path"] = "videos/a.mp4"
    raw["posts"].loc[1, "video_path"] = "../outside.mp4"
    result = validate_frames(raw, FILES, folder=tmp_path, received_at=RECEIVED)
    posts = [p for p in result.problems if p.file == "posts.csv"]
    assert [(p.row, p.column) for p in posts] == [(2, "video_path")]
    assert "points outside the folder" in posts[0].message
    assert result.tables["posts"]["video_path"].tolist() == [str((tmp_path / "videos" / "a.mp4").resolve())]

    raw["posts"].loc[1, "video_path"] = "videos/missing.mp4"
    result = validate_frames(raw, FILES, folder=tmp_path, received_at=RECEIVED)
    assert [p.message for p in result.problems if p.file == "posts.csv"] == [
        "video file 'videos/missing.mp4' does not exist"
    ]


def test_validate_table_returns_every_row_typed_with_the_bad_ones_named() -> None:
    raw = raw_batch()["creators"]
    raw.loc[0, "follower_count"] = "x"
    typed, problems, bad = validate_table(SPECS["creators"], raw, "creators.csv", None, {})
    assert len(typed) == 2 and bad == {0}
    assert [str(p) for p in problems] == [
        "creators.csv, row 1, line 2 (creator_id c1), column 'follower_count': 'x' is not a number"
    ]


def test_a_problem_says_where_in_words() -> None:
    assert str(Problem("posts.csv", 3, "posted_at", "bad", "post_id 7")) == (
        "posts.csv, row 3, line 4 (post_id 7), column 'posted_at': bad"
    )
    assert str(Problem("TikTok /post/list/", 3, None, "bad")) == "TikTok /post/list/, row 3: bad"


def test_problem_list_shows_at_most_the_limit_and_counts_the_rest() -> None:
    problems = [Problem("f.csv", i, "c", "bad") for i in range(1, MAX_PROBLEMS_SHOWN + 6)]
    text = problem_list(problems)
    assert text.count("\n  - ") == MAX_PROBLEMS_SHOWN - 1
    assert text.endswith("\n  ... and 5 more")
    assert problem_list(problems[:2]).count("  - ") == 2


def test_key_text_and_unknown_ids_name_the_row() -> None:
    frame = pd.DataFrame({"advertiser_id": ["a", "b"], "creator_id": ["c1", "zz"]})
    keys = key_text(SPECS["partnerships"], frame)
    assert keys.tolist() == ["advertiser_id a, creator_id c1", "advertiser_id b, creator_id zz"]
    found = unknown_ids(frame, "creator_id", {"c1"}, "not in creators", "partnerships.csv", keys)
    assert [str(p) for p in found] == [
        "partnerships.csv, row 2, line 3 (advertiser_id b, creator_id zz), column 'creator_id': "
        "unknown creator_id 'zz': not in creators"
    ]
