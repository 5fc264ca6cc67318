"""A training killed half-way leaves no litter: its run is marked FAILED and no registered version escapes the
promotion gate's judgement, by the next start at the latest."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from flows.train import train_model
from models import mlflow_store, promotion, run_cleanup, run_record, serving
from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home
from sparkpick.warehouse import Warehouse
from tests.entry_point import SPARKPICK
from tests.flows.test_train import FAST

REPO = Path(__file__).resolve().parents[2]
NAME = "sparkpick-ranker"

# A child process that starts a training run the way `train` does, registers a version, and is killed
# before the gate's judgement is recorded.
KILLED_CHILD = textwrap.dedent("""
    import os, signal, socket, sys, tempfile
    import mlflow
    from models import mlflow_store, run_record
    uri, root = sys.argv[1], sys.argv[2]
    with mlflow_store.tracking(uri) as client:
        exp = mlflow_store.ensure_experiment(client, "sparkpick", __import__("pathlib").Path(root))
        run = mlflow.start_run(experiment_id=exp)
        mlflow.set_tags({run_record.PID_TAG: str(os.getpid()), run_record.HOST_TAG: socket.gethostname()})
        client.create_registered_model(sys.argv[3]) if client.search_registered_models() == [] else None
        client.create_model_version(sys.argv[3], source=run.info.artifact_uri, run_id=run.info.run_id)
        print(run.info.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
""")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}


def test_next_start_fails_a_killed_run_and_deletes_its_unjudged_version(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    root.mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    done = subprocess.run([sys.executable, "-c", KILLED_CHILD, uri, str(root), NAME], capture_output=True,
                          text=True, timeout=300, env=_env(), cwd=REPO, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    run_id = done.stdout.split()[0]
    with mlflow_store.tracking(uri) as client:
        assert client.get_run(run_id).info.status == "RUNNING"
        assert len(client.search_model_versions(f"name = '{NAME}'")) == 1
        exp = mlflow_store.ensure_experiment(client, "sparkpick", root)
        lines = run_cleanup.sweep_interrupted(client, exp, NAME)
        assert client.get_run(run_id).info.status == "FAILED"
        assert client.search_model_versions(f"name = '{NAME}'") == []
        assert any("interrupted" in line for line in lines) and any("never judged" in line for line in lines)
        # a second sweep has nothing to do; a run of a live process is left alone
        assert run_cleanup.sweep_interrupted(client, exp, NAME) == []
        import mlflow

        with mlflow.start_run(experiment_id=exp) as live:
            mlflow.set_tags({run_record.PID_TAG: str(os.getpid()), run_record.HOST_TAG: __import__("socket").gethostname()})
            assert run_cleanup.sweep_interrupted(client, exp, NAME) == []
        assert client.get_run(live.info.run_id).info.status == "FINISHED"


def _statuses(db: Path) -> list[str]:
    # Read-write: after a kill the store may hold a hot journal, which only a writer may roll back.
    with sqlite3.connect(db, timeout=5) as con:
        return [row[0] for row in con.execute("SELECT status FROM runs")]


@pytest.mark.slow
def test_killing_train_leaves_no_running_run_and_no_unjudged_version(
    tmp_path: Path, settings: Settings, home: Home
) -> None:
    from sparkpick.sources.demo.tables import generate_tables

    with Warehouse(home.warehouse) as wh:
        wh.upsert(generate_tables(settings.world, "small", 7).contract())
    fast = with_overrides(settings, FAST)
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    # Kill it once the model's files are logged: the run is RUNNING and registration is moments away. On a
    # fast machine the run may end between the look and the kill; that attempt tests nothing, so go again.
    for _attempt in range(3):
        proc = subprocess.Popen([SPARKPICK, "--home", str(home.root), "--config", str(config), "train"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
        deadline = time.monotonic() + 600
        while not list(home.mlruns.rglob("MLmodel")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.kill()
        proc.wait()
        if "RUNNING" in _statuses(home.mlruns / "mlflow.db"):
            break
        shutil.rmtree(home.mlruns)  # a finished attempt's run and champion would change what follows
        home.mlruns.mkdir()
    assert "RUNNING" in _statuses(home.mlruns / "mlflow.db")

    result = train_model(home, fast)  # the next start
    assert _statuses(home.mlruns / "mlflow.db").count("FAILED") == 1
    assert "RUNNING" not in _statuses(home.mlruns / "mlflow.db")
    with mlflow_store.tracking(home.tracking_uri(fast)) as client:
        versions = client.search_model_versions(f"name = '{NAME}'")
        assert versions and all(promotion.PROMOTION_TAG in v.tags for v in versions)
        # The new version was judged: champion if it beat the one serving (the brief's rules, registered when
        # the killed run started), else a challenger behind it.
        champion = serving.alias_version(client, NAME, promotion.CHAMPION)
        assert champion in {str(v.version) for v in versions}
        assert (champion == result.model_version) == (result.promoted_to == promotion.CHAMPION)
        assert client.get_run(result.run_id).info.status == "FINISHED"
