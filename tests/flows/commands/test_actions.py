"""`sparkpick launch` and `sparkpick actions` as users start them, against the fake TikTok server; a launch
killed (SIGKILL) while TikTok holds its answer resumes without a second ad."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkpick.config import Settings
from sparkpick.home import Home
from sparkpick.sources.tiktok.actions import marker
from sparkpick.warehouse import read_actions
from tests.entry_point import SPARKPICK
from tests.sparkpick.sources.tiktok.fake_server import (
    ADV,
    AS_OF,
    AS_OF_UTC,
    TOKEN,
    WRITES,
    FakeTikTokServer,
    World,
    acting_home,
    ad_account,
    sample_world,
)


@pytest.fixture
def world() -> World:
    return ad_account(sample_world(AS_OF))


@pytest.fixture
def server(world: World) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, TOKEN) as srv:
        yield srv


@pytest.fixture
def config(tmp_path: Path, server: FakeTikTokServer, home: Home, settings: Settings) -> Path:
    return acting_home(server, home, settings, tmp_path)


def sparkpick(home: Home, config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TIKTOK_ACCESS_TOKEN": TOKEN, "COLUMNS": "300"}
    return subprocess.Popen([SPARKPICK, "--home", str(home.root), "--config", str(config), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def done(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def post(world: World) -> str:
    return str(world.authorisations[ADV][4]["item_info"]["item_id"])


def test_launch_without_apply_prints_the_calls_and_sends_none(
    home: Home, config: Path, server: FakeTikTokServer, world: World
) -> None:
    code, out, err = done(sparkpick(home, config, "launch", post(world), "--daily-budget", "40",
                                    "--as-of", "2026-11-01T06:30:00"))
    assert code == 0, err
    assert "Dry run" in out and "POST ad/create/" in out and "SINGLE_VIDEO" in out
    assert [r for r in server.requests if r.endpoint in WRITES] == []
    assert set(read_actions(home.warehouse)["status"]) == {"planned"}
    assert TOKEN not in out + err


def test_a_killed_launch_resumes_without_a_duplicate(
    home: Home, config: Path, server: FakeTikTokServer, world: World
) -> None:
    server.hang_s = 60.0  # TikTok made the ad and holds its answer: the run is killed while it waits
    server.fail("ad/create/", "after_commit:timeout")
    proc = sparkpick(home, config, "launch", post(world), "--daily-budget", "40", "--apply",
                     "--as-of", "2026-11-01T06:30:00")
    deadline = time.monotonic() + 60
    while not server.calls("ad/create/") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.calls("ad/create/"), "the launch never reached ad/create/"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert next(a for a in world.ads[ADV] if a["tiktok_item_id"] == post(world))["operation_status"] == "DISABLE"
    assert "intent" in set(read_actions(home.warehouse)["status"])
    server.hang_s = 0.0
    code, out, err = done(sparkpick(home, config, "launch", post(world), "--daily-budget", "40", "--apply",
                                    "--as-of", "2026-11-01T06:30:00"))
    assert code == 0, out + err
    ads = [a for a in world.ads[ADV] if a["tiktok_item_id"] == post(world)]
    assert len(ads) == 1 and ads[0]["operation_status"] == "ENABLE" and ads[0]["ad_name"] == marker(post(world))
    assert len(server.calls("ad/create/")) == 1 and len(server.calls("adgroup/create/")) == 1
    log = read_actions(home.warehouse)
    assert log.set_index("kind").loc["create_ad", "status"] == "reconciled"
    assert "intent" not in set(log["status"])
    # The log as JSON lines, every call with its read-back.
    code, out, err = done(sparkpick(home, config, "actions", "--json"))
    rows = [json.loads(line) for line in out.splitlines()]
    sent = [r for r in rows if r["status"] in ("done", "reconciled")]
    assert code == 0 and sent and all(r["state_after"] for r in sent)
    assert TOKEN not in out


def test_a_refused_pick_exits_1_with_its_reason(home: Home, config: Path, world: World) -> None:
    expired = str(world.authorisations[ADV][2]["item_info"]["item_id"])
    code, out, err = done(sparkpick(home, config, "launch", expired, post(world), "--daily-budget", "40",
                                    "--apply", "--as-of", "2026-11-01T06:30:00"))
    assert code == 1
    assert f"Post {expired}: launch - refused" in out and "expired" in out
    assert f"Post {post(world)}: launch - launched" in out  # the bad pick did not sink the other
    code, out, err = done(sparkpick(home, config, "launch", "999", "--daily-budget", "40"))
    assert code == 2 and "999" in err


def test_actions_lists_the_log_and_undo_reverts_a_pause(
    home: Home, config: Path, server: FakeTikTokServer, world: World, settings: Settings
) -> None:
    import pandas as pd

    from flows.actions import account_actions
    from flows.invocation import resolve

    inv = resolve(home.root, config)
    live = next(a for a in world.ads[ADV] if a["ad_id"] == "1781111111111111111")
    with account_actions(home, inv.settings, TOKEN, mode="apply", requested_by="schedule:monitor", run_id="m",
                         as_of=AS_OF_UTC, clock=lambda: pd.Timestamp("2026-11-01 06:31")) as acts:
        paused = acts.pause(live["tiktok_item_id"], ADV, spend=80.0, reason="dearer than in-feed")
    assert paused.status == "done" and live["operation_status"] == "DISABLE"
    code, out, err = done(sparkpick(home, config, "actions"))
    assert code == 0 and f"#{paused.action_ids[-1]} " in out and "pause - done, read back" in out
    code, out, err = done(sparkpick(home, config, "actions", "--undo", str(paused.action_ids[-1])))
    assert code == 0, out + err
    assert "undo a pause - done, read back" in out and live["operation_status"] == "ENABLE"
    code, out, err = done(sparkpick(home, config, "actions", "--undo", str(paused.action_ids[-1])))
    assert code == 2 and "already undone" in err
