"""Ingest: all-or-nothing by default, idempotent, incremental, and `--skip-invalid` sets rows aside."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.ingest import ingest_folder, ingest_source
from sparkpick.config import Settings, with_overrides
from sparkpick.contract import as_utc
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.warehouse import Warehouse
from tests.entry_point import SPARKPICK
from tests.sparkpick.contract_folder import FILES, POST_A, replace_line, write_folder
from tests.sparkpick.sources.tiktok.fake_server import (
    ADV,
    AS_OF,
    BRAND,
    CREATOR,
    TIKTOK_CONFIG,
    TOKEN,
    FakeTikTokServer,
    sample_world,
)


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
    return subprocess.run([SPARKPICK, *args], capture_output=True, text=True, env=env,
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



def test_cli_names_an_infinite_count_with_exit_2_and_sets_it_aside_when_asked(tmp_path: Path) -> None:
    # `inf` or 2^63 in a count column once crashed ingest (exit 1, no row named), also with --skip-invalid.
    bad = write_folder(tmp_path / "bad", {**replace_line("spark_results.csv", ",100000,", ",inf,"),
                                          **replace_line("metrics.csv", ",5000,", f",{2**63},")})
    result = _cli("ingest", "--source", f"local:{bad}", home=tmp_path / "h")
    assert result.returncode == 2, result.stderr
    assert "spark_results.csv, row 1" in result.stderr and "column 'impressions': 'inf' is not a finite number" in result.stderr
    assert "metrics.csv, row 2" in result.stderr and "column 'views'" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("ingest", "--source", f"local:{bad}", "--skip-invalid", home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    with Warehouse(tmp_path / "h" / "data" / "warehouse.duckdb", read_only=True) as wh:
        assert wh.count("spark_results") == 1 and wh.count("metrics") == 3

# -- the TikTok source with a partnerships file, against the fake API on 127.0.0.1 ------------------------
PARTNERSHIPS_HEADER = "advertiser_id,creator_id,kind,started_at,usage_rights\n"


@pytest.fixture
def tiktok_api() -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(sample_world(AS_OF), TOKEN) as server:
        yield server


def _tiktok_settings(settings: Settings, server: FakeTikTokServer, **tiktok: object) -> Settings:
    return with_overrides(settings, {"tiktok": {**TIKTOK_CONFIG, "base_url": server.base_url, **tiktok}})


def _partnerships(home: Home) -> pd.DataFrame:
    with Warehouse(home.warehouse, read_only=True) as wh:
        return wh.read("partnerships").set_index(["advertiser_id", "creator_id"])


def test_tiktok_ingest_applies_the_configured_partnerships_file(
    home: Home, settings: Settings, tiktok_api: FakeTikTokServer
) -> None:
    (home.root / "contracts").mkdir()
    (home.root / "contracts" / "partnerships.csv").write_text(
        PARTNERSHIPS_HEADER + f"{ADV},{CREATOR},ongoing,2026-01-15T00:00:00Z,true\n", encoding="utf-8"
    )
    cfg = _tiktok_settings(settings, tiktok_api, partnerships_file="contracts/partnerships.csv")
    ingest_source(home, cfg, "tiktok", access_token=TOKEN, as_of=as_utc(AS_OF))
    stored = _partnerships(home)
    assert stored.loc[(ADV, CREATOR), "usage_rights"] and stored.loc[(ADV, CREATOR), "kind"] == "ongoing"
    assert stored.loc[(ADV, CREATOR), "started_at"] == pd.Timestamp("2026-01-15")
    assert stored.loc[(ADV, BRAND), "usage_rights"] and stored.loc[(ADV, BRAND), "kind"] == "own"
    others = stored.drop(index=[(ADV, CREATOR), (ADV, BRAND)])
    assert len(others) and not others["usage_rights"].any()  # creators the file does not name: no rights


def test_tiktok_ingest_reports_a_partnerships_row_naming_an_unknown_creator_and_goes_on(
    tmp_path: Path, home: Home, settings: Settings, tiktok_api: FakeTikTokServer
) -> None:
    stranger = "6999999999999999999"
    path = tmp_path / "partnerships.csv"
    path.write_text(PARTNERSHIPS_HEADER + f"{ADV},{CREATOR},ongoing,2026-01-15,true\n"
                    f"{ADV},{stranger},one_off,2026-02-01,true\n", encoding="utf-8")
    cfg = _tiktok_settings(settings, tiktok_api)
    summary = ingest_source(home, cfg, "tiktok", access_token=TOKEN, as_of=as_utc(AS_OF), partnerships=path)
    # the contract signed before the creator's first authorised post is reported, not fatal
    reported = [str(p) for p in summary.problems if stranger in str(p)]
    assert len(reported) == 1 and "partnerships file" in reported[0], summary.problems
    stored = _partnerships(home)
    assert stored.loc[(ADV, CREATOR), "kind"] == "ongoing"  # the known pair still took effect
    assert (ADV, stranger) not in stored.index
    with Warehouse(home.warehouse, read_only=True) as wh:
        assert wh.count("posts") > 0


def test_partnerships_file_is_only_for_the_tiktok_source(tmp_path: Path, home: Home, settings: Settings) -> None:
    with pytest.raises(InputError, match="--partnerships is for the tiktok source"):
        ingest_source(home, settings, f"local:{write_folder(tmp_path / 'src')}", partnerships=tmp_path / "p.csv")


def test_cli_refuses_a_bad_partnerships_file_before_calling_the_api(
    tmp_path: Path, settings: Settings, tiktok_api: FakeTikTokServer
) -> None:
    overlay = tmp_path / "tiktok.yaml"
    overlay.write_text(yaml.safe_dump({"tiktok": {**TIKTOK_CONFIG, "base_url": tiktok_api.base_url}}))
    bad = tmp_path / "partnerships.csv"
    bad.write_text(PARTNERSHIPS_HEADER + f"{ADV},{CREATOR},exclusive,2026-01-15,yes\n", encoding="utf-8")
    env = {**os.environ, "SPARKPICK_HOME": str(tmp_path / "h"), settings.tiktok.token_env: TOKEN}
    result = subprocess.run(
        [SPARKPICK, "--config", str(overlay), "ingest", "--source", "tiktok",
         "--partnerships", str(bad)], capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert f"{bad}, row 1, line 2" in result.stderr and "column 'kind': 'exclusive'" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr + result.stdout
    assert tiktok_api.requests == []


def test_a_post_from_the_future_is_refused_and_nothing_is_written(tmp_path: Path, home: Home, settings: Settings) -> None:
    # No snapshot contradicts it (POST_C's metrics row goes too), only the clock of the ingest does.
    future = {
        **replace_line("posts.csv", "2026-04-03T12:00:00,", "2099-04-03T12:00:00,"),
        "metrics.csv": FILES["metrics.csv"].replace("2026-04-04T12:00:00Z", "2099-04-04T12:00:00Z"),
    }
    ingest_folder(home, settings, write_folder(tmp_path / "before"))
    before = _snapshot(home)
    with pytest.raises(InputError, match=r"posted_at 2099-04-03 12:00:00 is after the time of this ingest"):
        ingest_folder(home, settings, write_folder(tmp_path / "src", future))
    after = _snapshot(home)
    assert before.keys() == after.keys()
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name])
