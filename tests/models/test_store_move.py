"""A moved home's MLflow store, pointed at its artifacts where they are now (a real SQLite file)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from models.store_move import relocate_store
from sparkpick.errors import DamagedFileError


def _store(db: Path, old_root: str) -> None:
    """The tables and columns of an MLflow store that hold artifact locations, at `old_root`."""
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("CREATE TABLE experiments (experiment_id TEXT, name TEXT, artifact_location TEXT)")
        con.execute("CREATE TABLE runs (run_uuid TEXT, artifact_uri TEXT)")
        con.execute("CREATE TABLE model_versions (version INTEGER, storage_location TEXT)")
        con.executemany("INSERT INTO experiments VALUES (?, ?, ?)",
                        [("0", "Default", "file:///somewhere/else/0"), ("1", "sparkpick", f"{old_root}/sparkpick")])
        con.execute("INSERT INTO runs VALUES ('r1', ?)", [f"{old_root}/sparkpick/r1/artifacts"])
        con.execute("INSERT INTO model_versions VALUES (1, ?)", [f"{old_root}/sparkpick/r1/artifacts/model"])


def _locations(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as con:
        return [row[0] for row in con.execute(
            "SELECT artifact_location FROM experiments UNION ALL SELECT artifact_uri FROM runs "
            "UNION ALL SELECT storage_location FROM model_versions")]


def test_every_location_under_the_old_root_moves_under_the_new_one(tmp_path: Path) -> None:
    root = tmp_path / "home" / "mlruns"
    root.mkdir(parents=True)
    old = "file:///old/place/mlruns"
    _store(root / "mlflow.db", old)
    mlmodel = root / "sparkpick" / "r1" / "artifacts" / "model" / "MLmodel"
    mlmodel.parent.mkdir(parents=True)
    mlmodel.write_text(f"artifact_path: {old}/sparkpick/r1/artifacts/model\n")
    assert relocate_store(root / "mlflow.db", root, "sparkpick") == old
    new = root.resolve().as_uri()
    assert _locations(root / "mlflow.db") == [f"{new}/0", f"{new}/sparkpick", f"{new}/sparkpick/r1/artifacts",
                                               f"{new}/sparkpick/r1/artifacts/model"]
    assert old not in mlmodel.read_text() and new in mlmodel.read_text()
    assert relocate_store(root / "mlflow.db", root, "sparkpick") is None  # a second run finds nothing to do


def test_no_store_or_another_experiment_moves_nothing(tmp_path: Path) -> None:
    assert relocate_store(tmp_path / "missing.db", tmp_path, "sparkpick") is None
    _store(tmp_path / "mlflow.db", "file:///old/mlruns")
    before = _locations(tmp_path / "mlflow.db")
    assert relocate_store(tmp_path / "mlflow.db", tmp_path, "other-experiment") is None
    assert _locations(tmp_path / "mlflow.db") == before


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DamagedFileError, match=r"mlflow\.db"):
        relocate_store(db, tmp_path, "sparkpick")
