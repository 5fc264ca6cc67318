"""CSV files a marketer opens in a spreadsheet: hostile text never runs as a formula, numbers stay numbers."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sparkpick.report import ReportMeta, write_report
from sparkpick.spreadsheet import neutralise_cell, write_csv
from tests.sparkpick.test_report import AS_OF, make_shortlist

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1", "\uff1d1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_is_neutralised(text: str) -> None:
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-12", "+3.5", "-0.25", "1e-3", "plain caption", "", None, -4, 2.5])
def test_numbers_and_plain_text_are_left_alone(value: object) -> None:
    assert neutralise_cell(value) == value


def _cells(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_shortlist_csv_neutralises_captions_and_handles_but_not_the_html(tmp_path: Path) -> None:
    shortlist = make_shortlist(advertisers=1, k=len(HOSTILE))
    shortlist["caption"] = HOSTILE
    shortlist["creator_handle"] = list(reversed(HOSTILE))
    shortlist["predicted_uplift"] = -0.5  # a negative number is not a formula
    meta = ReportMeta(as_of=AS_OF.to_pydatetime(), ran_at=datetime(2026, 11, 1, 2, 0), model_version="3",
                      candidates_considered=len(shortlist), polish_ad_threshold=60.0, advertisers=1, top_k=10)
    paths = write_report(shortlist, meta, tmp_path / "reports", "2026-11-01")
    rows = _cells(paths.csv)
    assert len(rows) == len(HOSTILE)
    captions = {r["caption"] for r in rows}
    assert captions == {"'" + t for t in HOSTILE}
    assert {r["creator_handle"] for r in rows} == {"'" + t for t in HOSTILE}
    for row in rows:
        assert not row["caption"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert float(row["predicted_uplift"]) == -0.5 and row["predicted_uplift"].startswith("-")
    # pandas reads the numbers back as numbers
    back = pd.read_csv(paths.csv)
    assert pd.api.types.is_float_dtype(back["predicted_uplift"]) and pd.api.types.is_integer_dtype(back["rank"])
    html = paths.html.read_text(encoding="utf-8")
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;click&#34;)" in html or "=HYPERLINK(&quot;" in html
    assert "'=HYPERLINK" not in html


def test_any_csv_written_for_a_person_is_neutralised(tmp_path: Path) -> None:
    frame = pd.DataFrame({"creator_handle": pd.Series(["@evil", "fine"], dtype="str"), "spend": [-3.0, 4.0]})
    write_csv(tmp_path / "out" / "t.csv", frame)
    rows = _cells(tmp_path / "out" / "t.csv")
    assert [r["creator_handle"] for r in rows] == ["'@evil", "fine"]
    assert [r["spend"] for r in rows] == ["-3.0", "4.0"]


def test_every_time_is_written_in_full_iso_8601_with_its_offset(tmp_path: Path) -> None:
    # pandas writes a column whose times all fall at midnight as bare dates: one folder of monitor files
    # then parsed with mixed formats.
    frame = pd.DataFrame({
        "boosted_at": pd.to_datetime(["2026-11-01T00:00:00", "2026-11-02T00:00:00"]),
        "as_of": pd.to_datetime(["2026-11-03T06:30:00", None]),
        "aware": pd.to_datetime(["2026-11-01T01:00:00+01:00", "2026-11-02T00:00:00+00:00"], utc=True),
        "mixed": [pd.Timestamp("2026-11-01"), "text"],
    })
    path = tmp_path / "times.csv"
    write_csv(path, frame)
    rows = _cells(path)
    assert [r["boosted_at"] for r in rows] == ["2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"]
    assert [r["as_of"] for r in rows] == ["2026-11-03T06:30:00+00:00", ""]
    assert [r["aware"] for r in rows] == ["2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"]
    assert [r["mixed"] for r in rows] == ["2026-11-01T00:00:00+00:00", "text"]
    back = pd.read_csv(path, parse_dates=["boosted_at"])
    assert str(back["boosted_at"].dt.tz) == "UTC"


def test_a_folder_as_the_csv_path_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_csv(target, pd.DataFrame({"a": [1]}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not list(target.iterdir())
