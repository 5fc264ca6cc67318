"""prefect.yaml written from the deployments `flows/deployments.py` builds, so the two cannot drift:
`python -m flows.prefect_yaml [--config FILE] > prefect.yaml` (tests/flows/test_prefect_yaml.py checks it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from sparkpick.config import Settings, load_settings

# Where `prefect deploy` finds the flows: this module's folder, relative to the repository root.
FLOWS_MODULE = "flows/deployments.py"
WORK_POOL = "sparkpick"

HEADER = """\
# Prefect deployments for sparkpick, for users who run a Prefect server and workers:
#
#   prefect server start                                   # or point PREFECT_API_URL at your server
#   prefect work-pool create sparkpick --type process
#   SPARKPICK_HOME=/srv/sparkpick prefect worker start --pool sparkpick
#   prefect deploy --all                                   # from this folder
#
# Written by `python -m flows.prefect_yaml > prefect.yaml` from flows/deployments.py and the schedules in
# configs/default.yaml (`--config FILE` for yours): edit those, not this file. On a single machine,
# `sparkpick serve` does all of this from one process and reads the schedules from your config instead.
"""

# Workers run the flows from the checkout `prefect deploy` ran in; they take their home from the worker's
# SPARKPICK_HOME environment variable, else from that folder.
_PULL = [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}]


def deployment_entry(deployment: Any) -> dict[str, Any]:
    """One `deployments:` entry of prefect.yaml for a deployment `build_deployments` made."""
    entry: dict[str, Any] = {
        "name": deployment.name,
        "entrypoint": f"{FLOWS_MODULE}:{deployment.entrypoint.rpartition(':')[2]}",
        "description": deployment.description,
        "tags": list(deployment.tags),
        "parameters": dict(deployment.parameters),
    }
    if deployment.schedules:
        entry["schedules"] = [{"cron": s.schedule.cron, "timezone": s.schedule.timezone, "active": s.active}
                              for s in deployment.schedules]
    if deployment.concurrency_limit is not None:
        options = deployment.concurrency_options
        entry["concurrency_limit"] = {"limit": deployment.concurrency_limit} | (
            {"collision_strategy": options.collision_strategy.value} if options is not None else {})
    entry["work_pool"] = {"name": WORK_POOL, "work_queue_name": None, "job_variables": {}}
    return entry


def prefect_yaml(settings: Settings) -> str:
    """The text of prefect.yaml for these settings' schedules."""
    from prefect import __version__ as prefect_version

    from flows.deployments import build_deployments

    spec = {"name": "sparkpick", "prefect-version": prefect_version, "build": None, "push": None, "pull": _PULL,
            "deployments": [deployment_entry(d) for d in build_deployments(None, settings)]}
    return HEADER + "\n" + yaml.safe_dump(spec, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.prefect_yaml", description=__doc__)
    parser.add_argument("--config", type=Path, help="a config overlay whose schedules the deployments take")
    args = parser.parse_args(argv)
    sys.stdout.write(prefect_yaml(load_settings(args.config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
