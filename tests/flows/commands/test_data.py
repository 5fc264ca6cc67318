"""`sparkpick ingest`: a contract folder loads (twice is safe), a bad row fails naming it or is set aside
with `--skip-invalid`, and a wrong source or option is an input error (exit 2) before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from flows.cli import app
from sparkpick.errors import InputError
from tests.sparkpick.contract_folder import POST_B, replace_line, write_folder


def sparkpick(home: Path, *args: str) -> Result:
    """The command in this process (the entry point turns an `InputError` into exit status 2), on a terminal
    wide enough that no temporary path is wrapped."""
    return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "1000"})


def refused(result: Result) -> str:
    """The message of the input error `result` ended with."""
    assert isinstance(result.exception, InputError), result.output
    return str(result.exception)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "export")


def test_a_folder_loads_and_loading_it_again_changes_nothing(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    first = sparkpick(home, "ingest", "--source", f"local:{folder}")
    assert first.exit_code == 0, first.output
    assert f"Ingested local:{folder.resolve()} into {home / 'data' / 'warehouse.duckdb'}" in first.output
    assert "posts: 3 new, 0 changed, 0 unchanged" in first.output
    again = sparkpick(home, "ingest", "--source", f"local:{folder}")
    assert again.exit_code == 0, again.output
    assert "posts: 0 new, 0 changed, 3 unchanged" in again.output
    # The home remembers its source: a plain `ingest` gathers from it.
    plain = sparkpick(home, "ingest")
    assert plain.exit_code == 0 and "metrics: 0 new, 0 changed, 4 unchanged" in plain.output, plain.output


def test_a_bad_row_fails_naming_it_or_is_set_aside(tmp_path: Path) -> None:
    bad = write_folder(tmp_path / "bad", replace_line("metrics.csv", f"{POST_B},2026-04-03T12:00:00Z,800",
                                                      f"{POST_B},2026-04-03T12:00:00Z,lots"))
    home = tmp_path / "home"
    message = refused(sparkpick(home, "ingest", "--source", f"local:{bad}"))
    assert "metrics.csv" in message and "views" in message and "lots" in message
    skipped = sparkpick(home, "ingest", "--source", f"local:{bad}", "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "1 problem(s) set aside:" in skipped.output and "metrics: 3 new" in skipped.output
    assert list((home / "data" / "rejected").rglob("*")), "the rejected row is written under ingest.rejected_dir"


@pytest.mark.parametrize(("args", "expected"), [
    (["--source", "ftp://elsewhere"], "'ftp://elsewhere'"),
    (["--source", "local:{folder}", "--partnerships", "p.csv"], "--partnerships is for the tiktok source"),
])
def test_a_wrong_source_or_option_exits_2_and_writes_nothing(tmp_path: Path, folder: Path, args: list[str],
                                                             expected: str) -> None:
    home = tmp_path / "home"
    assert expected in refused(sparkpick(home, "ingest", *(a.format(folder=folder) for a in args)))
    assert not (home / "data" / "warehouse.duckdb").exists()
