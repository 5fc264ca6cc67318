"""The shortlist policy (models/policy.py): test picks, their propensities, no repeats; pure, fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.policy import (
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
    blocked = tuple(range(4, 29))  # only the last post below the fixed picks is free
    for day in range(10):
        out = apply_policy(scored(30, blocked=blocked), NO_HISTORY, settings.policy, 5, AS_OF + pd.Timedelta(days=day))
        pick = out[out["is_test_pick"]]
        assert list(pick["post_id"]) == ["a1-p29"]
        assert (out.loc[out["flag_no_auth_code"] & (out["score_rank"] > 4), "boost_propensity"] == 0).all()
    # every post below the fixed picks blocked: no test pick, the ranking fills the slot
    out = apply_policy(scored(30, blocked=tuple(range(4, 30))), NO_HISTORY, settings.policy, 5, AS_OF)
    assert not out["is_test_pick"].any()
    assert list(top_per_advertiser(out, 5)["score_rank"]) == [1, 2, 3, 4, 5]


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
