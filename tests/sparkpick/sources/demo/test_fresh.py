"""A demo world seen week by week without past boosts, and boosts drawn from its hidden truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparkpick.contract import validate_frames
from sparkpick.errors import InputError
from sparkpick.sources.demo.fresh import FreshWorld, fresh_world

T = pd.Timestamp("2026-10-01")


@pytest.fixture(scope="module")
def world(settings) -> FreshWorld:
    return fresh_world(settings.world, "tiny", 3)


def test_known_at_holds_only_the_past_and_no_boosts(world: FreshWorld) -> None:
    known = world.known_at(T)
    assert known["spark_results"].empty
    assert (known["posts"]["posted_at"] <= T).all() and len(known["posts"]) < len(world.tables.posts)
    assert (known["metrics"]["observed_at"] <= T).all() and len(known["metrics"])
    assert (known["baselines"]["period_end"] <= T).all()
    assert (known["partnerships"]["started_at"] <= T).all()
    # A code issued after T reads as requested, without an expiry; one issued by T as authorised.
    hidden = world.tables.hidden.set_index("post_id")
    start = hidden.loc[known["posts"]["post_id"], "auth_start"].to_numpy()
    later = pd.notna(start) & (pd.to_datetime(start) > T)
    assert later.any()
    assert (known["posts"]["spark_auth_status"][later] == "requested").all()
    assert known["posts"]["spark_auth_expires_at"][later].isna().all()
    by_then = pd.notna(start) & (pd.to_datetime(start) <= T)
    assert (known["posts"]["spark_auth_status"][by_then] == "authorized").all()


def test_known_at_passes_the_contract(world: FreshWorld) -> None:
    known = world.known_at(T)
    known["posts"] = known["posts"].assign(video_path=None)  # the videos are not rendered here
    checked = validate_frames(known, {name: f"{name}.csv" for name in known}, received_at=T)
    assert checked.problems == []


def test_a_post_draws_the_same_result_whoever_boosts_it(world: FreshWorld) -> None:
    ids = world.tables.posts["post_id"].tolist()
    a, b, c = ids[:3]
    alone = world.draw_boosts([a], T, 5).set_index("post_id")
    with_others = world.draw_boosts([c, b, a], T, 5).set_index("post_id")
    pd.testing.assert_series_equal(alone.loc[a], with_others.loc[a])
    assert not alone.loc[a].equals(with_others.loc[b])
    # Another world seed is another world: another draw for the same post.
    other = FreshWorld(world.tables, world.rates, world.config, world.seed + 1).draw_boosts([a], T, 5)
    assert other["conversions"].iat[0] != alone.loc[a, "conversions"]
    assert alone["boost_propensity"].isna().all()


def test_draws_follow_the_hidden_truth(world: FreshWorld) -> None:
    ids = world.tables.posts["post_id"]
    drawn = world.draw_boosts(ids, T, 5)
    cost_per_conversion = np.log((drawn["conversions"] + 1) / drawn["spend"])
    truth = world.expected_uplift.loc[ids].to_numpy()
    assert pd.Series(cost_per_conversion.to_numpy()).corr(pd.Series(truth), method="spearman") > 0.5


def test_draws_refuse_unknown_posts_and_empty_flights(world: FreshWorld) -> None:
    with pytest.raises(InputError, match="not in this demo world"):
        world.draw_boosts(["nope"], T, 5)
    with pytest.raises(InputError, match="at least one day"):
        world.draw_boosts(world.tables.posts["post_id"][:1], T, 0)
