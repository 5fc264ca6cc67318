"""`sparkpick features` on a small demo world loaded into a real warehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from sparkpick.config import Settings
from sparkpick.contract import as_utc
from sparkpick.errors import InputError
from sparkpick.home import Home


@pytest.fixture(scope="module")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    from flows.ingest import ingest_tables
    from sparkpick.config import load_settings
    from sparkpick.sources.demo.tables import generate_tables

    settings = load_settings()
    home = Home.at(tmp_path_factory.mktemp("features-cli")).ensure()
    tables = generate_tables(settings.world, "small", settings.world.seed)
    contract = tables.contract()
    # No videos rendered here (slow): the posts carry no video path, so video cues stay missing.
    contract["posts"] = contract["posts"].assign(video_path=None)
    ingest_tables(home, settings, contract, "demo-small")
    return home


def run(home: Home, *args: str) -> object:
    return CliRunner().invoke(app, ["--home", str(home.root), "features", *args], catch_exceptions=True)


def test_candidates_export(world_home: Home, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "cands.parquet"
    as_of = as_utc(settings.world.end) - pd.Timedelta(days=3)
    result = run(world_home, "--as-of", as_of.isoformat(), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "candidates" in result.output and "data quality" in result.output
    frame = pd.read_parquet(out)
    assert list(frame.columns[:2]) == ["advertiser_id", "post_id"]
    assert len(frame) > 10 and frame["post_id"].is_unique
    assert frame["views_latest"].notna().mean() > 0.5
    assert (pd.to_datetime(frame["posted_at"]) <= as_of).all()
    described = frame.attrs["feature_descriptions"]
    assert described["share_rate"] == "shares per view" and len(described) >= 40
    assert "views" not in described and "flag_calibrating" not in described
    assert frame.attrs["data_quality"]["snapshots_kept"] > 0
    one = frame["advertiser_id"].iloc[0]
    out1 = tmp_path / "one.parquet"
    result = run(world_home, "--as-of", as_of.isoformat(), "--advertiser", one, "--out", str(out1))
    assert result.exit_code == 0, result.output
    assert set(pd.read_parquet(out1)["advertiser_id"]) == {one}
    assert not list(tmp_path.glob("*.partial"))


def test_training_export(world_home: Home, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "train.parquet"
    result = run(world_home, "--training", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    for col in ("group_id", "decision_time", "uplift", "relevance", "boost_propensity", "boosted_at"):
        assert col in frame.columns
    assert len(frame) > 20 and frame["uplift"].notna().all()
    runs = (frame["group_id"] != frame["group_id"].shift()).sum()
    assert runs == frame["group_id"].nunique()
    until = as_utc(settings.world.end) - pd.Timedelta(days=30)
    out2 = tmp_path / "train_until.parquet"
    result = run(world_home, "--training", "--until", until.isoformat(), "--out", str(out2))
    assert result.exit_code == 0, result.output
    early = pd.read_parquet(out2)
    assert 0 < len(early) < len(frame) and (pd.to_datetime(early["ended_at"]) < until).all()


@pytest.mark.parametrize(
    "args",
    [
        ["--out", "x.parquet"],  # neither --as-of nor --training
        ["--training", "--as-of", "2026-10-01", "--out", "x.parquet"],
        ["--as-of", "not a date", "--out", "x.parquet"],
        ["--as-of", "2026-10-01", "--out", "x.csv"],
        ["--as-of", "2026-10-01", "--advertiser", "nobody", "--out", "x.parquet"],
    ],
)
def test_bad_arguments_are_input_errors(world_home: Home, tmp_path: Path, args: list[str]) -> None:
    args = [a if a != "x.parquet" else str(tmp_path / a) for a in args]
    result = run(world_home, *args)
    assert isinstance(result.exception, InputError), result.output
    assert not (tmp_path / "x.parquet").exists()
