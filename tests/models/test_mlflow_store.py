"""Connecting to MLflow's store: only for the block, leaving MLflow and the environment as they were."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import mlflow
import pytest

from models.mlflow_store import ensure_experiment, first_line, tracking
from sparkpick.errors import DamagedFileError


def test_mlflow_points_at_the_store_for_the_block_only(tmp_path: Path) -> None:
    before, env = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    levels = logging.getLogger("mlflow").level, logging.getLogger("alembic").level
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracking(uri) as client:
        assert mlflow.get_tracking_uri() == uri and mlflow.get_registry_uri() == uri
        assert logging.getLogger("mlflow").level == logging.ERROR  # its notices are not the user's
        experiment = ensure_experiment(client, "sparkpick", tmp_path / "mlruns")
        assert ensure_experiment(client, "sparkpick", tmp_path / "elsewhere") == experiment  # found, not made again
        assert client.get_experiment(experiment).artifact_location == (tmp_path / "mlruns" / "sparkpick").as_uri()
    assert mlflow.get_tracking_uri() == before and os.environ.get("MLFLOW_TRACKING_URI") == env
    assert (logging.getLogger("mlflow").level, logging.getLogger("alembic").level) == levels


def test_a_store_that_is_not_a_database_is_named_with_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"not a database, just bytes " * 200)
    with pytest.raises(DamagedFileError) as raised, tracking(f"sqlite:///{db}") as client:
        client.search_experiments()
    assert raised.value.path == db and "Restore it from a backup" in str(raised.value)
    assert mlflow.get_tracking_uri() != f"sqlite:///{db}"  # put back after the failure too


def test_an_error_is_named_by_its_first_line_without_the_driver_class() -> None:
    error = RuntimeError("(sqlite3.DatabaseError) file is not a database\n[SQL: SELECT 1]")
    assert first_line(error) == "file is not a database"
    assert first_line(ValueError("")) == "ValueError"
