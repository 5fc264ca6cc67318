"""A home is one folder: moved, it still scores and trains, and nothing is written outside it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from flows.train import train_model
from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home
from tests.entry_point import SPARKPICK
from tests.flows.test_train import FAST

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_moved_home_scores_trains_and_runs_a_prefect_night_in_its_new_place(
    tmp_path: Path, settings: Settings
) -> None:
    from flows.ingest import ingest_folder
    from sparkpick.sources.demo.build import to_csv_text
    from sparkpick.sources.demo.tables import generate_tables

    # The home is fed from a folder outside it (no videos: a quick night), which stays where it is.
    export = tmp_path / "export"
    export.mkdir()
    for name, frame in generate_tables(settings.world, "small", 7).tables().items():
        frame = frame.assign(video_path=None) if name == "posts" else frame
        (export / f"{name}.csv").write_text(to_csv_text(frame), encoding="utf-8")
    first = Home.at(tmp_path / "H1").ensure()
    ingest_folder(first, settings, export)
    fast = with_overrides(settings, FAST)
    train_model(first, fast)
    second = tmp_path / "H2"
    shutil.move(first.root, second)

    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    user_home, workdir, system_tmp = tmp_path / "user-home", tmp_path / "workdir", tmp_path / "system-tmp"
    for folder in (user_home, workdir, system_tmp):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_TRACKING", "SPARKPICK"))}
    env.update({"HOME": str(user_home), "TMPDIR": str(system_tmp), "PYTHONPATH": str(REPO),
                "MLFLOW_DISABLE_TELEMETRY": "true", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})
    # The night runs in Prefect mode (the default): a temporary Prefect server keeps its database under the
    # home's PREFECT_HOME, which must follow the home to its new place.
    for command in (["score", "--as-of", str(settings.world.end), "--out", str(second / "picks.csv")],
                    ["train", "--promote", "force"],
                    ["nightly", "--as-of", str(settings.world.end)]):
        done = subprocess.run([SPARKPICK, "--home", str(second), "--config", str(config), *command],
                              capture_output=True, text=True, timeout=900, env=env, cwd=workdir, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (second / "picks.csv").stat().st_size > 0
    assert list((second / "reports").glob("*/shortlist.html")), "the night wrote no report"
    assert (second / "prefect").is_dir(), "the night's Prefect state is not in the home"
    # nothing written in the old place, the user's home, the working folder or the system's temporary folder
    assert not first.root.exists()
    assert list(user_home.iterdir()) == [] and list(workdir.iterdir()) == []
    assert list(system_tmp.iterdir()) == []
    # and no file in the home (stores, Prefect's database, kept nights, reports, logs) names the old place
    old = str(first.root).encode()
    for path in second.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert old not in path.read_bytes(), path
    import sqlite3

    with sqlite3.connect(second / "mlruns" / "mlflow.db") as con:
        versions = con.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    assert versions == 3  # the prior (the brief's rules), the first ranker, the forced one
    with sqlite3.connect(second / "prefect" / "prefect.db") as con:  # the night ran as a Prefect flow, here
        states = [row[0] for row in con.execute("SELECT state_type FROM flow_run")]
    assert states and all(state == "COMPLETED" for state in states), states
