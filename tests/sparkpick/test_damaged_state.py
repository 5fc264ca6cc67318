"""A damaged file in the home (a half-written MLflow store, a truncated warehouse) is named, with what to do,
and the command exits non-zero: no raw database error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from models import mlflow_store, promotion, serving
from sparkpick.config import Settings
from sparkpick.errors import DamagedFileError
from sparkpick.home import Home
from sparkpick.warehouse import Warehouse
from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def warehouse_bytes(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> bytes:
    from sparkpick.sources.demo.tables import generate_tables

    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.upsert(generate_tables(settings.world, "tiny", 3).contract())
    return path.read_bytes()


def _read_everything(path: Path) -> None:
    with Warehouse(path, read_only=True) as wh:
        for (name,) in wh.con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            wh.con.execute(f'SELECT * FROM "{name}"').fetchall()


@pytest.mark.parametrize("keep", [0, 5000, 0.5])
def test_a_truncated_warehouse_is_named_with_what_to_do(tmp_path: Path, warehouse_bytes: bytes,
                                                         keep: float) -> None:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(warehouse_bytes[: int(keep * len(warehouse_bytes)) if isinstance(keep, float) else keep])
    with pytest.raises(DamagedFileError) as caught:
        _read_everything(path)
    message = str(caught.value)
    assert str(path) in message and "damaged" in message and "sparkpick ingest" in message


def test_a_half_written_mlflow_store_is_named_with_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    with mlflow_store.tracking(uri) as client:
        mlflow_store.ensure_experiment(client, "sparkpick", tmp_path)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedFileError) as caught:
        serving.has_champion(uri, "sparkpick-ranker")
    message = str(caught.value)
    assert str(db) in message and "sparkpick train" in message and "[SQL" not in message


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}


def test_commands_name_the_damaged_file_and_exit_non_zero(home: Home, warehouse_bytes: bytes) -> None:
    home.warehouse.write_bytes(warehouse_bytes[:5000])
    done = subprocess.run([SPARKPICK, "--home", str(home.root), "train"], capture_output=True, text=True,
                          timeout=300, env=_env(), check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert str(home.warehouse) in done.stderr and "sparkpick ingest" in done.stderr
    assert "IOException" not in done.stderr and "Traceback" not in done.stderr

    store = home.mlruns / "mlflow.db"
    data = store.read_bytes()  # the train above created the store before it read the warehouse
    store.write_bytes(data[: len(data) // 2])
    done = subprocess.run([SPARKPICK, "--home", str(home.root), "train"], capture_output=True, text=True,
                          timeout=300, env=_env(), check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert str(store) in done.stderr and "sparkpick train" in done.stderr
    assert "DatabaseError" not in done.stderr and "Traceback" not in done.stderr


def test_score_names_a_damaged_registry_and_exits_1_not_train_first(home: Home, settings: Settings) -> None:
    import sqlite3
    from contextlib import closing

    uri, name = home.tracking_uri(settings), settings.mlflow.model_name
    with mlflow_store.tracking(uri) as client:
        client.create_registered_model(name)
        version = client.create_model_version(name, source=str(home.mlruns), run_id=None).version
        client.set_registered_model_alias(name, promotion.CHAMPION, version)
    store = home.mlruns / "mlflow.db"
    with closing(sqlite3.connect(store)) as con, con:
        con.execute("DROP TABLE registered_model_aliases")
    done = subprocess.run([SPARKPICK, "--home", str(home.root), "score"], capture_output=True, text=True,
                          timeout=300, env=_env(), check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert str(store) in done.stderr and "damaged" in done.stderr and "no such table" in done.stderr
    assert "Traceback" not in done.stderr and "sparkpick train` first" not in done.stderr
