"""The `sparkpick` command's error handling, as users start it: bad input is one paragraph and exit 2,
anything else exit 1 with a hint, a traceback only with `--debug`, and an error quoting outside text prints
it inert. (Option values: test_exit_status.py; a bad config: tests/sparkpick/test_config.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A command registered for the test that fails as it is told, then the entry point users start.
SCRIPT = """
import sys
import flows.cli as cli
from sparkpick.errors import InputError

@cli.app.command("fail")
def fail(kind: str) -> None:
    if kind == "input":
        raise InputError("posts.csv row 3, column views: 'lots' is not a number \\x1b[31m[bold]red[/bold]")
    raise RuntimeError("the disk went away")

cli.main()
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", SCRIPT, "--home", str(tmp_path / "home"), *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)


@pytest.mark.parametrize("debug", [False, True])
def test_bad_input_is_one_paragraph_and_exit_2(tmp_path: Path, debug: bool) -> None:
    done = _run(tmp_path, *(["--debug"] if debug else []), "fail", "input")
    assert done.returncode == 2
    assert "Error: posts.csv row 3, column views: 'lots' is not a number" in done.stderr
    assert "\x1b" not in done.stderr  # the quoted text cannot colour or move the terminal
    assert "[bold]red[/bold]" in done.stderr  # nor is it read as markup: shown as it is
    assert ("Traceback" in done.stderr) is debug


def test_anything_else_exits_1_naming_the_error_and_how_to_see_more(tmp_path: Path) -> None:
    done = _run(tmp_path, "fail", "other")
    assert done.returncode == 1
    assert "Error: RuntimeError: the disk went away" in done.stderr
    assert "run again with --debug for the traceback" in done.stderr and "Traceback" not in done.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    done = _run(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("ingest", "featurize", "train", "score", "nightly", "serve", "monitor", "demo"):
        assert command in done.stdout
