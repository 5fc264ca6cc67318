"""The monitor's decisions carried out per actions.modes, against the fake TikTok server."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from flows.actions import carry_out_decisions
from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home
from sparkpick.warehouse import read_actions
from tests.sparkpick.sources.tiktok.fake_server import (
    ADV,
    AS_OF,
    AS_OF_UTC,
    TOKEN,
    WRITES,
    FakeTikTokServer,
    World,
    acting,
    ad_account,
    sample_world,
)

LIVE_AD = "1781111111111111111"


@pytest.fixture
def world() -> World:
    return ad_account(sample_world(AS_OF))


@pytest.fixture
def server(world: World) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, TOKEN) as srv:
        yield srv


def boosts(world: World, decision: str) -> pd.DataFrame:
    post = next(a["tiktok_item_id"] for a in world.ads[ADV] if a["ad_id"] == LIVE_AD)
    return pd.DataFrame([
        {"advertiser_id": ADV, "post_id": post, "decision": decision, "spend": 80.0, "reason": "the monitor's words"},
        {"advertiser_id": ADV, "post_id": "123", "decision": "keep", "spend": 80.0, "reason": "fine"},
        {"advertiser_id": "other", "post_id": "456", "decision": "pause", "spend": 80.0, "reason": "not ours"},
    ])


def settings_for(settings: Settings, server: FakeTikTokServer, pause: str, scale: str) -> Settings:
    s = acting(settings)
    return with_overrides(s, {"tiktok": {"base_url": server.base_url},
                              "actions": {"advertisers": {ADV: {"modes": {"pause": pause, "scale": scale}}}}})


def test_recommend_plans_nothing_and_shadow_sends_nothing(
    settings: Settings, server: FakeTikTokServer, world: World, home: Home
) -> None:
    s = settings_for(settings, server, "recommend", "shadow")
    carried = carry_out_decisions(home, s, None, boosts(world, "pause"), run_id="m1", as_of=AS_OF_UTC)
    assert carried.outcomes == [] and carried.recommended == 2  # ours (recommend) and the unconfigured one
    assert read_actions(home.warehouse).empty
    carried = carry_out_decisions(home, s, None, boosts(world, "scale"), run_id="m2", as_of=AS_OF_UTC)
    assert [o.status for o in carried.outcomes] == ["planned"]
    assert server.requests == []
    assert read_actions(home.warehouse)["mode"].tolist() == ["shadow"]


def test_auto_pauses_within_the_rules_and_logs_the_read_back(
    settings: Settings, server: FakeTikTokServer, world: World, home: Home
) -> None:
    s = settings_for(settings, server, "auto", "recommend")
    carried = carry_out_decisions(home, s, TOKEN, boosts(world, "pause"), run_id="m1", as_of=AS_OF_UTC)
    assert [o.status for o in carried.outcomes] == ["done"]
    assert [r.endpoint for r in server.requests if r.endpoint in WRITES] == ["ad/status/update/"]
    assert next(a for a in world.ads[ADV] if a["ad_id"] == LIVE_AD)["operation_status"] == "DISABLE"
    row = read_actions(home.warehouse).iloc[0]
    assert row["requested_by"] == "schedule:monitor" and row["reason"] == "the monitor's words"
    assert row["state_before"] and row["state_after"] and row["status"] == "done"
    # The next hour: the same decision finds the ad paused and sends nothing.
    again = carry_out_decisions(home, s, TOKEN, boosts(world, "pause"), run_id="m2",
                                as_of=AS_OF_UTC + pd.Timedelta(hours=1))
    assert [o.status for o in again.outcomes] == ["already"]
    assert len([r for r in server.requests if r.endpoint in WRITES]) == 1


def test_auto_without_a_token_says_which_variable(settings: Settings, server: FakeTikTokServer, world: World,
                                                  home: Home) -> None:
    s = settings_for(settings, server, "auto", "auto")
    with pytest.raises(Exception, match="TIKTOK_ACCESS_TOKEN"):
        carry_out_decisions(home, s, None, boosts(world, "pause"), run_id="m1", as_of=AS_OF_UTC)


def test_the_breaker_opening_mid_run_stops_the_advertiser_and_says_so(
    settings: Settings, server: FakeTikTokServer, world: World, home: Home
) -> None:
    s = with_overrides(settings_for(settings, server, "auto", "auto"), {"actions": {"circuit_breaker_failures": 1}})
    server.fail("ad/status/update/", "bad_param")
    frame = boosts(world, "pause")
    second = frame.iloc[[0]].assign(decision="scale")
    carried = carry_out_decisions(home, s, TOKEN, pd.concat([frame, second]), run_id="m1", as_of=AS_OF_UTC)
    assert [o.status for o in carried.outcomes] == ["failed", "refused"]  # the scale never went out
    assert "circuit breaker" in carried.outcomes[1].reason
    assert "circuit breaker" in carried.stopped[ADV]
    assert [r.endpoint for r in server.requests if r.endpoint in WRITES] == ["ad/status/update/"]
