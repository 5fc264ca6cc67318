"""One `sparkpick serve` per home: a second one stops at once (exit 2) naming the first's process, and never
pauses the deployments the first one serves (Prefect's runner pauses what it served when it stops)."""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.lock import SERVE_LOCK, run_lock
from sparkpick.home import Home
from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update({"PYTHONPATH": str(REPO), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "MLFLOW_DISABLE_TELEMETRY": "true"})
    return env


def _hold(path: str, ready: Any, release: Any) -> None:
    with run_lock(Path(path), timeout_s=0, what="sparkpick serve"):
        ready.set()
        release.wait(60)


def test_a_second_serve_exits_2_naming_the_first_and_starts_nothing(home: Home) -> None:
    ctx = mp.get_context("fork")  # the child only takes a file lock and waits
    ready, release = ctx.Event(), ctx.Event()
    first = ctx.Process(target=_hold, args=(str(home.data / SERVE_LOCK), ready, release))
    first.start()
    try:
        assert ready.wait(30)
        done = subprocess.run([SPARKPICK, "--home", str(home.root), "serve"], capture_output=True, text=True,
                              timeout=120, env=_env(), check=False)
    finally:
        release.set()
        first.join(30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"process {first.pid}" in done.stderr and "Another `sparkpick serve`" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    # Refused before anything started: no Prefect server, no registration.
    assert not (home.root / "prefect" / "server.log").exists() and "Prefect" not in done.stdout


def _deployments(api: str) -> list[dict[str, Any]]:
    answer = httpx.post(f"{api}/deployments/filter", json={}, timeout=10)
    answer.raise_for_status()
    return list(answer.json())


@pytest.mark.slow
def test_a_second_serve_never_pauses_the_first_ones_deployments(home: Home, tmp_path: Path) -> None:
    system_tmp = tmp_path / "system-tmp"  # Prefect's runner_storage folders went there
    system_tmp.mkdir()
    env = {**_env(), "TMPDIR": str(system_tmp)}
    first = subprocess.Popen([SPARKPICK, "--home", str(home.root), "serve"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        api = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = first.stdout.readline()
            assert line, "serve ended early"
            if found := re.search(r"Prefect UI: (http://\S+)", line):
                api = f"{found.group(1)}/api"
            if line.startswith("Serving"):
                break
        assert api is not None
        deadline = time.monotonic() + 60
        while len(_deployments(api)) < 3 and time.monotonic() < deadline:
            time.sleep(1)
        served = _deployments(api)
        assert served and not any(d["paused"] for d in served)

        second = subprocess.run([SPARKPICK, "--home", str(home.root), "serve"], capture_output=True, text=True,
                                timeout=120, env=_env(), check=False)
        assert second.returncode == 2 and f"process {first.pid}" in second.stderr, second.stderr
        time.sleep(2)
        assert not any(d["paused"] for d in _deployments(api))  # the first still fires its schedules
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(120)
    assert list(system_tmp.iterdir()) == []
    assert list(home.scratch.iterdir()) == []  # the serve's temporary folder went with it
