"""The TikTok client (`sparkpick.sources.tiktok.client`) against a real local HTTP server (fake_server.py):
paging, retries, errors and the access token that never leaks."""

from __future__ import annotations

import logging
import socket
import traceback

import pytest

from sparkpick.config import Settings
from sparkpick.errors import InputError
from sparkpick.sources.tiktok import (
    SPARK_LIST,
    VIDEO_LIST,
    TikTokApiError,
    TikTokClient,
    TikTokPermissionError,
    TikTokTokenError,
    TikTokUnavailableError,
    fetch_tables,
)
from tests.sparkpick.sources.tiktok.fake_server import ADV, AS_OF_UTC, BRAND, TOKEN, FakeTikTokServer, World, configured


# -- pagination --------------------------------------------------------------------------------------------------------
def test_cursor_pagination_reads_every_video_across_short_pages(
    client: TikTokClient, server: FakeTikTokServer, world: World
) -> None:
    got = list(client.iter_cursor(VIDEO_LIST, {"business_id": BRAND, "fields": ["item_id"]}, "videos"))
    expected = [v.get("item_id") for v in world.accounts[BRAND].videos]
    assert sorted(map(str, (v.get("item_id") for v in got))) == sorted(map(str, expected))
    calls = server.calls(VIDEO_LIST)
    assert all(int(c.params["max_count"]) <= 20 for c in calls)
    # Pages come short (10 of 20) with has_more true: 25 videos then take 3 requests, not 2.
    assert len(calls) >= 3
    assert "cursor" not in calls[0].params and all("cursor" in c.params for c in calls[1:])


def test_page_pagination_reads_every_page(client: TikTokClient, server: FakeTikTokServer, world: World) -> None:
    got = list(client.iter_pages(SPARK_LIST, {"advertiser_id": ADV}))
    assert len(got) == len(world.authorisations[ADV]) == 8
    assert [c.params["page"] for c in server.calls(SPARK_LIST)] == ["1", "2", "3"]


def test_page_limit_bounds_a_listing_and_says_so(server: FakeTikTokServer, settings: Settings) -> None:
    with TikTokClient(server.base_url, TOKEN, configured(settings, max_pages=2).tiktok) as c:
        got = list(c.iter_pages(SPARK_LIST, {"advertiser_id": ADV}))
        assert len(got) == 6
        assert any("cut short" in note for note in c.notes)


# -- retries and errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["throttle", "frequency", "http500", "http429", "malformed"])
def test_transient_failures_are_retried_then_succeed(
    client: TikTokClient, server: FakeTikTokServer, kind: str
) -> None:
    server.fail("business/get/", kind, times=2)
    data = client.get("business/get/", {"business_id": BRAND, "fields": ["username", "followers_count"]})
    assert data == {"username": "blendco", "followers_count": 182_400}
    assert len(server.calls("business/get/")) == 3


def test_backoff_is_exponential(client: TikTokClient, server: FakeTikTokServer, cfg: Settings) -> None:
    waits: list[float] = []
    client._sleep = waits.append
    server.fail("business/get/", "throttle", times=3)
    client.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    b = cfg.tiktok.backoff_s
    assert waits == pytest.approx([b, 2 * b, 4 * b])


def test_gives_up_after_max_retries(client: TikTokClient, server: FakeTikTokServer, cfg: Settings) -> None:
    server.fail("business/get/", "throttle", times=99)
    with pytest.raises(TikTokUnavailableError, match="after 4 attempts"):
        client.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    assert len(server.calls("business/get/")) == cfg.tiktok.max_retries + 1


def test_invalid_token_asks_to_refresh_it(server: FakeTikTokServer, cfg: Settings) -> None:
    with TikTokClient(server.base_url, "act.wrong-token", cfg.tiktok) as c, pytest.raises(TikTokTokenError) as err:
        c.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    message = str(err.value)
    assert "invalid" in message and "Refresh" in message and cfg.tiktok.token_env in message
    assert isinstance(err.value, InputError)  # the CLI exits with status 2: the user must act


