"""spark_hourly in the data contract: an optional file, validated like every table, upserted by boost and hour."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from flows.ingest import ingest_folder
from sparkpick.config import Settings
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.warehouse import Warehouse
from tests.sparkpick.contract_folder import POST_A, POST_B, write_folder

HEADER = "post_id,boosted_at,hour_start,spend,impressions,views_2s,views_6s,likes,comments,shares,clicks,conversions\n"
# POST_A's boost started at 2026-04-05T00:00Z (finished); POST_B has a live boost starting 2026-04-20T09:30Z.
ROWS = (
    f"{POST_A},2026-04-05T00:00:00Z,2026-04-05T00:00:00Z,20.0,4000,1300,600,40,2,1,50,1\n"
    f"{POST_A},2026-04-05T00:00:00Z,2026-04-05T01:00:00Z,22.5,4100,1250,610,38,1,2,48,0\n"
    f"{POST_B},2026-04-20T09:30:00Z,2026-04-20T09:00:00Z,5.0,900,300,120,9,0,0,10,0\n"
    f"{POST_B},2026-04-20T09:30:00Z,2026-04-20T10:00:00+00:00,12.0,0,0,0,0,0,0,0,0\n"  # spend, no impressions: fine
)


def hourly(rows: str = ROWS) -> dict[str, str]:
    return {"spark_hourly.csv": HEADER + rows}


def test_hourly_rows_are_loaded_and_a_missing_file_is_no_live_boost(tmp_path: Path, home: Home, settings: Settings) -> None:
    first = ingest_folder(home, settings, write_folder(tmp_path / "none"))
    assert "spark_hourly" not in first.counts or first.counts["spark_hourly"].new == 0
    summary = ingest_folder(home, settings, write_folder(tmp_path / "src", hourly()))
    assert summary.counts["spark_hourly"].new == 4
    with Warehouse(home.warehouse, read_only=True) as wh:
        rows = wh.read("spark_hourly").sort_values(["post_id", "hour_start"])
    assert rows["post_id"].tolist() == [POST_A, POST_A, POST_B, POST_B]  # 19-digit ids intact
    assert str(rows["hour_start"].dtype).startswith("datetime64") and rows["hour_start"].dt.tz is None
    assert rows["spend"].tolist() == [20.0, 22.5, 5.0, 12.0]


def test_a_re_exported_hour_replaces_the_old_one(tmp_path: Path, home: Home, settings: Settings) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src", hourly()))
    # TikTok attributes conversions late: the same hour comes back with more of them, and a new hour.
    later = ROWS.replace(",48,0\n", ",48,3\n") + f"{POST_B},2026-04-20T09:30:00Z,2026-04-20T11:00:00Z,9.0,700,200,90,5,0,0,7,1\n"
    summary = ingest_folder(home, settings, write_folder(tmp_path / "src2", hourly(later)))
    counts = summary.counts["spark_hourly"]
    assert (counts.new, counts.changed, counts.unchanged) == (1, 1, 3)
    with Warehouse(home.warehouse, read_only=True) as wh:
        rows = wh.read("spark_hourly")
    assert len(rows) == 5
    hour = rows[(rows["post_id"] == POST_A) & (rows["hour_start"] == pd.Timestamp("2026-04-05 01:00"))]
    assert hour["conversions"].tolist() == [3]


@pytest.mark.parametrize(
    ("bad_row", "where", "what"),
    [
        (f"{POST_A},2026-04-05T00:00:00Z,2026-04-05T02:00:00Z,-1.0,10,1,1,0,0,0,0,0\n", "column 'spend'", "negative"),
        (f"{POST_A},2026-04-05T00:00:00Z,2026-04-05T02:00:00Z,1.0,10,1,1,0,0,0,0,-2\n", "column 'conversions'", "negative"),
        (f"{POST_A},2026-04-05T00:00:00Z,2026-04-05T02:30:00Z,1.0,10,1,1,0,0,0,0,0\n", "column 'hour_start'", "not on the hour"),
        (f"{POST_A},2026-04-05T00:00:00Z,2026-04-04T23:00:00Z,1.0,10,1,1,0,0,0,0,0\n", "column 'hour_start'", "before the hour the boost started"),
        ("999,2026-04-05T00:00:00Z,2026-04-05T02:00:00Z,1.0,10,1,1,0,0,0,0,0\n", "column 'post_id'", "unknown post_id '999'"),
        (f"{POST_A},2026-04-05T00:00:00Z,2026-04-05T01:00:00+00:00,1.0,10,1,1,0,0,0,0,0\n", "column 'post_id, boosted_at, hour_start'", "duplicate key"),
        (f"{POST_A},2026-04-05T00:00:00Z,yesterday,1.0,10,1,1,0,0,0,0,0\n", "column 'hour_start'", "unparseable time"),
    ],
)
def test_bad_hourly_rows_write_nothing(tmp_path: Path, home: Home, settings: Settings, bad_row: str, where: str, what: str) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src", hourly()))
    digest = hashlib.sha256(home.warehouse.read_bytes()).hexdigest()
    with pytest.raises(InputError) as caught:
        ingest_folder(home, settings, write_folder(tmp_path / "bad", hourly(ROWS + bad_row)))
    message = str(caught.value)
    assert "spark_hourly.csv, row 5, line 6" in message and where in message and what in message, message
    assert "nothing was written" in message
    assert hashlib.sha256(home.warehouse.read_bytes()).hexdigest() == digest


def test_missing_hourly_column_is_named(tmp_path: Path, home: Home, settings: Settings) -> None:
    lines = [line.split(",") for line in (HEADER + ROWS).splitlines()]
    text = "".join(",".join(cells[:6] + cells[7:]) + "\n" for cells in lines)  # without views_6s
    with pytest.raises(InputError, match=r"spark_hourly.csv, column 'views_6s': required column is missing"):
        ingest_folder(home, settings, write_folder(tmp_path / "src", {"spark_hourly.csv": text}))


def test_hourly_parquet_is_accepted(tmp_path: Path, home: Home, settings: Settings) -> None:
    folder = write_folder(tmp_path / "src")
    frame = pd.read_csv(Path(write_folder(tmp_path / "csv", hourly())) / "spark_hourly.csv", dtype=str)
    frame.to_parquet(folder / "spark_hourly.parquet")
    assert ingest_folder(home, settings, folder).counts["spark_hourly"].new == 4


# POST_A was published 2026-04-01T12:00Z, POST_B 2026-04-02T12:00Z (tests/sparkpick/contract_folder.py).
@pytest.mark.parametrize(
    ("bad_row", "what"),
    [
        # a year typo: 2016 for 2026, before the post existed (and years before its hours)
        (f"{POST_B},2016-04-20T09:00:00Z,2026-04-20T09:00:00Z,1.0,10,1,1,0,0,0,0,0\n",
         "boosted_at 2016-04-20 09:00:00 is before its post was published (posted_at 2026-04-02 12:00:00)"),
        # after the post, but months before its first hour
        (f"{POST_B},2026-04-03T00:00:00Z,2026-08-01T00:00:00Z,1.0,10,1,1,0,0,0,0,0\n",
         "boosted_at 2026-04-03 00:00:00 is 2,880 hours before the boost's first hourly row (2026-08-01 00:00:00); "
         "at most 2160 (contract.max_boost_hours)"),
        # in the future of the ingest
        (f"{POST_B},2099-01-01T00:00:00Z,2099-01-01T00:00:00Z,1.0,10,1,1,0,0,0,0,0\n",
         "boosted_at 2099-01-01 00:00:00 is after the time of this ingest"),
    ],
)
def test_a_boost_dated_before_its_post_after_the_ingest_or_long_before_its_hours_is_refused(
    tmp_path: Path, home: Home, settings: Settings, bad_row: str, what: str
) -> None:
    with pytest.raises(InputError) as caught:
        ingest_folder(home, settings, write_folder(tmp_path / "bad", hourly(ROWS + bad_row)))
    message = str(caught.value)
    assert "spark_hourly.csv, row 5, line 6" in message and "column 'boosted_at'" in message, message
    assert what in message, message
    summary = ingest_folder(home, settings, write_folder(tmp_path / "bad", hourly(ROWS + bad_row)), skip_invalid=True)
    assert summary.counts["spark_hourly"].new == 4  # the good rows load; the bad one is set aside


def test_a_boost_of_a_post_stored_earlier_is_checked_against_its_publication(
    tmp_path: Path, home: Home, settings: Settings
) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src"))
    only_hourly = write_folder(tmp_path / "next", hourly(
        f"{POST_B},2026-03-20T09:00:00Z,2026-04-20T09:00:00Z,1.0,10,1,1,0,0,0,0,0\n"))
    with pytest.raises(InputError, match=r"boosted_at 2026-03-20 09:00:00 is before its post was published"):
        ingest_folder(home, settings, only_hourly)


def test_max_boost_hours_is_a_setting(tmp_path: Path, home: Home, settings: Settings) -> None:
    from sparkpick.config import with_overrides

    late = f"{POST_B},2026-04-03T00:00:00Z,2026-04-10T00:00:00Z,1.0,10,1,1,0,0,0,0,0\n"  # 168 h before its hour
    assert ingest_folder(home, settings, write_folder(tmp_path / "a", hourly(ROWS + late))).counts["spark_hourly"].new == 5
    strict = with_overrides(settings, {"contract": {"max_boost_hours": 100}})
    with pytest.raises(InputError, match=r"168 hours before the boost's first hourly row"):
        ingest_folder(home, strict, write_folder(tmp_path / "b", hourly(ROWS + late)))
