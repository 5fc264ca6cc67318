"""Ingest: all-or-nothing by default, idempotent, incremental, and `--skip-invalid` sets rows aside."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from flows.ingest import ingest_folder
from sparkpick.config import Home, Settings
from sparkpick.errors import InputError
from sparkpick.warehouse import Warehouse
from tests.sparkpick.contract_folder import FILES, POST_A, replace_line, write_folder


def _snapshot(home: Home) -> dict[str, pd.DataFrame]:
    with Warehouse(home.warehouse, read_only=True) as wh:
        return {name: df.sort_values(list(df.columns[:2])).reset_index(drop=True)
                for name, df in wh.contract_tables().items()}


def test_ingest_twice_changes_nothing(tmp_path: Path, home: Home, settings: Settings) -> None:
    folder = write_folder(tmp_path / "src")
    first = ingest_folder(home, settings, folder)
    assert first.counts["posts"].new == 3 and first.counts["metrics"].new == 4
    before = _snapshot(home)
    second = ingest_folder(home, settings, folder)
    assert all(c.new == 0 and c.changed == 0 for c in second.counts.values())
    after = _snapshot(home)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_newer_snapshots_add_only_those(tmp_path: Path, home: Home, settings: Settings) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src"))
    newer = FILES["metrics.csv"] + f"{POST_A},2026-04-03T12:00:00Z,9000,500,30,25,5.1,0.26,\n"
    second = ingest_folder(home, settings, write_folder(tmp_path / "src2", {"metrics.csv": newer}))
    assert second.counts["metrics"].new == 1 and second.counts["metrics"].unchanged == 4
    assert second.counts["posts"].new == 0
    with Warehouse(home.warehouse, read_only=True) as wh:
        assert wh.count("metrics") == 5


def test_changed_auth_status_updates_the_post(tmp_path: Path, home: Home, settings: Settings) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src"))
    changed = replace_line("posts.csv", ",requested,", ",authorized,2026-06-01T00:00:00Z")
    summary = ingest_folder(home, settings, write_folder(tmp_path / "src", changed))  # same folder, same paths
    assert summary.counts["posts"].changed == 1 and summary.counts["posts"].new == 0


def test_invalid_folder_leaves_warehouse_exactly_as_it_was(tmp_path: Path, home: Home, settings: Settings) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src"))
    digest = hashlib.sha256(home.warehouse.read_bytes()).hexdigest()
    bad = {**replace_line("metrics.csv", ",5000,", ",-1,"),
           "creators.csv": FILES["creators.csv"] + "c4,@new,10,false,\n"}
    with pytest.raises(InputError, match=r"metrics.csv, row 2.*column 'views'"):
        ingest_folder(home, settings, write_folder(tmp_path / "bad", bad))
    assert hashlib.sha256(home.warehouse.read_bytes()).hexdigest() == digest


def test_skip_invalid_loads_valid_rows_and_names_the_rejects(tmp_path: Path, home: Home, settings: Settings) -> None:
    bad = replace_line("metrics.csv", ",5000,", ",-1,")
    summary = ingest_folder(home, settings, write_folder(tmp_path / "bad", bad), skip_invalid=True)
    assert summary.counts["metrics"].new == 3
    assert summary.rejected_file is not None and summary.rejected_file.is_file()
    rejected = pd.read_csv(summary.rejected_file)
    assert rejected.loc[0, "file"] == "metrics.csv" and "must not be negative" in rejected.loc[0, "reasons"]


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPARKPICK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_exit_status_and_message(tmp_path: Path) -> None:
    bad = write_folder(tmp_path / "bad", replace_line("posts.csv", "2026-04-02T12:00:00Z", "soon"))
    result = _cli("ingest", "--source", f"local:{bad}", home=tmp_path / "h")
    assert result.returncode == 2, result.stderr
    assert "posts.csv, row 2" in result.stderr and "Traceback" not in result.stderr
    good = write_folder(tmp_path / "good")
    result = _cli("ingest", "--source", f"local:{good}", home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "h" / "data" / "warehouse.duckdb").is_file()
    assert "posts: 3 new" in result.stdout
