"""The whole nightly pipeline on a small demo world: the CLI, idempotence, two runs at once, the report in
a real browser, and a real Prefect server serving the nightly deployment. Slow: minutes, not seconds."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest

from sparkpick.config import load_settings
from tests.browser import ARTIFACTS, console_errors, dump_dom, require_chromium, screenshot
from tests.e2e.worlds import with_built_world
from tests.entry_point import SPARKPICK

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SMALL_WORLD = """
world:
  sizes:
    default: {advertisers: 2, creators_per_advertiser: 4, posts: 160, days: 60}
nightly:
  retry_delay_s: 0
  lock_timeout_s: 600
"""
TABLES = ("creators", "partnerships", "posts", "metrics", "spark_results", "baselines", "scores")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "MLFLOW_DISABLE_TELEMETRY": "true", "PREFECT_LOGGING_LEVEL": "INFO"})
    env.update(extra)
    return env


def _sparkpick(home: Path, config: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPARKPICK, "--home", str(home), "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=env or _env(), check=False)


def _counts(home: Path) -> dict[str, int]:
    with duckdb.connect(str(home / "data" / "warehouse.duckdb"), read_only=True) as con:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in TABLES}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, e2e_world: Path) -> tuple[Path, Path]:
    """A home that has run one night through the Prefect flow (`sparkpick nightly`). Its demo world (the
    default size here has `e2e_world`'s sizes) is given to it built: test_demo_command.py builds one."""
    root = tmp_path_factory.mktemp("nightly-e2e")
    config = root / "small.yaml"
    config.write_text(SMALL_WORLD)
    home = with_built_world(root / "home", e2e_world, load_settings(config).world.seed, "default")
    done = _sparkpick(home, config, "nightly")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Top picks for " in done.stdout
    assert f"Report: {home / 'reports' / '2026-11-01' / 'shortlist.html'}" in done.stdout
    return home, config


def test_same_night_twice_adds_nothing(world: tuple[Path, Path]) -> None:
    home, config = world
    csv = home / "reports" / "2026-11-01" / "shortlist.csv"
    live = csv.parent / "live_boosts.csv"
    before, live_before, counts = csv.read_bytes(), live.read_bytes(), _counts(home)
    again = _sparkpick(home, config, "nightly", "--no-prefect")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _counts(home) == counts
    assert csv.read_bytes() == before
    assert live.read_bytes() == live_before
    # Nothing new (the same demo world, data, model, settings and time): the night repeats itself, and
    # keeps the report it wrote rather than rendering it again.
    assert "nothing changed since this night last ran" in again.stdout + again.stderr, again.stderr[-3000:]
    # As a Prefect flow too, but without starting Prefect (its temporary server costs more than the night).
    prefect_run = _sparkpick(home, config, "nightly")
    assert prefect_run.returncode == 0, prefect_run.stderr[-3000:]
    assert "without starting Prefect" in prefect_run.stdout and "Starting temporary server" not in prefect_run.stderr
    assert csv.read_bytes() == before and live.read_bytes() == live_before
    # A source file rewritten with other bytes but the same rows (a blank line at the end): the night
    # ingests again (nothing new), decodes nothing and reuses the scores and live boosts.
    posts = home / "cache" / "demo-world" / "posts.csv"
    posts.write_bytes(posts.read_bytes() + b"\n")
    touched = _sparkpick(home, config, "nightly", "--no-prefect")
    assert touched.returncode == 0, touched.stderr[-3000:]
    notes = json.loads((csv.parent / "report.json").read_text())["notes"]
    assert any(n.startswith("0 new or changed rows") for n in notes), notes
    assert any(n.startswith("0 videos analysed") for n in notes), notes
    assert any("scores are reused" in n for n in notes), notes
    assert _counts(home) == counts and csv.read_bytes() == before and live.read_bytes() == live_before
    shortlist = pd.read_csv(csv, dtype={"post_id": str})
    assert shortlist.groupby("advertiser_id").size().max() <= 5
    assert not shortlist.duplicated(["advertiser_id", "post_id"]).any()


def test_the_night_watches_live_boosts_and_keeps_a_track_record(world: tuple[Path, Path]) -> None:
    home, config = world
    folder = home / "reports" / "2026-11-01"
    info = json.loads((folder / "report.json").read_text())
    live = pd.read_csv(folder / "live_boosts.csv", dtype={"post_id": str})
    assert info["live_boosts"] == len(live) > 0, "the demo world has boosts live at its end"
    assert set(live["decision"]) <= {"too_early", "keep", "pause", "scale"} and live["reason"].notna().all()
    assert info["track_record"]["window_days"] == 60 and info["track_record"]["count"] >= 0
    html = (folder / "shortlist.html").read_text(encoding="utf-8")
    assert html.index('id="live-boosts"') < html.index('id="shortlist"')
    assert html.count('<article class="live-card') == len(live)
    # The track record is on the serving model version in MLflow.
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("sparkpick-ranker", "champion")
    assert version.tags["track_record.count"] == str(info["track_record"]["count"])
    assert ("validation_rank_correlation" in version.tags or "band_coverage" in version.tags
            or version.tags.get("kind") == "prior")  # the prior promised nothing: no promise to hold it to
    # `sparkpick monitor` at the same time agrees with the night.
    done = _sparkpick(home, config, "monitor", "--as-of", "2026-11-01T00:00", "--out", str(home / "live.csv"))
    assert done.returncode == 0, done.stderr[-3000:]
    again = pd.read_csv(home / "live.csv", dtype={"post_id": str})
    assert sorted(again["post_id"]) == sorted(live["post_id"])
    assert "Model track record" in done.stdout


def test_two_nightly_commands_at_once(world: tuple[Path, Path]) -> None:
    home, config = world
    counts = _counts(home)
    # Without the kept night, the first run ingests, featurizes and scores (seconds) while the second waits;
    # a repeated night holds the lock too briefly for the two to meet reliably.
    (home / "cache" / "nightly" / "night.json").unlink(missing_ok=True)
    procs = [subprocess.Popen([SPARKPICK, "--home", str(home), "--config", str(config), "nightly", "--no-prefect"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert any("waiting" in err for _, err in outs), "one run should have waited for the other's lock"
    assert _counts(home) == counts


def test_report_opens_in_chromium(world: tuple[Path, Path]) -> None:
    home, _ = world
    html = home / "reports" / "latest" / "shortlist.html"
    browser = require_chromium()
    dom, log = dump_dom(browser, html.as_uri())
    assert 'data-js="ready"' in dom and console_errors(log) == []
    rows = re.findall(r'<tr class="pick', dom)
    assert 0 < len(rows) <= 10
    # The trained ranker serves only once it proved better than the brief's rules; the page says which.
    ranking = json.loads((html.parent / "report.json").read_text()).get("ranking") or ""
    if ranking.startswith("Ranked by the brief's rules"):
        assert "The cost column is not an estimate yet" in dom
    else:
        assert "Each conversion should cost about" in dom
    screenshot(browser, html.as_uri(), ARTIFACTS / "e2e" / "nightly-report.png", size=(1440, 1600))


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def _post_ok(url: str, body: dict[str, object], logs: Path, attempts: int = 5) -> dict[str, object]:
    """POST and return the JSON answer of a 2xx reply.

    A Prefect server on SQLite can answer 5xx while another writer (the serving process's heartbeats and
    polls) holds the database, so a server error is retried a few times; any other reply fails the test
    with the answer and the logs, which is what one needs to tell a bug from a busy server."""
    answer = None
    for attempt in range(attempts):
        answer = httpx.post(url, json=body, timeout=30)
        if answer.status_code < 500:
            break
        time.sleep(2.0 * (attempt + 1))
    assert answer is not None
    if not answer.is_success:
        tails = {p.name: p.read_text(errors="replace")[-3000:] for p in logs.rglob("*.log")}
        raise AssertionError(f"POST {url} answered {answer.status_code}: {answer.text[:2000]}\n{tails}")
    return answer.json()


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[str]:
    """A real `prefect server start` on 127.0.0.1 with its own PREFECT_HOME."""
    from flows.prefect_server import free_port, stop_process_group, wait_healthy

    port = free_port(0)
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(PREFECT_HOME=str(tmp_path / "prefect")), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(url, 120, server)
        yield url
    finally:
        stop_process_group(server)
        log.close()


def test_real_server_serves_and_runs_the_nightly_deployment(
    world: tuple[Path, Path], prefect_server: str, tmp_path: Path
) -> None:
    home, config = world
    html = home / "reports" / "2026-11-01" / "shortlist.html"
    html.unlink()
    env = _env(PREFECT_API_URL=prefect_server, PREFECT_HOME=str(tmp_path / "client"))
    serve_log = (tmp_path / "serve.log").open("w")
    serving = subprocess.Popen([SPARKPICK, "--home", str(home), "--config", str(config), "serve"],
                               env=env, stdout=serve_log, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        def registered() -> bool:
            answer = httpx.post(f"{prefect_server}/deployments/filter", json={}, timeout=5)
            names = {d["name"] for d in answer.json()} if answer.status_code == 200 else set()
            return {"nightly", "train"} <= names
        _wait_for(registered, 120, "the served deployments")
        deployments = httpx.post(f"{prefect_server}/deployments/filter", json={}, timeout=5).json()
        nightly = next(d for d in deployments if d["name"] == "nightly")
        crons = [s["schedule"]["cron"] for s in nightly["schedules"]]
        assert crons == ["0 2 * * *"] and nightly["schedules"][0]["schedule"]["timezone"] == "Europe/Amsterdam"

        run = _post_ok(f"{prefect_server}/deployments/{nightly['id']}/create_flow_run",
                       {"parameters": {"as_of": "2026-11-01T00:00:00"}}, tmp_path)

        def finished() -> bool:
            answer = httpx.get(f"{prefect_server}/flow_runs/{run['id']}", timeout=10)
            if answer.status_code >= 500:
                return False  # a busy SQLite server; asked again a second later
            state = answer.json()["state"]["type"]
            return state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
        _wait_for(finished, 600, "the nightly flow run")
        state = httpx.get(f"{prefect_server}/flow_runs/{run['id']}", timeout=5).json()["state"]
        assert state["type"] == "COMPLETED", state
        assert html.exists()
        artifacts = httpx.post(f"{prefect_server}/artifacts/filter",
                               json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}, timeout=5).json()
        assert {"sparkpick-top-picks", "sparkpick-report"} <= {a["key"] for a in artifacts}
    finally:
        os.killpg(serving.pid, signal.SIGINT)
        try:
            serving.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(serving.pid, signal.SIGKILL)
        serve_log.close()


def test_serve_starts_and_stops_its_own_server(world: tuple[Path, Path], tmp_path: Path) -> None:
    home, config = world
    out = (tmp_path / "serve.log").open("w")
    serving = subprocess.Popen([SPARKPICK, "--home", str(home), "--config", str(config), "serve"],
                               env=_env(PREFECT_HOME=str(tmp_path / "client")), stdout=out,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    log = tmp_path / "serve.log"
    try:
        _wait_for(lambda: "Serving 'nightly'" in log.read_text(), 180, "sparkpick serve to start")
        ui = re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+)", log.read_text()).group(1)
        assert httpx.get(f"{ui}/api/health", timeout=5).status_code == 200
        _wait_for(lambda: any(d["name"] == "nightly" for d in
                              httpx.post(f"{ui}/api/deployments/filter", json={}, timeout=5).json()),
                  60, "the nightly deployment")
    finally:
        os.killpg(serving.pid, signal.SIGTERM)
        serving.wait(90)
        out.close()
    assert "Prefect server stopped." in log.read_text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{ui}/api/health", timeout=3)