def test_expired_token_is_not_retried(client: TikTokClient, server: FakeTikTokServer) -> None:
    server.fail(SPARK_LIST, "token_expired")
    with pytest.raises(TikTokTokenError, match="expired"):
        list(client.iter_pages(SPARK_LIST, {"advertiser_id": ADV}))
    assert len(server.calls(SPARK_LIST)) == 1


@pytest.mark.parametrize("kind", ["permission", "scope"])
def test_permission_errors_name_the_endpoint(client: TikTokClient, server: FakeTikTokServer, kind: str) -> None:
    server.fail(SPARK_LIST, kind)
    with pytest.raises(TikTokPermissionError, match="tt_video/list/"):
        client.get(SPARK_LIST, {"advertiser_id": ADV})


def test_other_codes_carry_code_message_and_request_id(client: TikTokClient, server: FakeTikTokServer) -> None:
    server.fail("ad/get/", "bad_param")
    with pytest.raises(TikTokApiError) as err:
        client.get("ad/get/", {"advertiser_id": ADV, "fields": ["ad_id"]})
    assert err.value.code == 40002 and err.value.request_id
    message = str(err.value)
    assert "40002" in message and "Invalid parameter" in message and err.value.request_id in message


def test_post_sends_a_json_body_with_the_token(client: TikTokClient, server: FakeTikTokServer) -> None:
    code = "#" + "x" * 20  # the sample world's code of its first authorised post
    assert client.post("tt_video/authorize/", {"advertiser_id": ADV, "auth_code": code}) == {}
    seen = server.calls("tt_video/authorize/")[-1]
    assert seen.method == "POST" and seen.token_ok and seen.params["auth_code"] == code
    with pytest.raises(TikTokApiError, match="unknown authorisation code"):
        client.post("tt_video/authorize/", {"advertiser_id": ADV, "auth_code": "nope"})


def test_partial_success_keeps_the_data_and_warns(
    client: TikTokClient, server: FakeTikTokServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("business/get/", "partial")
    with caplog.at_level(logging.WARNING, logger="sparkpick.sources.tiktok"):
        data = client.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
    assert data == {"username": "blendco"}
    assert "partial success" in caplog.text and client.notes


# -- the access token --------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_token_never_leaks(
    server: FakeTikTokServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = configured(settings, max_retries=1)
    raised: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
            assert TOKEN not in repr(c) and TOKEN not in str(c)
            for kind in ("echo_token", "token_invalid", "scope", "throttle"):
                server.fail("business/get/", kind, times=5)
                with pytest.raises(TikTokApiError) as err:
                    c.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
                raised.append(err.value)
                server.clear_faults()
            server.fail(VIDEO_LIST, "token_invalid")
            with pytest.raises(TikTokTokenError) as err:
                fetch_tables(c, cfg, AS_OF_UTC)
            raised.append(err.value)
        with TikTokClient(f"http://127.0.0.1:{_free_port()}/open_api/v1.3/", TOKEN, cfg.tiktok) as dead:
            with pytest.raises(TikTokUnavailableError) as err:
                dead.get("business/get/", {"business_id": BRAND})
            raised.append(err.value)
    assert len(raised) == 6
    assert "Access-Token" in str(raised[0])  # the API echoed the token: the client masked it
    for exc in raised:
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        assert TOKEN not in "".join(traceback.format_exception(exc))
    assert caplog.records and TOKEN not in caplog.text


def test_the_token_is_redacted_from_every_field_the_api_echoes(
    server: FakeTikTokServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = configured(settings, max_retries=1)
    with caplog.at_level(logging.DEBUG), TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
        server.fail("business/get/", "echo_token_fields")
        with pytest.raises(TikTokApiError) as err:
            c.get("business/get/", {"business_id": BRAND, "fields": ["username"]})
        server.fail("business/get/", "echo_token_partial")
        c.get("business/get/", {"business_id": BRAND})
        notes = list(c.notes)
    exc = err.value
    assert "<redacted>" in str(exc) and "rid-<redacted>" in str(exc)
    for text in (str(exc), repr(exc), str(exc.request_id), *notes, caplog.text,
                 "".join(traceback.format_exception(exc))):
        assert TOKEN not in text
    assert notes and "rid-<redacted>" in notes[0]
