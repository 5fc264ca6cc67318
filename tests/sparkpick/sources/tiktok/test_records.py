"""One API record to contract values (`sparkpick.sources.tiktok.records`): item ids stay exact and carry
their posting time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from sparkpick.config import Settings
from sparkpick.contract import as_utc
from sparkpick.sources.tiktok import FetchResult, TikTokClient, fetch_tables, item_posted_at
from tests.sparkpick.sources.tiktok.fake_server import (
    AS_OF_UTC,
    BRAND,
    CREATOR,
    TOKEN,
    FakeTikTokServer,
    World,
    item_id_at,
)


def test_item_ids_stay_exact_strings(fetched: FetchResult, world: World) -> None:
    posts = fetched.tables["posts"]
    bare_int = world.accounts[BRAND].videos[1]["item_id"]
    assert isinstance(bare_int, int) and bare_int > 2**53  # beyond what a float holds exactly
    assert str(bare_int) in set(posts["post_id"])
    assert posts["post_id"].str.len().eq(19).all() and pd.api.types.is_string_dtype(posts["post_id"])
    metrics_ids = set(fetched.tables["metrics"]["post_id"])
    assert metrics_ids <= set(posts["post_id"])


def test_a_float_item_id_is_rejected_not_rounded(server: FakeTikTokServer, world: World, cfg: Settings) -> None:
    world.accounts[CREATOR].videos[0]["item_id"] = float(world.accounts[CREATOR].videos[0]["item_id"])
    with TikTokClient(server.base_url, TOKEN, cfg.tiktok) as c:
        result = fetch_tables(c, cfg, AS_OF_UTC)
    assert any("floating point" in str(p) for p in result.problems)
    assert not any(pid.endswith("00000") or "e+" in pid for pid in result.tables["posts"]["post_id"])


def test_item_ids_encode_their_posting_time() -> None:
    import random

    moment = datetime(2026, 10, 3, 14, 5, 9, tzinfo=UTC)
    item = item_id_at(moment, random.Random(3))
    assert len(item) == 19
    assert item_posted_at(item) == as_utc(pd.Timestamp(moment))
    assert item_posted_at("not-an-id") is None
    assert item_posted_at(item_id_at(moment + timedelta(seconds=1), random.Random(3))) > item_posted_at(item)
