"""Clean-up after trainings that were killed: their runs marked FAILED, their unjudged versions deleted."""

from __future__ import annotations

import os
import socket
import time

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.promotion import PROMOTION_TAG
from models.run_record import HOST_TAG, PID_TAG

INTERRUPTED_TAG = "sparkpick.interrupted"
# A RUNNING run from before runs carried their process (or from another host) is abandoned after a day.
_UNTAGGED_RUN_STALE_S = 24 * 3600


def _process_gone(tags: dict[str, str]) -> bool:
    """Whether the process that tagged a run is known to be dead (same host, no such pid)."""
    if tags.get(HOST_TAG) != socket.gethostname():
        return False
    try:
        os.kill(int(tags.get(PID_TAG, "")), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OverflowError):
        return False
    return False


def sweep_interrupted(client: MlflowClient, experiment_id: str, model_name: str) -> list[str]:
    """Clean up after trainings that were killed: their runs stuck in RUNNING are marked FAILED, and any
    version the gate has not judged (no `promotion` tag, or a killed run's version holding no alias) is
    deleted. Returns one line per thing done.

    A run is abandoned when the process that started it (tagged with its host and pid) is gone, or, for a
    run without those tags, when it started over `_UNTAGGED_RUN_STALE_S` ago.
    """
    done: list[str] = []
    now_ms = time.time() * 1000
    abandoned: set[str] = set()
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'",
                                  max_results=1000):
        tags = run.data.tags
        untagged_stale = PID_TAG not in tags and now_ms - run.info.start_time > _UNTAGGED_RUN_STALE_S * 1000
        if _process_gone(tags) or untagged_stale:
            client.set_tag(run.info.run_id, INTERRUPTED_TAG, "the training process stopped before the run ended")
            client.set_terminated(run.info.run_id, status="FAILED")
            abandoned.add(run.info.run_id)
            done.append(f"run {run.info.run_id} was interrupted: marked FAILED")
    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return done
    for mv in versions:
        if mv.aliases or (PROMOTION_TAG in (mv.tags or {}) and mv.run_id not in abandoned):
            continue
        if mv.run_id not in abandoned:  # an unjudged version of a run still going is that run's business
            try:
                if client.get_run(mv.run_id).info.status == "RUNNING":  # type: ignore[arg-type]
                    continue
            except MlflowException:
                pass
        client.delete_model_version(model_name, mv.version)
        done.append(f"{model_name} v{mv.version} was never judged by the promotion gate: deleted")
    return done
