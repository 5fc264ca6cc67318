"""The hand-over gate and its inputs (models/handover.py) on cases with a known answer; pure, fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.handover import CHALLENGER, CHAMPION, decide_handover, logged_boosts, policy_inputs, ranks_nothing


def table(challenger: tuple[float, float, float], champion: float) -> pd.DataFrame:
    rows = [{"policy": CHALLENGER, "estimator": "dr", "value": challenger[0], "low": challenger[1],
             "high": challenger[2], "n_decisions": 12, "n_logged": 30, "effective_sample_size": 20.0},
            {"policy": CHAMPION, "estimator": "dr", "value": champion, "low": champion - 0.3,
             "high": champion + 0.3, "n_decisions": 12, "n_logged": 30, "effective_sample_size": 20.0}]
    return pd.DataFrame(rows)


def test_the_challenger_takes_over_only_when_its_dr_lower_bound_beats_the_champion() -> None:
    won = decide_handover(table((1.2, 0.9, 1.5), 0.8), "champion v1", n_logged=30, min_logged=20)
    assert won is not None and won.promote and "beats the champion v1 off-policy" in won.reason
    # a better point estimate is not enough: its interval reaches below the champion's estimate
    kept = decide_handover(table((1.2, 0.7, 1.5), 0.8), "champion v1", n_logged=30, min_logged=20)
    assert kept is not None and not kept.promote and "kept the champion v1" in kept.reason
    assert "0.700" in kept.reason and "0.800" in kept.reason


def test_too_few_logged_boosts_fall_back_to_the_validation_gate() -> None:
    assert decide_handover(table((1.2, 0.9, 1.5), 0.8), "champion v1", n_logged=5, min_logged=20) is None
    assert decide_handover(table((1.2, 0.9, 1.5), 0.8).iloc[:1], "champion v1", 30, 20) is None


def test_logged_boosts_keep_only_valid_propensities_and_name_the_night() -> None:
    rows = pd.DataFrame({
        "advertiser_id": ["a", "a", "a", "b"], "post_id": ["p1", "p2", "p3", "p4"],
        "boosted_at": pd.to_datetime(["2026-10-02 09:00", "2026-10-02 00:00", "2026-10-03 00:00", "2026-10-04 00:00"]),
        "propensity_as_of": pd.to_datetime(pd.Series(["2026-10-01 02:00", None, None, None])),
        "uplift": [0.5, 0.1, 0.2, np.nan], "boost_propensity": [0.4, np.nan, 1.0, 0.5],
    })
    logged = logged_boosts(rows)
    assert list(logged["post_id"]) == ["p1", "p3"]  # no propensity, or no realised uplift: left out
    assert list(logged["decision_id"]) == ["a@2026-10-01", "a@2026-10-03"]


def test_policy_inputs_shortlist_each_decision_s_top_k() -> None:
    logged = pd.DataFrame({"decision_id": ["a@1", "a@1", "b@1"], "post_id": ["p1", "p3", "q2"],
                           "reward": [1.0, 0.0, 2.0], "boost_propensity": [0.5, 0.5, 1.0]})
    candidates = pd.DataFrame({"decision_id": ["a@1"] * 3 + ["b@1"] * 2, "post_id": ["p1", "p2", "p3", "q1", "q2"],
                               "x": [3.0, 2.0, 1.0, 5.0, 4.0]})
    inputs = policy_inputs(logged, candidates, {"by_x": lambda f: f["x"].to_numpy()}, k=2,
                           reward=lambda f: f["x"].to_numpy() / 10)
    got = inputs["by_x"]
    assert got.target_inclusion.tolist() == [1.0, 0.0, 1.0]  # p3 is third in a@1; q2 second in b@1
    assert np.allclose(got.reward_hat_logged, [0.3, 0.1, 0.4])
    assert got.target_value_hat.to_dict() == {"a@1": 0.5, "b@1": 0.9}


def test_a_target_policy_skips_posts_that_cannot_run_as_the_shortlist_does() -> None:
    logged = pd.DataFrame({"decision_id": ["a@1", "a@1"], "post_id": ["p2", "p3"], "reward": [1.0, 0.0],
                           "boost_propensity": [1.0, 0.5]})
    candidates = pd.DataFrame({"decision_id": ["a@1"] * 3, "post_id": ["p1", "p2", "p3"], "x": [3.0, 2.0, 1.0],
                               "flag_no_auth_code": [True, False, False]})
    inputs = policy_inputs(logged, candidates, {"by_x": lambda f: f["x"].to_numpy()}, k=2,
                           reward=lambda f: f["x"].to_numpy() / 10)
    assert inputs["by_x"].target_inclusion.tolist() == [1.0, 1.0]  # p1 has no code: p2 and p3 fill the two
    assert inputs["by_x"].target_value_hat.to_dict() == {"a@1": pytest.approx(0.3)}


def test_a_model_with_one_score_for_every_post_ranks_nothing() -> None:
    assert ranks_nothing(np.array([0.3, 0.3, 0.3])) and ranks_nothing(np.array([np.nan, np.nan]))
    assert ranks_nothing(np.array([]))
    assert not ranks_nothing(np.array([0.3, 0.3, 0.31]))
