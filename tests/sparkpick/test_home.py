"""The home: where a run's data, model store, reports and cache live, and which MLflow store it uses."""

from __future__ import annotations

from pathlib import Path

from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home


def test_a_home_resolves_its_root_and_lays_out_its_folders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    home = Home.at("here")
    assert home.root == tmp_path / "here"
    assert home.warehouse == tmp_path / "here" / "data" / "warehouse.duckdb"
    assert home.scratch == tmp_path / "here" / "cache" / "scratch"
    assert not home.root.exists()
    assert home.ensure() is home
    assert all(folder.is_dir() for folder in (home.data, home.mlruns, home.reports, home.cache))


def test_a_home_without_a_model_store_says_so(tmp_path: Path) -> None:
    home = Home.at(tmp_path).ensure()
    assert not home.has_model_store()
    (home.mlruns / "mlflow.db").write_bytes(b"")
    assert home.has_model_store()


def test_the_tracking_uri_is_the_homes_store_unless_one_is_configured(tmp_path: Path, settings: Settings) -> None:
    home = Home.at(tmp_path)
    assert home.tracking_uri(settings) == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    elsewhere = with_overrides(settings, {"mlflow": {"tracking_uri": "sqlite:////srv/mlflow.db"}})
    assert home.tracking_uri(elsewhere) == "sqlite:////srv/mlflow.db"
