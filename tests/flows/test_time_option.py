"""One parser for every time option (`--as-of`, `--until`, a flow's `as_of`): real times in a sane window."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.invocation import time_option
from sparkpick.errors import InputError
from tests.entry_point import SPARKPICK

NOW = pd.Timestamp("2026-12-07T20:00:00")
NOT_TIMES = ("NaT", "nan", "-1", "now", "today", "", "inf", "2026-13-01", "yesterday")
OUT_OF_WINDOW = ("1600-01-01", "2016-08-31T23:59", "9999-12-31", "2062-01-01", "2026-12-08T20:00:01Z")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-01", "2026-10-01T00:00:00"),
    ("2026-10-01T06:00Z", "2026-10-01T06:00:00"),
    ("2026-10-01T08:00:00+02:00", "2026-10-01T06:00:00"),
    ("2016-09-01", "2016-09-01T00:00:00"),
    ("2026-12-08T20:00:00Z", "2026-12-08T20:00:00"),  # a day ahead: a clock or time zone slip
])
def test_a_real_time_in_the_window_is_naive_utc(text: str, expected: str) -> None:
    assert time_option(text, "--as-of", NOW) == pd.Timestamp(expected)


@pytest.mark.parametrize("text", NOT_TIMES)
def test_what_is_not_a_time_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(InputError, match=r"^--until '.*' is not a date or time in ISO 8601"):
        time_option(text, "--until", NOW)


@pytest.mark.parametrize("text", OUT_OF_WINDOW)
def test_a_time_before_tiktok_or_past_tomorrow_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(InputError, match=r"^--as-of .*(before 2016-09-01, TikTok's launch|more than 24 hours after now)"):
        time_option(text, "--as-of", NOW)


@pytest.mark.parametrize("command", [
    ["monitor", "--as-of"],
    ["score", "--as-of"],
    ["nightly", "--no-prefect", "--as-of"],
    ["features", "--out", "x.parquet", "--as-of"],
    ["features", "--training", "--out", "x.parquet", "--until"],
    ["train", "--until"],
])
@pytest.mark.parametrize("text", ["NaT", "nan", "-1", "1600-01-01", "9999-12-31"])
def test_every_command_refuses_a_bad_time_before_doing_anything(
    tmp_path: Path, command: list[str], text: str
) -> None:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "warehouse.duckdb").touch()  # past the "no warehouse" check; never opened
    args = [a if a != "x.parquet" else str(tmp_path / a) for a in command]
    result = CliRunner().invoke(app, ["--home", str(home), *args, text], catch_exceptions=True)
    assert isinstance(result.exception, InputError), (result.output, result.exception)
    assert str(result.exception).startswith(f"{command[-1]} '{text}'"), result.exception
    assert (home / "data" / "warehouse.duckdb").stat().st_size == 0  # nothing ingested, featurized or scored


def test_the_command_exits_2_naming_the_option(tmp_path: Path) -> None:
    done = subprocess.run([SPARKPICK, "--home", str(tmp_path), "nightly", "--as-of", "9999-12-31"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    assert "--as-of '9999-12-31' is more than 24 hours after now" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "data" / "warehouse.duckdb").exists()
