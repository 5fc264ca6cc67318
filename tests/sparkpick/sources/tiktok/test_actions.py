"""The money module against the fake TikTok server: what is sent, what is logged, and the faults."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home
from sparkpick.sources.tiktok import TikTokClient
from sparkpick.sources.tiktok.actions import (
    AccountActions,
    ActionPermissionError,
    marker,
)
from sparkpick.warehouse import read_actions
from tests.sparkpick.sources.tiktok.fake_server import (
    ADV,
    AS_OF,
    AS_OF_UTC,
    READONLY_TOKEN,
    SPARK_ADGROUP,
    TOKEN,
    WRITES,
    FakeTikTokServer,
    World,
    acting,
    ad_account,
    sample_world,
)

LIVE_POST_AD = "1781111111111111111"


@pytest.fixture
def world() -> World:
    return ad_account(sample_world(AS_OF))


@pytest.fixture
def server(world: World) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, TOKEN) as srv:
        srv.hang_s = 1.0
        yield srv


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    return acting(settings)


def item(world: World, n: int) -> str:
    """The item id of the n-th authorisation of the sample advertiser (0: authorised, 1: its code expired
    by the as-of time, 2: EXPIRED, 4: an outside creator's, authorised)."""
    return str(world.authorisations[ADV][n]["item_info"]["item_id"])


def live_post(world: World) -> str:
    return next(a["tiktok_item_id"] for a in world.ads[ADV] if a["ad_id"] == LIVE_POST_AD)


@pytest.fixture
def actions(server: FakeTikTokServer, cfg: Settings, home: Home) -> Iterator[Callable[..., AccountActions]]:
    clients: list[TikTokClient] = []

    def make(mode: str = "apply", token: str = TOKEN, settings: Settings | None = None,
             as_of: pd.Timestamp = AS_OF_UTC) -> AccountActions:
        s = settings or cfg
        client = TikTokClient(server.base_url, token, s.tiktok)
        client._sleep = lambda _s: None
        clients.append(client)
        return AccountActions(client if mode != "shadow" else None, s, home, mode=mode,  # type: ignore[arg-type]
                              requested_by="person:test", run_id="r1", as_of=as_of,
                              clock=lambda: pd.Timestamp("2026-11-01 06:31:00"))

    yield make
    for c in clients:
        c.close()


def writes(server: FakeTikTokServer) -> list[tuple[str, Any]]:
    return [(r.endpoint, r.body) for r in server.requests if r.endpoint in WRITES]


def ads_of(world: World, post: str) -> list[dict[str, Any]]:
    return [a for a in world.ads[ADV] if a["tiktok_item_id"] == post]


def log(home: Home) -> pd.DataFrame:
    return read_actions(home.warehouse)


# -- launch ----------------------------------------------------------------------------------------------
def test_launch_sends_exactly_these_calls_and_logs_each_with_its_read_back(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    post = item(world, 4)
    out = actions().launch(post, ADV, daily_budget=40.0, reason="rank 1")
    assert out.status == "launched", out.reason
    sent = writes(server)
    assert [e for e, _ in sent] == ["tt_video/authorize/", "adgroup/create/", "ad/create/", "ad/status/update/"]
    assert sent[0][1] == {"advertiser_id": ADV, "auth_code": f"#code-{post}"}
    group = sent[1][1]
    assert group["budget"] == 40.0 and group["budget_mode"] == "BUDGET_MODE_DAY" and group["adgroup_name"] == marker(post)
    assert "age_groups" not in group and "gender" not in group  # broad: only the locations
    creative = sent[2][1]["creatives"][0]
    assert creative == {"ad_name": marker(post), "ad_format": "SINGLE_VIDEO", "tiktok_item_id": post,
                        "identity_type": "AUTH_CODE", "identity_id": "6911111111111111111",
                        "operation_status": "DISABLE"}
    assert sent[3][1] == {"advertiser_id": ADV, "ad_ids": [out.ad_id], "operation_status": "ENABLE"}
    [ad] = ads_of(world, post)
    assert ad["operation_status"] == "ENABLE" and ad["ad_id"] == out.ad_id
    rows = log(home)
    assert rows["status"].tolist() == ["done"] * 4
    assert rows["state_after"].notna().all() and rows["request"].notna().all()
    assert not rows.astype(str).apply(lambda c: c.str.contains(TOKEN, regex=False)).any().any()
    # Read back before the ad was enabled: the enable comes after a read of ad/get.
    order = [r.endpoint for r in server.requests]
    create = order.index("ad/create/")
    assert "ad/get/" in order[create + 1 : order.index("ad/status/update/")]


def test_a_dry_run_reads_but_sends_no_write_and_logs_the_plan(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    out = actions("dry_run").launch(item(world, 4), ADV, daily_budget=40.0)
    assert out.status == "planned"
    assert writes(server) == []
    assert [e for e, _ in out.calls] == ["tt_video/authorize/", "adgroup/create/", "ad/create/", "ad/status/update/"]
    assert set(log(home)["status"]) == {"planned"}


def test_a_relaunch_finds_the_ad_and_sends_nothing(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World
) -> None:
    post = item(world, 4)
    first = actions().launch(post, ADV, daily_budget=40.0)
    n = len(writes(server))
    again = actions().launch(post, ADV, daily_budget=40.0)
    assert again.status == "launched" and again.ad_id == first.ad_id
    assert len(writes(server)) == n and len(ads_of(world, post)) == 1


@pytest.mark.parametrize("endpoint,fault", [
    ("ad/create/", "after_commit:timeout"),
    ("ad/create/", "after_commit:http500"),
    ("ad/create/", "after_commit:40050"),
    ("ad/create/", "duplicate"),  # 40050 that did not go through: read, then sent once more
    ("ad/create/", "conflict"),
    ("ad/create/", "throttle"),
    ("ad/create/", "http429"),
    ("ad/create/", "http500"),  # a 5xx before TikTok did anything: read, then sent once more
    ("ad/status/update/", "partial"),  # 20001: judged by the read-back
    ("ad/status/update/", "after_commit:timeout"),
    ("adgroup/create/", "after_commit:http500"),
])
def test_exactly_one_ad_whatever_the_fault(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home,
    endpoint: str, fault: str,
) -> None:
    post = item(world, 4)
    server.fail(endpoint, fault)
    out = actions().launch(post, ADV, daily_budget=40.0)
    assert out.status == "launched", out.reason
    [ad] = ads_of(world, post)
    assert ad["operation_status"] == "ENABLE"
    assert len([g for g in world.adgroups[ADV] if g["adgroup_name"] == marker(post)]) == 1
    rows = log(home)
    row = rows[rows["endpoint"] == endpoint].iloc[-1]
    assert row["status"] in ("done", "reconciled") and row["state_after"]
    if fault.startswith("after_commit"):
        assert row["status"] == "reconciled"
        assert len([e for e, _ in writes(server) if e == endpoint]) == 1  # never resent blindly


def test_a_run_killed_between_call_and_answer_is_reconciled_without_a_duplicate(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = item(world, 4)
    real = AccountActions._finish

    def die_on_create(self: AccountActions, action_id: int, **fields: Any) -> None:
        row = log(home).set_index("action_id").loc[action_id]
        if row["kind"] == "create_ad" and fields.get("status") == "done":
            raise KeyboardInterrupt  # the process dies after TikTok made the ad, before the log says so
        real(self, action_id, **fields)

    monkeypatch.setattr(AccountActions, "_finish", die_on_create)
    with pytest.raises(KeyboardInterrupt):
        actions().launch(post, ADV, daily_budget=40.0)
    monkeypatch.setattr(AccountActions, "_finish", real)
    assert log(home).set_index("kind").loc["create_ad", "status"] == "intent"
    out = actions().launch(post, ADV, daily_budget=40.0)
    assert out.status == "launched"
    assert len(ads_of(world, post)) == 1
    assert len([e for e, _ in writes(server) if e == "ad/create/"]) == 1
    assert log(home).set_index("kind").loc["create_ad", "status"] == "reconciled"


@pytest.mark.parametrize("n,words", [(1, "expired at"), (2, "expired, not authorised")])
def test_a_pick_whose_code_expired_is_refused_with_the_reason(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home, n: int, words: str
) -> None:
    out = actions().launch(item(world, n), ADV, daily_budget=40.0)
    assert out.status == "refused" and words in out.reason
    assert writes(server) == []
    assert log(home)["status"].tolist() == ["refused"]


def test_a_deleted_post_is_refused(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World
) -> None:
    world.authorisations[ADV][4]["item_info"]["status"] = "deleted"
    out = actions().launch(item(world, 4), ADV, daily_budget=40.0)
    assert out.status == "refused" and "no longer available" in out.reason and writes(server) == []


def test_a_token_without_write_permission_names_the_scope(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    with pytest.raises(ActionPermissionError, match="Creative Management") as err:
        actions(token=READONLY_TOKEN).launch(item(world, 4), ADV, daily_budget=40.0)
    assert "tt_video/authorize/" in str(err.value) and READONLY_TOKEN not in str(err.value)
    assert log(home)["status"].tolist() == ["failed"]
    assert ads_of(world, item(world, 4)) == []


def test_no_launch_crosses_the_daily_budget_cap(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    # The live boost's ad group holds 50 of the cap of 200.
    out = actions().launch(item(world, 4), ADV, daily_budget=151.0)
    assert out.status == "refused" and "above the cap of 200.00" in out.reason and writes(server) == []
    assert actions().launch(item(world, 4), ADV, daily_budget=150.0).status == "launched"


def test_a_relaunch_does_not_undo_a_pause(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World
) -> None:
    post = item(world, 4)
    launched = actions().launch(post, ADV, daily_budget=40.0)
    paused = actions().pause(post, ADV, spend=30.0, reason="dear")
    assert paused.status == "done" and paused.ad_id == launched.ad_id
    again = actions().launch(post, ADV, daily_budget=40.0)
    assert again.status == "refused" and f"--undo {paused.action_ids[-1]}" in again.reason
    assert ads_of(world, post)[0]["operation_status"] == "DISABLE"


def test_a_launch_into_an_existing_ad_group_adds_no_ad_group(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    post = item(world, 4)
    out = actions().launch(post, ADV, daily_budget=None, adgroup_id=SPARK_ADGROUP)
    assert out.status == "launched" and out.adgroup_id == SPARK_ADGROUP
    assert [e for e, _ in writes(server)] == ["tt_video/authorize/", "ad/create/", "ad/status/update/"]
    assert len(world.adgroups[ADV]) == 1


# -- the monitor's decisions ------------------------------------------------------------------------------
def test_pause_disables_the_live_ad_and_undo_enables_it(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    post = live_post(world)
    out = actions().pause(post, ADV, spend=30.0, reason="dearer than in-feed")
    assert out.status == "done" and out.ad_id == LIVE_POST_AD
    assert writes(server) == [("ad/status/update/", {"advertiser_id": ADV, "ad_ids": [LIVE_POST_AD],
                                                      "operation_status": "DISABLE"})]
    again = actions().pause(post, ADV, spend=30.0, reason="dearer than in-feed")
    assert again.status == "already" and len(writes(server)) == 1
    undo = actions().undo(out.action_ids[-1])
    assert undo.status == "done" and ads_of(world, post)[0]["operation_status"] == "ENABLE"
    rows = log(home)
    assert rows.iloc[-1]["undo_of"] == out.action_ids[-1] and rows.iloc[-1]["kind"] == "undo_pause"


def test_no_pause_before_the_minimum_spend(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World
) -> None:
    out = actions().pause(live_post(world), ADV, spend=4.0, reason="dear")
    assert out.status == "refused" and "min_spend_before_pause" in out.reason and server.requests == []


def test_scale_raises_by_the_step_once_a_day_within_the_cap(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, cfg: Settings, home: Home
) -> None:
    post = live_post(world)
    out = actions().scale(post, ADV, reason="cheaper", proposed_share=0.5)
    assert out.status == "done"
    assert writes(server) == [("adgroup/update/", {"advertiser_id": ADV, "adgroup_id": SPARK_ADGROUP, "budget": 60.0})]
    again = actions(as_of=AS_OF_UTC + pd.Timedelta(hours=2)).scale(post, ADV, reason="cheaper")
    assert again.status == "refused" and "budget_step_min_hours" in again.reason and len(writes(server)) == 1
    # A day later, with a cap of 65: the raise stops at the cap (not 72).
    tight = with_overrides(cfg, {"actions": {"advertisers": {ADV: {"daily_budget_cap": 65.0}}}})
    later = actions(settings=tight, as_of=AS_OF_UTC + pd.Timedelta(hours=25)).scale(post, ADV, reason="cheaper")
    assert later.status == "done" and writes(server)[-1][1]["budget"] == 65.0
    capped = actions(settings=tight, as_of=AS_OF_UTC + pd.Timedelta(hours=50)).scale(post, ADV, reason="cheaper")
    assert capped.status == "refused" and "at its cap" in capped.reason
    assert max(g["budget"] for g in world.adgroups[ADV]) == 65.0
    undo = actions(settings=tight).undo(later.action_ids[-1])
    assert undo.status == "done" and world.adgroups[ADV][0]["budget"] == 60.0


def test_shadow_mode_sends_nothing_at_all_and_logs_the_plan(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    shadow = actions("shadow")
    assert shadow.pause(live_post(world), ADV, spend=30.0, reason="dear").status == "planned"
    assert shadow.scale(live_post(world), ADV, reason="cheap").status == "planned"
    assert server.requests == []
    rows = log(home)
    assert rows["status"].tolist() == ["planned", "planned"] and rows["mode"].tolist() == ["shadow", "shadow"]
    assert json.loads(rows["request"].iloc[0])["operation_status"] == "DISABLE"


def test_the_kill_switch_stops_every_call(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home, cfg: Settings
) -> None:
    (home.root / "STOP_ACTIONS").touch()
    out = actions().launch(item(world, 4), ADV, daily_budget=40.0)
    assert out.status == "refused" and "kill switch" in out.reason
    assert actions().pause(live_post(world), ADV, spend=30.0, reason="d").status == "refused"
    (home.root / "STOP_ACTIONS").unlink()
    off = with_overrides(cfg, {"actions": {"enabled": False}})
    assert "actions.enabled" in actions(settings=off).scale(live_post(world), ADV, reason="c").reason
    assert server.requests == []


def test_the_circuit_breaker_opens_after_failed_calls(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    server.fail("ad/status/update/", "bad_param", times=10)
    for _ in range(3):
        assert actions().pause(live_post(world), ADV, spend=30.0, reason="d").status == "failed"
    n = len(server.requests)
    out = actions().pause(live_post(world), ADV, spend=30.0, reason="d")
    assert out.status == "refused" and "circuit breaker" in out.reason and len(server.requests) == n


def test_persistent_throttling_gives_up_after_the_attempts(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    server.fail("ad/status/update/", "throttle", times=10)
    out = actions().pause(live_post(world), ADV, spend=30.0, reason="d")
    assert out.status == "failed" and len(writes(server)) == 4  # actions.max_attempts
    assert "max_attempts" in log(home)["note"].iloc[-1]


def test_a_missing_scope_on_a_write_names_it(
    actions: Callable[..., AccountActions], server: FakeTikTokServer, world: World, home: Home
) -> None:
    server.fail("ad/status/update/", "scope")
    with pytest.raises(ActionPermissionError, match=r"ad/status/update/ \(code 40130\).*'Ads Management \(write\)'"):
        actions().pause(live_post(world), ADV, spend=30.0, reason="dear")
    assert log(home)["status"].tolist() == ["failed"]
    assert ads_of(world, live_post(world))[0]["operation_status"] == "ENABLE"
