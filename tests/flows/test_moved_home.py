"""A home is one folder: moved, it still scores and trains, and nothing is written outside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.train import train_model
from sparkpick.config import Home, Settings, with_overrides
from sparkpick.warehouse import Warehouse
from tests.flows.test_train import FAST

REPO = Path(__file__).resolve().parents[2]
SPARKPICK = str(Path(sys.executable).parent / "sparkpick")


@pytest.mark.slow
def test_a_moved_home_scores_and_trains_in_its_new_place(tmp_path: Path, settings: Settings) -> None:
    from sparkpick.sources.demo.tables import generate_tables

    first = Home.at(tmp_path / "H1").ensure()
    with Warehouse(first.warehouse) as wh:
        wh.upsert(generate_tables(settings.world, "small", 7).contract())
    fast = with_overrides(settings, FAST)
    train_model(first, fast)
    second = tmp_path / "H2"
    shutil.move(first.root, second)

    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    user_home, workdir = tmp_path / "user-home", tmp_path / "workdir"
    user_home.mkdir()
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_TRACKING", "SPARKPICK"))}
    env.update({"HOME": str(user_home), "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})
    for command in (["score", "--as-of", str(settings.world.end), "--out", str(second / "picks.csv")],
                    ["train", "--promote", "force"]):
        done = subprocess.run([SPARKPICK, "--home", str(second), "--config", str(config), *command],
                              capture_output=True, text=True, timeout=900, env=env, cwd=workdir, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (second / "picks.csv").stat().st_size > 0
    # nothing written in the old place, the user's home or the working folder
    assert not first.root.exists()
    assert list(user_home.iterdir()) == [] and list(workdir.iterdir()) == []
    # and the store no longer names the old place
    old = str(first.root).encode()
    for path in second.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".yaml", ".json", "") and path.stat().st_size < 50_000_000:
            assert old not in path.read_bytes(), path
    import sqlite3

    with sqlite3.connect(second / "mlruns" / "mlflow.db") as con:
        versions = con.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    assert versions == 2
