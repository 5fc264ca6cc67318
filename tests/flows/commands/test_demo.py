"""`sparkpick demo` refuses before minutes of rendering: an unknown world size, or a home fed from another
source, is an input error (exit 2) that names the way out, and nothing is built. The whole demo, every
stage, runs as users start it in tests/e2e/test_demo_command.py (slow)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from sparkpick.errors import InputError
from tests.sparkpick.contract_folder import write_folder


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_an_unknown_size_names_the_sizes_and_builds_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["--home", str(home), "demo", "--size", "huge"])
    assert isinstance(result.exception, InputError), result.output
    assert "'huge'" in str(result.exception) and "tiny, small, default, large" in str(result.exception)
    assert _files(home) == []


def test_a_home_fed_from_a_folder_refuses_the_demo_world(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", write_folder(tmp_path / "export")
    fed = CliRunner().invoke(app, ["--home", str(home), "ingest", "--source", f"local:{folder}"])
    assert fed.exit_code == 0, fed.output
    before = {p: p.stat().st_mtime_ns for p in _files(home / "data")}
    result = CliRunner().invoke(app, ["--home", str(home), "demo", "--size", "tiny"])
    assert isinstance(result.exception, InputError), result.output
    message = str(result.exception)
    assert f"local:{folder.resolve()}" in message and "demo" in message and "--allow-new-source" in message
    assert {p: p.stat().st_mtime_ns for p in _files(home / "data")} == before
    assert not [p for p in _files(home / "cache") if p.suffix == ".mp4"], "no demo video was rendered"
