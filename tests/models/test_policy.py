"""The shortlist policy (models/policy.py): test picks, their propensities, no repeats; pure, fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.policy import (
    BLOCKED,
    BOOSTED_BEFORE,
    LIVE,
    apply_policy,
    boost_history,
    inclusion_probabilities,
    join_propensities,
    slots_for_test_picks,
)
from sparkpick.config import Settings, with_overrides
from sparkpick.shortlist import top_per_advertiser

AS_OF = pd.Timestamp("2026-10-01")


def scored(n: int, advertiser: str = "a1", blocked: tuple[int, ...] = ()) -> pd.DataFrame:
    scores = np.linspace(3, -3, n)
    return pd.DataFrame({
        "advertiser_id": advertiser, "post_id": [f"{advertiser}-p{i:02d}" for i in range(n)],
        "score": scores, "rank": np.arange(1, n + 1),
        "flag_no_auth_code": [i in blocked for i in range(n)], "flag_calibrating": False,
    })


NO_HISTORY = pd.DataFrame(columns=["post_id", "live", "realised_uplift"])


@pytest.mark.parametrize(("k", "share", "slots"), [
    (5, 0.2, 1), (10, 0.2, 2), (3, 0.2, 1), (2, 0.2, 0), (1, 0.2, 0), (5, 0.0, 0), (20, 0.2, 4), (3, 0.05, 1),
])
def test_test_slots_hold_for_any_k(k: int, share: float, slots: int) -> None:
    assert slots_for_test_picks(k, share) == slots


def test_one_test_pick_in_five_with_exact_propensities(settings: Settings) -> None:
    out = apply_policy(scored(30), NO_HISTORY, settings.policy, 5, AS_OF)
    short = top_per_advertiser(out, 5)
    assert len(short) == 5 and short["is_test_pick"].sum() == 1
    fixed = short[~short["is_test_pick"]]
    assert list(fixed["post_id"]) == [f"a1-p{i:02d}" for i in range(4)]
    assert (fixed["boost_propensity"] == 1.0).all()
    pick = short[short["is_test_pick"]].iloc[0]
    assert pick["score_rank"] > 4 and 0 < pick["boost_propensity"] < 1
    # one draw: the pool's propensities are the softmax, summing to the one slot
    pool = out[out["score_rank"] > 4]
    assert pool["boost_propensity"].sum() == pytest.approx(1.0)
    assert (pool["boost_propensity"] > 0).all()


def test_the_same_night_gives_the_same_picks_and_another_night_may_not(settings: Settings) -> None:
    frame = scored(40)
    first = apply_policy(frame, NO_HISTORY, settings.policy, 5, AS_OF)
    again = apply_policy(frame.sample(frac=1, random_state=3), NO_HISTORY, settings.policy, 5, AS_OF)
    pd.testing.assert_frame_equal(first, again)
    picks = {apply_policy(frame, NO_HISTORY, settings.policy, 5, AS_OF + pd.Timedelta(days=d))
             .query("is_test_pick")["post_id"].iloc[0] for d in range(12)}
    assert len(picks) > 1


def test_a_test_pick_is_never_flag_blocked(settings: Settings) -> None:
    blocked = tuple(range(10, 29))  # the fixed picks p00-p03; below them only p04-p09 and p29 are free
    seen = set()
    for day in range(10):
        out = apply_policy(scored(30, blocked=blocked), NO_HISTORY, settings.policy, 5, AS_OF + pd.Timedelta(days=day))
        pick = out[out["is_test_pick"]]
        assert len(pick) == 1 and pick["post_id"].iloc[0] in {f"a1-p{i:02d}" for i in (4, 5, 6, 7, 8, 9, 29)}
        seen.add(pick["post_id"].iloc[0])
        assert (out.loc[out["flag_no_auth_code"], "boost_propensity"] == 0).all()
    assert len(seen) > 1


def test_a_blocked_post_never_takes_a_fixed_slot(settings: Settings) -> None:
    # the two best-scored posts have no authorisation code: the slots go to the next posts that can run
    out = apply_policy(scored(30, blocked=(0, 1)), NO_HISTORY, settings.policy, 5, AS_OF)
    short = top_per_advertiser(out, 5)
    assert len(short) == 5 and not short["flag_no_auth_code"].any()
    assert list(short.loc[~short["is_test_pick"], "post_id"]) == ["a1-p02", "a1-p03", "a1-p04", "a1-p05"]
    by_post = out.set_index("post_id")
    assert by_post.loc[["a1-p00", "a1-p01"], "status"].eq(BLOCKED).all()
    assert by_post.loc[["a1-p00", "a1-p01"], "boost_propensity"].eq(0).all()
    # every flag that holds a boost back keeps the post out, the warning of a lapsing code too
    for flag in ("flag_auth_expiring", "flag_no_usage_rights", "flag_looks_like_ad", "flag_calibrating"):
        frame = scored(30).assign(**{flag: [i == 0 for i in range(30)]})
        assert "a1-p00" not in set(top_per_advertiser(apply_policy(frame, NO_HISTORY, settings.policy, 5, AS_OF),
                                                      5)["post_id"]), flag


def test_promising_blocked_posts_are_held_back_apart(settings: Settings) -> None:
    # p00 and p01 would rank within 5; p29 is blocked but ranks last: it is not worth asking about
    out = apply_policy(scored(30, blocked=(0, 1, 29)), NO_HISTORY, settings.policy, 5, AS_OF)
    held = out.set_index("post_id")["held_back"]
    assert held["a1-p00"] and held["a1-p01"] and not held["a1-p29"] and int(held.sum()) == 2
    assert not out.loc[out["status"] == "", "held_back"].any()
    # at most K held back per advertiser, even when nothing can run
    none_run = apply_policy(scored(12, blocked=tuple(range(12))), NO_HISTORY, settings.policy, 5, AS_OF)
    assert top_per_advertiser(none_run, 5).empty
    assert list(none_run.loc[none_run["held_back"], "post_id"]) == [f"a1-p{i:02d}" for i in range(5)]


def test_too_few_posts_that_can_run_fill_the_slots_without_a_test(settings: Settings) -> None:
    out = apply_policy(scored(30, blocked=tuple(range(4, 30))), NO_HISTORY, settings.policy, 5, AS_OF)
    short = top_per_advertiser(out, 5)
    assert not out["is_test_pick"].any()
    assert list(short["post_id"]) == [f"a1-p{i:02d}" for i in range(4)]
    assert (short["boost_propensity"] == 1.0).all()


@pytest.mark.parametrize(("k", "can_run", "tests"), [
    (5, 9, 0), (5, 10, 1), (4, 7, 0), (4, 8, 1), (3, 5, 0), (3, 6, 1), (10, 19, 0), (10, 20, 2),
])
def test_a_small_pool_fills_its_slots_by_score(settings: Settings, k: int, can_run: int, tests: int) -> None:
    # test_min_pool 2: a test slot only with at least 2K posts that can run; below that, the top K by score
    assert settings.policy.test_min_pool == 2.0
    out = apply_policy(scored(30, blocked=tuple(range(can_run, 30))), NO_HISTORY, settings.policy, k, AS_OF)
    short = top_per_advertiser(out, k)
    assert len(short) == k and int(out["is_test_pick"].sum()) == tests
    eligible = out[out["status"] == ""]
    if tests:
        assert (eligible["boost_propensity"] > 0).all()  # every candidate has a known, non-zero chance
        assert eligible["boost_propensity"].sum() == pytest.approx(k, abs=0.02)
    else:
        assert list(short["score_rank"]) == list(range(1, k + 1))
        assert list(eligible["boost_propensity"]) == [1.0] * k + [0.0] * (can_run - k)
    looser = with_overrides(settings, {"policy": {"test_min_pool": 1.0}}).policy
    assert apply_policy(scored(30, blocked=tuple(range(can_run, 30))), NO_HISTORY, looser, k, AS_OF)[
        "is_test_pick"].sum() == slots_for_test_picks(k, looser.test_share)


def test_share_zero_turns_test_picks_off(settings: Settings) -> None:
    off = with_overrides(settings, {"policy": {"test_share": 0.0}}).policy
    out = apply_policy(scored(30), NO_HISTORY, off, 5, AS_OF)
    assert not out["is_test_pick"].any()
    assert list(top_per_advertiser(out, 5)["score_rank"]) == [1, 2, 3, 4, 5]


def test_two_test_picks_use_a_seeded_monte_carlo_close_to_exact(settings: Settings) -> None:
    rng = np.random.default_rng(0)
    log_w = np.array([0.5, 0.0, -0.5, -1.0])
    mc = inclusion_probabilities(log_w, 2, 20000, rng)
    # exact inclusion of two Plackett-Luce draws without replacement, by enumeration
    w = np.exp(log_w)
    exact = np.zeros(4)
    for i in range(4):
        for j in range(4):
            if i != j:
                p = w[i] / w.sum() * w[j] / (w.sum() - w[i])
                exact[i] += p
                exact[j] += p
    assert np.allclose(mc, exact, atol=0.015)
    assert mc.sum() == pytest.approx(2.0)
    out = apply_policy(scored(40), NO_HISTORY, settings.policy, 10, AS_OF)
    short = top_per_advertiser(out, 10)
    assert short["is_test_pick"].sum() == 2 and (short["boost_propensity"] > 0).all()


def test_an_advertiser_with_two_candidates_gets_both(settings: Settings) -> None:
    out = apply_policy(scored(2), NO_HISTORY, settings.policy, 5, AS_OF)
    short = top_per_advertiser(out, 5)
    assert len(short) == 2 and (short["boost_propensity"] == 1.0).all() and not short["is_test_pick"].any()


def test_live_and_earlier_boosts_take_no_slot(settings: Settings) -> None:
    frame = scored(12)
    history = pd.DataFrame({"post_id": ["a1-p00", "a1-p01", "a1-p02"], "live": [True, False, False],
                            "realised_uplift": [np.nan, 0.6, -0.4]})
    out = apply_policy(frame, history, settings.policy, 5, AS_OF)
    short = top_per_advertiser(out, 5)
    assert not set(short["post_id"]) & {"a1-p00", "a1-p01", "a1-p02"}
    assert len(short) == 5
    status = out.set_index("post_id")["status"]
    assert status["a1-p00"] == LIVE and status["a1-p01"] == status["a1-p02"] == BOOSTED_BEFORE
    again = out.set_index("post_id")["boost_again"]
    assert again["a1-p01"] and not again["a1-p02"] and not again["a1-p00"]  # only one that came out cheaper
    assert out.set_index("post_id").loc[["a1-p00", "a1-p01"], "boost_propensity"].isna().all()


def test_boost_history_knows_live_and_finished_boosts() -> None:
    results = pd.DataFrame({
        "post_id": ["p1", "p2", "p3"],
        "boosted_at": pd.to_datetime(["2026-09-01", "2026-09-28", "2026-10-05"]),
        "ended_at": pd.to_datetime(["2026-09-10", "2026-10-03", "2026-10-09"]),
    })
    hourly = pd.DataFrame({"post_id": ["p4", "p1"], "boosted_at": pd.to_datetime(["2026-09-30", "2026-09-01"])})
    h = boost_history(results, hourly, AS_OF, pd.Series([0.5, 0.1, 0.2])).set_index("post_id")
    assert set(h.index) == {"p1", "p2", "p4"}  # p3 starts after the night
    assert not h.loc["p1", "live"] and h.loc["p2", "live"] and h.loc["p4", "live"]
    assert h.loc["p1", "realised_uplift"] == 0.5


def test_a_boost_is_joined_to_the_propensity_scored_before_it() -> None:
    results = pd.DataFrame({
        "post_id": ["p1", "p2", "p3", "p4"],
        "boosted_at": pd.to_datetime(["2026-10-02", "2026-10-02", "2026-10-02", "2026-10-02"]),
        "boost_propensity": [np.nan, 0.7, np.nan, np.nan],
    })
    scores = pd.DataFrame({
        "post_id": ["p1", "p1", "p1", "p2", "p3"],
        "as_of": pd.to_datetime(["2026-09-30", "2026-10-01", "2026-10-03", "2026-10-01", "2026-10-01"]),
        "boost_propensity": [0.2, 0.3, 0.9, 0.1, 0.0],
    })
    out = join_propensities(results, scores)
    assert out["boost_propensity"].tolist()[:2] == [0.3, 0.7]  # the latest before; a file's own wins
    assert np.isnan(out["boost_propensity"].iloc[2])  # blocked that night: boosted outside the shortlist
    assert np.isnan(out["boost_propensity"].iloc[3])  # never scored: no propensity, none invented
    assert out["propensity_as_of"].iloc[0] == pd.Timestamp("2026-10-01")
