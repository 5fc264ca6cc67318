"""A scheduler trusts the exit status: every command that did not do its job exits non-zero, through the real
`sparkpick` entry point (cron, Prefect workers and CI read nothing else)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update({"PYTHONPATH": str(REPO), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "MLFLOW_DISABLE_TELEMETRY": "true"})
    return env


def test_a_command_that_ends_with_an_exit_code_keeps_it() -> None:
    # `demo`, `nightly` and `ui` end with `typer.Exit(code)`; the entry point must pass the code on.
    script = (
        "import typer, flows.cli as cli\n"
        "@cli.app.command('fails-quietly')\n"
        "def fails_quietly() -> None:\n"
        "    raise typer.Exit(3)\n"
        "@cli.app.command('succeeds')\n"
        "def succeeds() -> None:\n"
        "    raise typer.Exit(0)\n"
        "cli.main()\n"
    )
    for command, expected in (("fails-quietly", 3), ("succeeds", 0)):
        done = subprocess.run([sys.executable, "-c", script, command], capture_output=True, text=True,
                              timeout=120, env=_env(), cwd=REPO, check=False)
        assert done.returncode == expected, done.stderr[-2000:]


@pytest.mark.parametrize(("args", "option"), [
    (["featurize", "--workers", "0"], "--workers"),
    (["featurize", "--dask-workers", "-1"], "--dask-workers"),
    (["nightly", "--dask-workers", "0"], "--dask-workers"),
    (["score", "--top", "abc"], "--top"),
    (["score", "--top", "0"], "--top"),  # not "the default 5"
    (["ui", "--port", "0"], "--port"),
])
def test_a_bad_option_value_exits_2_naming_the_option(tmp_path: Path, args: list[str], option: str) -> None:
    done = subprocess.run([SPARKPICK, "--home", str(tmp_path), *args], capture_output=True, text=True,
                          timeout=120, env=_env(), cwd=tmp_path, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"Invalid value for '{option}'" in done.stderr, done.stderr
    assert not (tmp_path / "mlruns").exists()  # refused before anything ran


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["--prefect", "--no-prefect"])
def test_a_night_that_writes_no_shortlist_exits_non_zero(tmp_path: Path, mode: str) -> None:
    # An empty home fed from a folder that does not exist: the brief's rules would serve, but there is
    # nothing to rank, so the report only lists the failure.
    config = tmp_path / "night.yaml"
    config.write_text(yaml.safe_dump({"ingest": {"source": f"local:{tmp_path / 'missing'}"},
                                      "nightly": {"retry_delay_s": 0, "retries": 0}}))
    done = subprocess.run([SPARKPICK, "--home", str(tmp_path / "home"), "--config", str(config), "nightly", mode],
                          capture_output=True, text=True, timeout=600, env=_env(), cwd=tmp_path, check=False)
    out = done.stdout + done.stderr
    assert "does not exist" in out and ("Failed:" in out or "Error:" in out), out[-3000:]
    assert done.returncode in (1, 2), out[-3000:]
    for written in (tmp_path / "home" / "reports").rglob("shortlist.csv"):
        assert pd.read_csv(written).empty, written
