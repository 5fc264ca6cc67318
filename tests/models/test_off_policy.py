"""Off-policy estimators against cases with a known answer: on-policy logs, a simulated slate world whose
target value is computed exactly, a perfect reward model, a reward shift, clipping and refusals."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from models.off_policy import (
    PolicyInputs,
    doubly_robust,
    evaluate_policies,
    ips,
    kish_ess,
    snips,
    support,
)

# The slate world: every decision has the same M candidates with known mean uplift; the logging policy
# shortlists K of them by Plackett-Luce sampling (no replacement) on fixed preference weights, so its
# marginal inclusion probabilities are computed exactly by enumerating every ordered shortlist.
MEANS = np.array([1.0, -0.5, 2.0, 0.3, 0.8])
PREFERENCES = np.array([4.0, 3.0, 0.5, 2.0, 1.0])  # the logger prefers posts 0 and 1, not the best (2)
K = 2
NOISE = 0.5
TARGET = np.argsort(-MEANS)[:K]  # a different policy: the true top 2 (posts 2 and 0)
TRUE_VALUE = float(MEANS[TARGET].sum())


def plackett_luce_marginals(pref: np.ndarray, k: int) -> np.ndarray:
    marginal = np.zeros(len(pref))
    for order in permutations(range(len(pref)), k):
        prob, left = 1.0, pref.sum()
        for j in order:
            prob *= pref[j] / left
            left -= pref[j]
        marginal[list(order)] += prob
    return marginal


MARGINALS = plackett_luce_marginals(PREFERENCES, K)


def simulate(decisions: int, seed: int, noise: float = NOISE) -> pd.DataFrame:
    """Logged boosts of the Plackett-Luce logger over `decisions` decisions."""
    rng = np.random.default_rng(seed)
    keys = np.log(PREFERENCES) + rng.gumbel(size=(decisions, len(PREFERENCES)))  # Gumbel top-k = PL
    post = np.argsort(-keys, axis=1)[:, :K].ravel()
    decision = np.repeat(np.arange(decisions), K)
    return pd.DataFrame({"decision_id": [f"adv/{d}" for d in decision], "post_id": [f"p{j}" for j in post],
                         "post": post, "reward": MEANS[post] + noise * rng.standard_normal(len(post)),
                         "boost_propensity": MARGINALS[post]})


def target_of(logged: pd.DataFrame) -> np.ndarray:
    return np.isin(logged["post"].to_numpy(), TARGET).astype(float)


def test_marginals_sum_to_the_shortlist_size() -> None:
    assert MARGINALS.sum() == pytest.approx(K)
    assert ((MARGINALS > 0) & (MARGINALS < 1)).all()


def test_on_policy_log_gives_the_on_policy_mean() -> None:
    logged = simulate(40, seed=1)
    on_policy = logged["boost_propensity"].to_numpy()  # the target is the logger: weights are all 1
    mean_total = logged.groupby("decision_id")["reward"].sum().mean()
    for estimate in (ips(logged, on_policy), snips(logged, on_policy)):
        assert estimate.value == pytest.approx(mean_total)
        assert estimate.effective_sample_size == pytest.approx(len(logged))
        assert estimate.n_decisions == 40 and estimate.n_logged == 80
        assert estimate.low <= estimate.value <= estimate.high


def test_ips_and_dr_are_unbiased_for_a_policy_that_did_not_log() -> None:
    # A rough reward model (each post's prediction off by a fixed amount): DR must still be unbiased.
    model_error = np.array([0.4, -0.3, -0.6, 0.2, 0.1])
    target_value_hat = float((MEANS + model_error)[TARGET].sum())
    ips_values, dr_values, snips_values, naive = [], [], [], []
    for seed in range(300):
        logged = simulate(30, seed=seed)
        target = target_of(logged)
        reward_hat = (MEANS + model_error)[logged["post"].to_numpy()]
        value_hat = pd.Series(target_value_hat, index=logged["decision_id"].unique())
        ips_values.append(ips(logged, target, samples=10).value)
        snips_values.append(snips(logged, target, samples=10).value)
        dr_values.append(doubly_robust(logged, target, reward_hat, value_hat, samples=10).value)
        # What the estimators correct: the plain mean of the target's posts among the logged boosts.
        picked = logged[target > 0]
        naive.append(picked.groupby("decision_id")["reward"].sum().reindex(logged["decision_id"].unique(),
                                                                            fill_value=0).mean())
    for values in (ips_values, dr_values):
        standard_error = np.std(values) / np.sqrt(len(values))
        assert abs(np.mean(values) - TRUE_VALUE) < 4 * standard_error
    # SNIPS is a ratio: biased by O(1 / decisions) (measured -0.07 at 30), in exchange for less spread.
    assert abs(np.mean(snips_values) - TRUE_VALUE) < 0.15
    assert np.std(snips_values) < np.std(ips_values)
    assert np.std(dr_values) < np.std(ips_values)  # the reward model removes most of the variance
    # The check has power: the uncorrected log is far off the truth.
    assert abs(np.mean(naive) - TRUE_VALUE) > 10 * np.std(ips_values) / np.sqrt(300)


def test_dr_with_a_perfect_reward_model_has_zero_variance() -> None:
    values = []
    for seed in range(20):
        logged = simulate(25, seed=seed, noise=0.0)
        reward_hat = MEANS[logged["post"].to_numpy()]
        value_hat = pd.Series(TRUE_VALUE, index=logged["decision_id"].unique())
        estimate = doubly_robust(logged, target_of(logged), reward_hat, value_hat)
        assert estimate.low == pytest.approx(estimate.high)
        values.append(estimate.value)
    assert np.allclose(values, TRUE_VALUE)
    ips_spread = np.std([ips(simulate(25, seed=s, noise=0.0), target_of(simulate(25, seed=s, noise=0.0)),
                             samples=10).value for s in range(20)])
    assert ips_spread > 0.05  # without the model the same logs do vary


def test_snips_moves_exactly_with_a_reward_shift_and_ips_does_not() -> None:
    logged = simulate(30, seed=7)
    target = target_of(logged)
    shifted = logged.assign(reward=logged["reward"] + 3.0)
    per_decision = len(logged) / logged["decision_id"].nunique()
    assert snips(shifted, target).value - snips(logged, target).value == pytest.approx(3.0 * per_decision)
    ips_shift = ips(shifted, target).value - ips(logged, target).value
    assert abs(ips_shift - 3.0 * per_decision) > 0.1  # IPS's shift depends on the drawn weights


def _frame(propensity: list[object], reward: list[float] | None = None) -> pd.DataFrame:
    n = len(propensity)
    return pd.DataFrame({"decision_id": ["a/1"] * (n // 2) + ["a/2"] * (n - n // 2),
                         "post_id": [f"p{i}" for i in range(n)],
                         "reward": reward if reward is not None else [1.0] * n,
                         "boost_propensity": propensity})


def test_clipping_caps_the_weight_and_leaves_larger_propensities_alone() -> None:
    logged = _frame([0.001, 0.5, 0.5, 0.5], reward=[1.0, 0.0, 0.0, 0.0])
    target = np.ones(4)
    # Row 0 weighs 1 / 0.01 = 100 (not 1000) at the default clip; half the decisions hold it.
    assert ips(logged, target).value == pytest.approx(100.0 / 2)
    assert ips(logged, target, clip=0.001).value == pytest.approx(1000.0 / 2)
    assert ips(logged, target, clip=0.1).value == pytest.approx(10.0 / 2)
    # A clip below every propensity changes nothing.
    even = _frame([0.5, 0.25, 0.5, 0.8])
    assert ips(even, target, clip=0.01).value == ips(even, target, clip=0.2).value
    with pytest.raises(ValueError, match="clip"):
        ips(logged, target, clip=0.0)


def test_effective_sample_size() -> None:
    assert kish_ess(np.ones(10)) == pytest.approx(10.0)
    assert kish_ess(np.array([100.0, 1.0, 1.0, 1.0])) == pytest.approx(103.0**2 / 10003.0)
    assert kish_ess(np.zeros(4)) == 0.0
    logged = _frame([0.001, 0.5, 0.5, 0.5])
    heavy = ips(logged, np.ones(4)).effective_sample_size
    light = ips(logged, np.ones(4), clip=0.5).effective_sample_size
    assert heavy < 1.2 and light == pytest.approx(4.0)  # clipping trades bias for effective size
    none = _frame([0.5] * 4)
    assert ips(none, np.zeros(4)).value == 0.0 and ips(none, np.zeros(4)).effective_sample_size == 0.0
    assert np.isnan(snips(none, np.zeros(4)).value)  # nothing the target picks: nothing to normalise


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.5, float("nan"), None, "high"])
def test_bad_propensities_are_refused_naming_the_row(bad: object) -> None:
    logged = _frame([0.5, 0.5, bad, 0.5])
    with pytest.raises(ValueError, match=r"logged row 2 \(decision_id 'a/2', post_id 'p2'\): boost_propensity"):
        ips(logged, np.ones(4))


def test_other_bad_inputs_are_refused() -> None:
    logged = _frame([0.5] * 4)
    with pytest.raises(ValueError, match="lack column"):
        ips(logged.drop(columns="boost_propensity"), np.ones(4))
    with pytest.raises(ValueError, match="one value per logged row"):
        ips(logged, np.ones(3))
    with pytest.raises(ValueError, match=r"logged row 1 .*target_inclusion 1.5"):
        ips(logged, np.array([1.0, 1.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"logged row 3 .*reward"):
        ips(logged.assign(reward=[1.0, 1.0, 1.0, np.nan]), np.ones(4))
    with pytest.raises(ValueError, match="no logged boosts"):
        ips(logged.iloc[:0], np.ones(0))
    with pytest.raises(ValueError, match="no value for decision_id 'a/2'"):
        doubly_robust(logged, np.ones(4), np.zeros(4), pd.Series({"a/1": 1.0}))
    with pytest.raises(ValueError, match="'a/1' is not a number"):
        doubly_robust(logged, np.ones(4), np.zeros(4), pd.Series({"a/1": np.nan, "a/2": 1.0}))


def test_the_interval_is_seeded_and_covers_the_estimate() -> None:
    logged = simulate(50, seed=3)
    target = target_of(logged)
    first, again, other = ips(logged, target, seed=5), ips(logged, target, seed=5), ips(logged, target, seed=6)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < first.value < first.high
    narrow = snips(logged, target)
    assert narrow.high - narrow.low < first.high - first.low  # self-normalising steadies the estimate


def test_evaluate_policies_gives_one_row_per_policy_and_estimator() -> None:
    logged = simulate(20, seed=2)
    target = target_of(logged)
    reward_hat = MEANS[logged["post"].to_numpy()]
    value_hat = pd.Series(TRUE_VALUE, index=logged["decision_id"].unique())
    table = evaluate_policies(logged, {
        "best": PolicyInputs(target, reward_hat, value_hat),
        "logger": PolicyInputs(logged["boost_propensity"].to_numpy()),
    })
    assert list(zip(table["policy"], table["estimator"], strict=True)) == [
        ("best", "ips"), ("best", "snips"), ("best", "dr"), ("logger", "ips"), ("logger", "snips")]
    assert table.loc[0, "value"] == ips(logged, target).value
    assert (table["n_decisions"] == 20).all()


def test_support_says_how_many_target_picks_the_logger_could_not_have_boosted() -> None:
    # a logger without test picks shortlists posts 0 and 1 every time (propensity 1, the others 0); the
    # target's top 2 (posts 2 and 0) is half outside its support: IPS sees only post 0 and misses post 2
    rng = np.random.default_rng(5)
    decisions = [f"adv/{d}" for d in range(200)]
    post = np.tile([0, 1], len(decisions))
    logged = pd.DataFrame({"decision_id": np.repeat(decisions, 2), "post_id": [f"p{j}" for j in post],
                           "reward": MEANS[post] + NOISE * rng.standard_normal(len(post)), "boost_propensity": 1.0})
    target = np.isin(post, TARGET).astype(float)
    picks = pd.Series(2, index=decisions)
    table = evaluate_policies(logged, {
        "best": PolicyInputs(target, target_picks=picks, unsupported=pd.Series(1, index=decisions)),
        "logger": PolicyInputs(np.ones(len(post)), target_picks=picks, unsupported=pd.Series(0, index=decisions)),
        "unsaid": PolicyInputs(target),
    }).set_index(["policy", "estimator"])
    assert table.loc[("best", "ips"), "support"] == 0.5
    assert table.loc[("best", "ips"), "value"] == pytest.approx(MEANS[0], abs=0.1)  # not TRUE_VALUE (3.0)
    assert table.loc[("logger", "snips"), "support"] == 1.0
    assert np.isnan(table.loc[("unsaid", "ips"), "support"])
    assert support(logged, picks.iloc[:100], pd.Series(1, index=decisions[:50])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"adv/0.*3 unsupported of 2"):
        support(logged, picks, pd.Series(3, index=decisions))
