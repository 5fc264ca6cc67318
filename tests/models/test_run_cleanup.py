"""Clean-up after killed trainings, on a real SQLite store: abandoned runs FAILED, unjudged versions deleted."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from models import mlflow_store, promotion, run_cleanup, run_record

NAME = "sparkpick-ranker"
DAY_MS = 24 * 3600 * 1000


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_abandoned_runs_are_failed_and_what_the_gate_never_judged_is_deleted(store: tuple[str, Path]) -> None:
    uri, root = store
    now_ms = int(time.time() * 1000)
    with mlflow_store.tracking(uri) as client:
        exp = mlflow_store.ensure_experiment(client, "sparkpick", root)
        here = {run_record.HOST_TAG: socket.gethostname()}
        dead = client.create_run(exp, tags={**here, run_record.PID_TAG: str(_dead_pid())}).info.run_id
        stale = client.create_run(exp, start_time=now_ms - 2 * DAY_MS).info.run_id  # no process tagged, old
        recent = client.create_run(exp, start_time=now_ms).info.run_id             # no process tagged, new
        finished = client.create_run(exp).info.run_id
        client.set_terminated(finished)
        client.create_registered_model(NAME)
        judged = client.create_model_version(NAME, source="file:///x", run_id=finished,
                                             tags={promotion.PROMOTION_TAG: "kept champion v1"}).version
        unjudged = client.create_model_version(NAME, source="file:///y", run_id=finished).version
        in_progress = client.create_model_version(NAME, source="file:///z", run_id=recent).version

        lines = run_cleanup.sweep_interrupted(client, exp, NAME)

        status = {r: client.get_run(r).info.status for r in (dead, stale, recent, finished)}
        assert status == {dead: "FAILED", stale: "FAILED", recent: "RUNNING", finished: "FINISHED"}
        assert client.get_run(dead).data.tags[run_cleanup.INTERRUPTED_TAG]
        left = {v.version for v in client.search_model_versions(f"name = '{NAME}'")}
        assert left == {judged, in_progress}  # a version of a run still going is that run's business
        assert sum("marked FAILED" in line for line in lines) == 2
        assert [line for line in lines if "never judged" in line] == [
            f"{NAME} v{unjudged} was never judged by the promotion gate: deleted"]
        assert run_cleanup.sweep_interrupted(client, exp, NAME) == []  # nothing left to do
