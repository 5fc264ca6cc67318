"""`sparkpick monitor` and `run_monitor`: a local folder with spark_hourly.csv, the tiny demo world, as-of
semantics (later hours and later scores are never used), exit codes and hostile text in the terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.ingest import ingest_folder
from flows.monitor import run_monitor
from models.monitor import OUTPUT_COLUMNS, live_boosts
from sparkpick.config import Settings, with_overrides
from sparkpick.contract import as_utc
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.warehouse import SCORES, SCORES_KEY, Warehouse
from tests.entry_point import SPARKPICK
from tests.sparkpick.contract_folder import FILES, POST_A, POST_B, POST_C, write_folder

HEADER = "post_id,boosted_at,hour_start,spend,impressions,views_2s,views_6s,likes,comments,shares,clicks,conversions\n"
START = pd.Timestamp("2026-04-20 09:30")  # POST_C's live boost
AS_OF = pd.Timestamp("2026-04-21 16:00")  # 31 hours ended by then (09:00 .. 15:00 the next day)
HOSTILE = "[blink]li[/blink]\x1b[2J"


def hourly_rows(first: int, last: int) -> str:
    """POST_C's hours first..last (hour 0 starts at 09:00, the hour the boost started in)."""
    out = []
    for h in range(first, last + 1):
        hour = START.floor("h") + pd.Timedelta(hours=h)
        conv = 1 if h % 6 == 5 else 0
        out.append(f"{POST_C},{START.isoformat()}Z,{hour.isoformat()}Z,15.0,3000,900,400,30,2,1,40,{conv}")
    return "\n".join(out) + "\n"


def folder_files(last_hour: int) -> dict[str, str]:
    creators = FILES["creators.csv"].replace("c3,@li,", f'c3,"{HOSTILE}",')
    # March's in-feed ads: the baseline a boost in April is judged against before April's period ends.
    baselines = FILES["baselines.csv"] + "adv1,2026-03-01,2026-03-31T23:59:59Z,9000.0,1800000,540000,7000,250,180,18000,300\n"
    return {"spark_hourly.csv": HEADER + hourly_rows(0, last_hour), "creators.csv": creators,
            "baselines.csv": baselines, "advertisers.csv": f'advertiser_id,name\nadv1,"Acme {HOSTILE}"\n'}


