"""Fixtures of the TikTok source tests: the sample world served by a real local HTTP server
(fake_server.py), a client of it and the tables fetched from it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sparkpick.config import Settings
from sparkpick.sources.tiktok import FetchResult, TikTokClient, fetch_tables
from tests.sparkpick.sources.tiktok.fake_server import (
    AS_OF,
    AS_OF_UTC,
    TOKEN,
    FakeTikTokServer,
    World,
    configured,
    sample_world,
)


@pytest.fixture
def world() -> World:
    return sample_world(AS_OF)


@pytest.fixture
def server(world: World) -> Iterator[FakeTikTokServer]:
    with FakeTikTokServer(world, TOKEN) as srv:
        yield srv


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    return configured(settings)


@pytest.fixture
def client(server: FakeTikTokServer, cfg: Settings) -> Iterator[TikTokClient]:
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
        yield c


@pytest.fixture
def fetched(client: TikTokClient, cfg: Settings) -> FetchResult:
    return fetch_tables(client, cfg, AS_OF_UTC)
