"""The approval step through a real Prefect server: the flow run suspends with its form, the answer is sent
through Prefect's API, the flow resumes and launches against the fake TikTok server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.approval import Pick, approval_fields, approval_states, ready_picks
from sparkpick.config import Settings
from sparkpick.home import Home
from sparkpick.warehouse import read_actions
from tests.sparkpick.sources.tiktok.fake_server import (
    ADV,
    AS_OF,
    TOKEN,
    WRITES,
    FakeTikTokServer,
    World,
    acting,
    acting_home,
    ad_account,
    sample_world,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world() -> World:
    return ad_account(sample_world(AS_OF))


@pytest.fixture
def server(world: World) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, TOKEN) as srv:
        yield srv


def item(world: World, n: int) -> str:
    return str(world.authorisations[ADV][n]["item_info"]["item_id"])


def test_ready_picks_and_the_form(settings: Settings) -> None:
    shortlist = pd.DataFrame({"advertiser_id": [ADV, ADV, "other"], "post_id": ["1", "2", "3"], "rank": [1, 2, 1],
                              "flag_no_auth_code": [False, True, False]})
    picks = ready_picks(shortlist, acting(settings))
    assert picks == [Pick(ADV, "1", 1, 30.0)]  # no code: not ready; "other": not configured
    fields = approval_fields(picks)
    assert list(fields) == ["approve_1", "budget_1"] and fields["budget_1"][1].default == 30.0


def test_states_for_the_report() -> None:
    log = pd.DataFrame([
        {"action_id": 1, "post_id": "1", "kind": "approval", "status": "waiting", "note": "expires 2026-11-02 02:00 UTC"},
        {"action_id": 2, "post_id": "2", "kind": "approval", "status": "waiting", "note": "expires 2026-11-01 02:00 UTC"},
        {"action_id": 3, "post_id": "3", "kind": "approval", "status": "approved", "note": "daily budget 30.00"},
        {"action_id": 4, "post_id": "3", "kind": "enable_ad", "status": "done", "note": None},
        {"action_id": 5, "post_id": "4", "kind": "approval", "status": "approved", "note": ""},
        {"action_id": 6, "post_id": "4", "kind": "launch", "status": "refused", "note": "code expired"},
    ])
    assert approval_states(log, pd.Timestamp("2026-11-01 12:00")) == {
        "1": "waiting", "2": "expired", "3": "launched", "4": "refused: code expired"}


def test_a_night_without_the_served_deployment_says_how_to_approve(
    tmp_path: Path, home: Home, settings: Settings, server: FakeTikTokServer, prefect_harness: object
) -> None:
    from flows.deployments import request_approval
    from flows.invocation import resolve

    config = acting_home(server, home, settings, tmp_path)
    inv = resolve(home.root, config)
    shortlist = pd.DataFrame({"advertiser_id": [ADV], "post_id": ["1"], "rank": [1], "flag_no_auth_code": [False]})
    assert "sparkpick launch" in request_approval(inv, shortlist, pd.Timestamp("2026-11-01"))
    assert request_approval(inv, shortlist.iloc[:0], pd.Timestamp("2026-11-01")) == ""


def _wait(what: str, check: object, timeout_s: float = 120.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_the_approval_flow_suspends_resumes_with_the_answer_and_launches(
    tmp_path: Path, home: Home, settings: Settings, server: FakeTikTokServer, world: World
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import request_approval
    from flows.invocation import resolve
    from flows.prefect_server import free_port, local_prefect_server, stop_process_group

    config = acting_home(server, home, settings, tmp_path)
    approved, declined, expired = item(world, 4), item(world, 0), item(world, 1)
    picks = [{"advertiser_id": ADV, "post_id": p, "rank": r, "proposed_budget": 30.0}
             for r, p in enumerate([approved, declined, expired], start=1)]
    prefect_home = tmp_path / "prefect"
    with local_prefect_server(prefect_home, free_port(0), 120.0) as api:
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(prefect_home),
               "PREFECT_RUNNER_POLL_FREQUENCY": "1", "TIKTOK_ACCESS_TOKEN": TOKEN,
               "PYTHONPATH": str(ROOT), "SPARKPICK_HOME": str(home.root)}
        runner = subprocess.Popen(
            [sys.executable, "-c", "from flows.deployments import approval_flow; "
                                   "approval_flow.serve(name='approval', print_starting_message=False)"],
            env=env, cwd=str(tmp_path), start_new_session=True,
            stdout=open(tmp_path / "runner.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        try:
            with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
                _wait("the approval deployment", lambda: _deployment(client))
                # What the night does at its end: offer its ready-to-boost picks.
                shortlist = pd.DataFrame(picks).assign(flag_no_auth_code=False)
                said = request_approval(resolve(home.root, config), shortlist, pd.Timestamp("2026-11-01 06:30"))
                assert "3 pick(s) await approval" in said
                [run] = client.read_flow_runs()
                _wait("the run to suspend", lambda: client.read_flow_run(run.id).state.is_paused())
                state = client.read_flow_run(run.id).state
                assert state.name == "Suspended"
                assert [r for r in server.requests if r.endpoint in WRITES] == []
                waiting = read_actions(home.warehouse)
                assert sorted(waiting["post_id"]) == sorted([approved, declined, expired])
                assert set(waiting["status"]) == {"waiting"}
                resume_flow_run(run.id, run_input={
                    f"approve_{approved}": True, f"budget_{approved}": 35.0,
                    f"approve_{declined}": False, f"budget_{declined}": 30.0,
                    f"approve_{expired}": True, f"budget_{expired}": 30.0})
                _wait("the run to finish", lambda: client.read_flow_run(run.id).state.is_final(), 180.0)
                final = client.read_flow_run(run.id).state
                assert final.is_completed(), (final, (tmp_path / "runner.log").read_text(errors="replace")[-3000:])
                # A form nobody answers expires (here after 3 s): nothing approved, nothing sent.
                hasty = tmp_path / "hasty.yaml"
                overlay = yaml.safe_load(config.read_text(encoding="utf-8"))
                overlay["actions"]["approval_timeout_hours"] = 3 / 3600
                hasty.write_text(yaml.safe_dump(overlay), encoding="utf-8")
                sent = len([r for r in server.requests if r.endpoint in WRITES])
                request_approval(resolve(home.root, hasty), shortlist.iloc[1:2], pd.Timestamp("2026-11-01 06:30"))
                late = next(r for r in client.read_flow_runs() if r.id != run.id)
                _wait("the unanswered run to expire", lambda: client.read_flow_run(late.id).state.is_final(), 120.0)
                assert not client.read_flow_run(late.id).state.is_completed()
                assert len([r for r in server.requests if r.endpoint in WRITES]) == sent
        finally:
            stop_process_group(runner)
    ads = [a for a in world.ads[ADV] if a["tiktok_item_id"] == approved]
    assert len(ads) == 1 and ads[0]["operation_status"] == "ENABLE"
    group = next(g for g in world.adgroups[ADV] if g["adgroup_id"] == ads[0]["adgroup_id"])
    assert group["budget"] == 35.0
    assert not [a for a in world.ads[ADV] if a["tiktok_item_id"] == declined and a.get("ad_name", "").startswith(
        "sparkpick")]
    # The form's expiry is stamped on the wall clock (the run waits in real time).
    states = approval_states(read_actions(home.warehouse), pd.Timestamp.now(tz="UTC").tz_localize(None))
    assert states[approved] == "launched" and states[declined] == "expired"  # offered again, then expired
    assert states[expired].startswith("refused:") and "expired" in states[expired]


def _deployment(client: object) -> object:
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name("approval/approval")  # type: ignore[attr-defined]
    except ObjectNotFound:
        return None


def test_report_states_from_the_log(home: Home, settings: Settings) -> None:
    from flows.approval import report_states
    from sparkpick.warehouse import add_action

    s = acting(settings)
    now = pd.Timestamp("2026-11-01 07:00")
    add_action(home.warehouse, {"run_id": "a", "logged_at": now, "advertiser_id": ADV, "kind": "approval",
                                "post_id": "1", "status": "approved", "note": "daily budget 30.00"})
    shortlist = pd.DataFrame({"advertiser_id": [ADV, ADV, ADV, "other"], "post_id": ["1", "2", "3", "4"],
                              "rank": [1, 2, 3, 1], "flag_no_auth_code": [False, False, True, False]})
    assert report_states(home, s, shortlist, now) == ["approved", "awaiting approval", "", ""]