def store_scores(home: Home) -> None:
    """Scores as the nightly run stores them: POST_C before its boost (used) and after it (never used);
    POST_A and POST_B before theirs (the track record)."""
    rows = [
        ("n1", POST_C, "2026-04-19 02:00", 0.40), ("n2", POST_C, "2026-04-21 02:00", -2.0),
        ("n0", POST_A, "2026-04-04 02:00", 0.50), ("n0", POST_B, "2026-04-04 02:00", 0.20),
    ]
    frame = pd.DataFrame(rows, columns=["run_id", "post_id", "as_of", "predicted_uplift"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame = frame.assign(advertiser_id="adv1", uplift_low=frame["predicted_uplift"] - 0.6,
                         uplift_high=frame["predicted_uplift"] + 0.6, model_version="1")
    with Warehouse(home.warehouse) as wh:
        wh.upsert_frame(SCORES, frame, SCORES_KEY)


@pytest.fixture
def loaded(tmp_path: Path, home: Home, settings: Settings) -> Home:
    ingest_folder(home, settings, write_folder(tmp_path / "src", folder_files(last_hour=30)))
    store_scores(home)
    return home


def _cli(home: Home, *args: str):
    return CliRunner().invoke(app, ["--home", str(home.root), "monitor", *args], catch_exceptions=True)


def test_monitor_command_on_a_local_folder(loaded: Home, tmp_path: Path) -> None:
    out = tmp_path / "live.csv"
    result = _cli(loaded, "--as-of", "2026-04-21T16:00:00Z", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"post_id": str, "advertiser_id": str})
    assert list(table.columns) == ["advertiser_id", "advertiser_name", *OUTPUT_COLUMNS[1:]]
    assert table["advertiser_name"].tolist() == [f"Acme {HOSTILE}"]
    assert table["post_id"].tolist() == [POST_C]  # A and B have final results: not live
    row = table.iloc[0]
    assert row["hours_live"] == pytest.approx(30.5)  # 09:30 to 16:00
    assert row["spend"] == pytest.approx(31 * 15.0)
    assert row["conversions"] == 5
    assert row["predicted_uplift"] == pytest.approx(0.40)  # the score before the boost, not the later -2.0
    assert row["decision"] in {"too_early", "keep", "pause", "scale"} and row["reason"]
    assert row["baseline_cpa"] == pytest.approx(30.0)  # March: 9000 / 300
    assert row["low"] <= row["estimated_uplift"] <= row["high"]
    # Times in full ISO 8601 with their offset, also at midnight (never a bare date).
    assert (row["boosted_at"], row["as_of"]) == ("2026-04-20T09:30:00+00:00", "2026-04-21T16:00:00+00:00")
    # The terminal: the marketer's words, hostile text shown as text (no markup, no escape codes).
    assert "Live boosts as of 2026-04-21 16:00:00 UTC" in result.output
    assert "[blink]li[/blink]" in result.output and "\x1b[2J" not in result.output
    assert "Acme [blink]li[/blink]" in result.output  # the advertiser by name
    assert "predicted at pick: 0.67x your in-feed cost" in result.output  # exp(-0.40)
    assert "Model track record: Last 60 days:" in result.output


def test_out_naming_a_folder_is_refused_and_leaves_no_temporary_file(loaded: Home, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "live"
    folder.mkdir(parents=True)
    result = _cli(loaded, "--as-of", "2026-04-21T16:00:00Z", "--out", str(folder))
    assert isinstance(result.exception, InputError) and "--out" in str(result.exception), result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["live"] and not list(folder.iterdir())


def test_figures_at_t_never_use_later_hours_or_scores(tmp_path: Path, loaded: Home, settings: Settings) -> None:
    before = run_monitor(loaded, settings, AS_OF)
    # Later hours arrive, the boost ends and gets its final result, and the post is scored again.
    later = folder_files(last_hour=60)
    later["spark_results.csv"] = FILES["spark_results.csv"] + (
        f"{POST_C},{START.isoformat()}Z,2026-04-22T22:00:00Z,915.0,183000,54900,24400,1830,122,61,2440,10,\n")
    ingest_folder(loaded, settings, write_folder(tmp_path / "later", later))
    with Warehouse(loaded.warehouse) as wh:
        frame = wh.read(SCORES).assign(run_id="n3", as_of=pd.Timestamp("2026-04-21 15:59"), predicted_uplift=1.9)
        wh.upsert_frame(SCORES, frame[frame["post_id"] == POST_C], SCORES_KEY)
    again = run_monitor(loaded, settings, AS_OF)
    pd.testing.assert_frame_equal(before.table(), again.table())
    pd.testing.assert_frame_equal(before.hourly, again.hourly)
    assert len(before.hourly) == 31 and (before.hourly["hour_start"] + pd.Timedelta(hours=1) <= AS_OF).all()
    # At the end of the boost it is no longer live.
    assert run_monitor(loaded, settings, pd.Timestamp("2026-04-23")).boosts.empty


def test_no_hourly_file_means_no_live_boosts(tmp_path: Path, home: Home, settings: Settings) -> None:
    ingest_folder(home, settings, write_folder(tmp_path / "src"))
    result = _cli(home, "--as-of", "2026-04-21T16:00:00Z")
    assert result.exit_code == 0, result.output
    assert "No live boosts" in result.output


def test_track_record_counts_boosts_scored_before_they_started(loaded: Home, settings: Settings) -> None:
    run = run_monitor(loaded, settings, pd.Timestamp("2026-05-01"))
    assert run.track_record is not None and run.track_record.count == 2  # POST_A and POST_B
    narrow = with_overrides(settings, {"monitor": {"track_record_days": 1}})
    assert run_monitor(loaded, narrow, pd.Timestamp("2026-05-01")).track_record.count == 0


def test_exit_status_on_bad_input(tmp_path: Path, loaded: Home) -> None:
    empty = tmp_path / "empty-home"
    done = subprocess.run([SPARKPICK, "--home", str(empty), "monitor"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2 and "No warehouse" in done.stderr and "sparkpick ingest" in done.stderr
    done = subprocess.run([SPARKPICK, "--home", str(loaded.root), "monitor", "--as-of", "soon"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2 and "--as-of 'soon'" in done.stderr


def test_monitor_on_the_tiny_demo_world(tiny_world: Path, home: Home, settings: Settings, tmp_path: Path) -> None:
    ingest_folder(home, settings, tiny_world)
    end = as_utc(settings.world.end)
    out = tmp_path / "live.csv"
    result = _cli(home, "--as-of", str(end), "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"post_id": str, "advertiser_id": str})
    # The live boosts, read straight from the world's files: hourly delivery and no final result yet.
    hourly = pd.read_csv(tiny_world / "spark_hourly.csv", dtype={"post_id": str})
    results = pd.read_csv(tiny_world / "spark_results.csv", dtype={"post_id": str})
    for frame, cols in ((hourly, ["boosted_at", "hour_start"]), (results, ["boosted_at", "ended_at"])):
        for col in cols:
            frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_localize(None)
    expected = live_boosts(hourly, results, end)
    assert len(expected) > 0, "the tiny world should have live boosts at its end"
    assert sorted(table["post_id"]) == sorted(expected["post_id"])
    assert set(table["decision"]) <= {"too_early", "keep", "pause", "scale"}
    assert table["reason"].str.len().gt(10).all()
    assert "Model track record" in result.output


@pytest.mark.slow
def test_hourly_monitor_flow_writes_the_live_csv(loaded: Home, prefect_harness: object) -> None:
    from flows.deployments import monitor_flow

    out = monitor_flow(home_dir=str(loaded.root), as_of="2026-04-21T16:00:00")
    assert out["live_boosts"] == 1 and sum(out["decisions"].values()) == 1
    latest = pd.read_csv(loaded.reports / "live" / "latest.csv", dtype={"post_id": str})
    assert latest["post_id"].tolist() == [POST_C]
    assert (loaded.reports / "live" / "2026-04-21T1600.csv").read_bytes() == (loaded.reports / "live" / "latest.csv").read_bytes()
