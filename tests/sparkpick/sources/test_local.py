"""The local-folder reader: every contract violation is named by file, row and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sparkpick.sources.local import read_folder
from tests.sparkpick.contract_folder import FILES, POST_A, POST_B, POST_C, replace_line, write_folder


def _messages(folder: Path) -> list[str]:
    return [str(p) for p in read_folder(folder).problems]


def test_valid_folder_reads_typed_tables(tmp_path: Path) -> None:
    data = read_folder(write_folder(tmp_path / "src"))
    assert data.ok, data.problems
    posts = data.tables["posts"]
    assert posts["post_id"].tolist()[0] == POST_A  # 19 digits survive exactly
    assert str(posts["posted_at"].dtype) == "datetime64[us]"
    # "+02:00" is converted to UTC; no offset means UTC already.
    parts = data.tables["partnerships"].set_index("creator_id")
    assert parts.loc["c3", "started_at"] == pd.Timestamp("2026-03-01T08:00:00")
    assert posts.loc[posts.post_id == POST_B, "video_path"].isna().all()
    assert Path(posts.loc[0, "video_path"]).is_absolute()
    assert data.tables["creators"]["is_brand_account"].tolist() == [True, False, False]
    assert "extra_column" not in data.tables["creators"].columns


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (replace_line("posts.csv", "post_id,advertiser_id", "id,advertiser_id"), "posts.csv, column 'post_id': required column is missing"),
        (replace_line("posts.csv", "2026-04-02T12:00:00Z", "yesterday"), "posts.csv, row 2, line 3 (post_id 7300000000000000002), column 'posted_at': unparseable time 'yesterday'"),
        (replace_line("metrics.csv", ",5000,", ",-5000,"), "metrics.csv, row 2, line 3 (post_id 7300000000000000001, observed_at 2026-04-02T12:00:00Z), column 'views'"),
        (replace_line("metrics.csv", "0.40", "1.40"), "column 'full_watch_rate': 1.4 must be between 0 and 1"),
        (replace_line("creators.csv", "c3,@li", "c2,@li"), "creators.csv, row 3, line 4 (creator_id c2), column 'creator_id': duplicate key: same as row 2"),
        (replace_line("posts.csv", "adv1,c3,", "adv1,c9,"), "posts.csv, row 3, line 4 (post_id 7300000000000000003), column 'creator_id': unknown creator_id 'c9': not in creators"),
        (replace_line("posts.csv", "videos/a.avi", "videos/missing.mp4"), "column 'video_path': video file 'videos/missing.mp4' does not exist"),
        (replace_line("posts.csv", "videos/a.avi", "../outside.mp4"), "column 'video_path': video path '../outside.mp4' points outside the folder"),
        (replace_line("posts.csv", ",requested,", ",pending,"), "column 'spark_auth_status': 'pending' is not one of none, requested, authorized, expired"),
        (replace_line("creators.csv", "true,ignored", "maybe,ignored"), "column 'is_brand_account': 'maybe' is not a boolean"),
        (replace_line("posts.csv", POST_A + ",adv1", "7.3e+18,adv1"), "looks like a number that went through a float"),
        (replace_line("spark_results.csv", "2026-04-12T00:00:00Z", "2026-04-01T00:00:00Z"), "column 'ended_at': ended_at is before boosted_at"),
        (replace_line("metrics.csv", ",5,2,", ",5,2.5,"), "column 'shares': 2.5 is not a whole number"),
        # a logged propensity: zero, negative, above one or unreadable, named by file, row and column
        (replace_line("spark_results.csv", ",25,0.6", ",25,0"), "spark_results.csv, row 1, line 2 (post_id "
         "7300000000000000001, boosted_at 2026-04-05T00:00:00Z), column 'boost_propensity': 0.0 must be above 0"),
        (replace_line("spark_results.csv", ",25,0.6", ",25,-0.2"), "row 1, line 2 (post_id 7300000000000000001, "
         "boosted_at 2026-04-05T00:00:00Z), column 'boost_propensity': -0.2 must be"),
        (replace_line("spark_results.csv", ",25,0.6", ",25,1.5"),
         "spark_results.csv, row 1, line 2 (post_id 7300000000000000001, boosted_at 2026-04-05T00:00:00Z), "
         "column 'boost_propensity': 1.5 must be between 0 and 1"),
        (replace_line("spark_results.csv", ",25,0.6", ",25,often"),
         "spark_results.csv, row 1, line 2 (post_id 7300000000000000001, boosted_at 2026-04-05T00:00:00Z), "
         "column 'boost_propensity': 'often' is not a number"),
    ],
)
def test_each_violation_is_named(tmp_path: Path, overrides: dict[str, str], expected: str) -> None:
    messages = _messages(write_folder(tmp_path / "src", overrides))
    assert any(expected in m for m in messages), messages


def test_missing_required_file_and_optional_file(tmp_path: Path) -> None:
    messages = _messages(write_folder(tmp_path / "src", drop=("metrics.csv",)))
    assert any("metrics.csv: required file is missing" in m for m in messages)
    assert read_folder(write_folder(tmp_path / "src2", drop=("partnerships.csv",))).ok


def test_parquet_is_accepted_instead_of_csv(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "src")
    creators = pd.read_csv(folder / "creators.csv", dtype=str)
    creators.to_parquet(folder / "creators.parquet")
    (folder / "creators.csv").unlink()
    data = read_folder(folder)
    assert data.ok, data.problems
    assert data.tables["creators"]["follower_count"].tolist() == [120000, 45000, 900]


def test_children_of_rejected_rows_are_rejected_with_a_reason(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "src", replace_line("posts.csv", "2026-04-01T12:00:00Z", "not-a-time"))
    data = read_folder(folder)
    assert POST_A not in data.tables["posts"]["post_id"].tolist()
    assert POST_A not in data.tables["metrics"]["post_id"].tolist()
    assert any("unknown post_id" in str(p) and p.file == "metrics.csv" for p in data.problems)
    assert set(data.rejected["file"]) >= {"posts.csv", "metrics.csv", "spark_results.csv"}


def test_a_video_url_is_accepted_and_an_unreachable_one_is_named_per_post(tmp_path: Path) -> None:
    clip = tmp_path / "elsewhere" / "b.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"not checked here, only reachable")
    rows = replace_line("posts.csv", "honest review, with a comma\",,", f"honest review, with a comma\",{clip.as_uri()},")
    rows["posts.csv"] = rows["posts.csv"].replace("<script>alert(1)</script>,,", "<script>alert(1)</script>,file:///nonexistent/c.mp4,")
    data = read_folder(write_folder(tmp_path / "src", rows))
    posts = data.tables["posts"].set_index("post_id")
    assert posts.loc[POST_B, "video_path"] == clip.as_uri()  # kept as the URL: workers read it where they run
    problems = [str(p) for p in data.problems if p.column == "video_path"]
    assert len(problems) == 1 and POST_C in problems[0]
    assert "column 'video_path': video URL unreachable: file:///nonexistent/c.mp4 does not exist" in problems[0]


def test_a_column_named_twice_is_refused_with_file_and_column(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "src")
    posts = folder / "posts.csv"
    lines = posts.read_text(encoding="utf-8").splitlines()
    # a second post_id column with other values: pandas would silently load the first one
    lines = [lines[0] + ",post_id"] + [f"{line},999{i}" for i, line in enumerate(lines[1:])]
    posts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    messages = _messages(folder)
    assert any("posts.csv" in m and "'post_id' more than once (columns 1, 9)" in m for m in messages), messages


def test_a_post_dated_after_its_own_metrics_is_refused_with_its_snapshots(tmp_path: Path) -> None:
    # POST_B's first snapshot is 2026-04-03: a post dated 2099 was seen before it existed.
    folder = write_folder(tmp_path / "src", replace_line("posts.csv", "2026-04-02T12:00:00Z", "2099-01-01T00:00:00Z"))
    data = read_folder(folder)
    messages = [str(p) for p in data.problems]
    expected = ("posts.csv, row 2, line 3 (post_id 7300000000000000002), column 'posted_at': posted_at 2099-01-01 "
                "00:00:00 is after the post's own first metrics snapshot (observed_at 2026-04-03 12:00:00)")
    assert any(expected in m for m in messages), messages
    assert POST_B not in data.tables["posts"]["post_id"].tolist()
    assert POST_B not in data.tables["metrics"]["post_id"].tolist()  # its snapshots go with it, and say why
    assert POST_A in data.tables["posts"]["post_id"].tolist()  # the rest of the batch is untouched


def test_a_post_dated_after_the_ingest_is_refused(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "src")
    assert read_folder(folder, received_at=pd.Timestamp("2026-05-01T00:00:00Z")).ok
    # Received at 06:00 UTC on April 2nd: POST_B (12:00 that day) and POST_C (the 3rd) are in the future.
    data = read_folder(folder, received_at=pd.Timestamp("2026-04-02T08:00:00+02:00"))
    late = sorted(p.row for p in data.problems if p.column == "posted_at")
    assert late == [2, 3], data.problems
    assert any("is after the time of this ingest (2026-04-02 06:00:00 UTC)" in str(p) for p in data.problems)


_SPEND = ("spark_results.csv", "500.0,100000,")
_IMPRESSIONS = ("spark_results.csv", ",100000,32000,")


@pytest.mark.parametrize(
    ("file", "old", "new", "column", "expected"),
    [
        (*_SPEND, "inf,100000,", "spend", "'inf' is not a finite number"),
        (*_SPEND, "Infinity,100000,", "spend", "'Infinity' is not a finite number"),
        (*_SPEND, "1e309,100000,", "spend", "'1e309' is not a finite number"),
        (*_SPEND, "-inf,100000,", "spend", "'-inf' is not a finite number"),
        (*_SPEND, "NaN,100000,", "spend", "'NaN' is not a number"),
        (*_SPEND, "1e300,100000,", "spend", "'1e300' is out of range"),
        (*_IMPRESSIONS, ",inf,32000,", "impressions", "'inf' is not a finite number"),
        (*_IMPRESSIONS, ",1e30,32000,", "impressions", "'1e30' is out of range"),
        (*_IMPRESSIONS, f",{2**63},32000,", "impressions", f"'{2**63}' is out of range"),
        (*_IMPRESSIONS, ",1000000000001,32000,", "impressions", "'1000000000001' is out of range"),
        (*_IMPRESSIONS, ",-1,32000,", "impressions", "must not be negative"),
        (*_IMPRESSIONS, ",nan,32000,", "impressions", "'nan' is not a number"),
        ("metrics.csv", ",4.5,0.20,", ",inf,0.20,", "avg_watch_s", "'inf' is not a finite number"),
        ("metrics.csv", ",4.5,0.20,", ",4.5,NaN,", "full_watch_rate", "'NaN' is not a number"),
        ("creators.csv", ",120000,", ",1e40,", "follower_count", "'1e40' is out of range"),
        ("baselines.csv", ",20000,300", ",20000,Infinity", "conversions", "'Infinity' is not a finite number"),
    ],
)
def test_a_number_that_is_not_finite_or_not_real_is_named_and_its_row_set_aside(
    tmp_path: Path, file: str, old: str, new: str, column: str, expected: str
) -> None:
    data = read_folder(write_folder(tmp_path / "src", replace_line(file, old, new)))
    named = [str(p) for p in data.problems if p.file == file and p.row == 1 and p.column == column]
    assert any(expected in m for m in named), [str(p) for p in data.problems]
    # The row is set aside, never half-typed: what is kept holds only finite numbers.
    assert len(data.tables[file.removesuffix(".csv")]) == len(FILES[file].strip().splitlines()) - 2
    assert file in set(data.rejected["file"])


def test_non_finite_numbers_in_a_parquet_file_are_named(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "src")
    results = pd.read_csv(folder / "spark_results.csv", dtype=str)
    results["spend"] = [float("inf"), 300.0]
    results["impressions"] = pd.array([2**63 - 1, 60000], dtype="int64")
    results.to_parquet(folder / "spark_results.parquet")
    (folder / "spark_results.csv").unlink()
    problems = [str(p) for p in read_folder(folder).problems]
    assert any("row 1" in m and "'spend': inf is not a finite number" in m for m in problems), problems
    assert any("row 1" in m and "'impressions'" in m and "is out of range" in m for m in problems), problems


def test_a_past_boost_before_its_post_or_after_the_ingest_is_refused(tmp_path: Path) -> None:
    # POST_A was published 2026-04-01T12:00Z; its boost typed as 2016.
    folder = write_folder(tmp_path / "src", replace_line("spark_results.csv", "2026-04-05T00:00:00Z", "2016-04-05T00:00:00Z"))
    problems = [str(p) for p in read_folder(folder).problems]
    assert any("spark_results.csv, row 1" in m and "column 'boosted_at': boosted_at 2016-04-05 00:00:00 is before its "
               "post was published (posted_at 2026-04-01 12:00:00)" in m for m in problems), problems
    data = read_folder(write_folder(tmp_path / "ok"), received_at=pd.Timestamp("2026-04-05T12:00:00Z"))
    late = [str(p) for p in data.problems if p.column == "boosted_at"]
    assert len(late) == 1 and "row 2" in late[0] and "is after the time of this ingest" in late[0], late
