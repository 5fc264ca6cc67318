"""Off-policy evaluation: how much uplift would another shortlist policy have captured, judged only on the
boosts that were actually logged?

A *decision* is one advertiser-night: a policy shortlists some of the advertiser's candidate posts, some
of them are boosted, and each boost realises an uplift (the `reward`). The logging policy put post j on
the shortlist with a known marginal probability p_j (`boost_propensity`); the target policy would put it
there with probability pi_j (`target_inclusion`: 0 or 1 for a deterministic top k). The value of a policy
is the expected total uplift it captures per decision.

The estimators treat a shortlist as a set of independent items (the "independent-item" or
pseudo-inverse slate assumption): a post's uplift does not depend on which other posts share its
shortlist. Each logged row i then carries the weight w_i = pi_i / p_i, and per decision d:

- IPS:   V_d = sum over d's logged rows of w_i * r_i. Unbiased when every post the target could pick had
  p_j > 0 and the propensities are right; its variance grows with the weights.
- SNIPS: the IPS total divided by the weights' mean over logged rows (the weights average 1 when target
  and logging shortlists are the same size). Slightly biased, much less variable, and equivariant: adding
  c to every reward adds exactly c times the logged rows per decision.
- DR:    V_d = target_value_hat_d + sum over d's logged rows of w_i * (r_i - r_hat_i). The reward model's
  prediction for the target's whole shortlist, corrected by the weighted residuals of the logged rows.
  Unbiased if either the propensities or the reward model are right; with a perfect reward model the
  correction is zero and so is the variance.

Clipping: a propensity below `clip` is raised to `clip` before dividing, so no weight exceeds
pi / clip (100 at the default 0.01). This bounds the variance a near-zero propensity would cause, at the
price of a bias toward zero for the rows it touches (their weight is smaller than the true 1 / p). Clipping
never changes a propensity at or above `clip`.

Support: IPS, SNIPS and the correction of DR see only logged rows, so a post the target would pick but the
logging policy could not have shortlisted that night (propensity 0: below the fixed picks of a shortlist
without test picks, or blocked) is invisible to them; no estimate is unbiased then, and DR leans on its
reward model for such posts. When the caller says how many of each decision's target picks had a logging
propensity of 0 (`PolicyInputs.unsupported`, with `target_picks`), each estimate reports `support`, the
share of the target's picks over the logged decisions that the logging policy could have boosted (1: all);
NaN when not said.

Every estimate reports the Kish effective sample size of the (clipped) weights, (sum w)^2 / sum w^2: how
many equally weighted logged boosts the estimate is worth (0 when the target would pick none of them), and
a 95% interval from a seeded bootstrap that resamples whole decisions. Same input and seed, same numbers.

Inputs are checked before anything is computed: a propensity that is missing, not a number, zero or
below, or above one is refused with a ValueError naming the row (its position, post and decision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

DECISION = "decision_id"
POST = "post_id"
REWARD = "reward"
PROPENSITY = "boost_propensity"
REQUIRED = (DECISION, REWARD, PROPENSITY)

IPS = "ips"
SNIPS = "snips"
DR = "dr"

DEFAULT_CLIP = 0.01
BOOTSTRAP_SAMPLES = 1000
INTERVAL = 0.95
ESTIMATE_COLUMNS = ["policy", "estimator", "value", "low", "high", "n_decisions", "n_logged",
                    "effective_sample_size", "support"]


@dataclass(frozen=True)
class PolicyEstimate:
    """Estimated uplift captured per decision (advertiser-night) by a target policy, with a 95% interval."""

    estimator: str  # "ips" | "snips" | "dr"
    value: float
    low: float
    high: float
    n_decisions: int
    n_logged: int
    effective_sample_size: float
    support: float = float("nan")


@dataclass(frozen=True)
class PolicyInputs:
    """What a target policy needs to be evaluated: its inclusion probability for every logged row and,
    for the doubly robust estimate, the reward model's prediction for every logged row and its predicted
    total uplift over the target's shortlist per decision_id (without both, no DR row). Optionally, per
    decision_id, how many posts the target shortlists (`target_picks`) and how many of them the logging
    policy could not have shortlisted (`unsupported`: propensity 0), for the estimate's `support`."""

    target_inclusion: np.ndarray
    reward_hat_logged: np.ndarray | None = None
    target_value_hat: pd.Series | None = None
    target_picks: pd.Series | None = None
    unsupported: pd.Series | None = None


def _describe_row(logged: pd.DataFrame, i: int) -> str:
    post = f", post_id {logged[POST].iloc[i]!r}" if POST in logged else ""
    return f"logged row {i} (decision_id {logged[DECISION].iloc[i]!r}{post})"


def _check_logged(logged: pd.DataFrame, clip: float) -> tuple[np.ndarray, np.ndarray]:
    """The rewards and propensities as float arrays, after refusing anything unusable."""
    missing = [c for c in REQUIRED if c not in logged.columns]
    if missing:
        raise ValueError(f"The logged boosts lack column(s) {missing}; off-policy evaluation needs {list(REQUIRED)}.")
    if len(logged) == 0:
        raise ValueError("There are no logged boosts to evaluate a policy on.")
    if not (0.0 < clip <= 1.0) or not np.isfinite(clip):
        raise ValueError(f"clip must be in (0, 1], got {clip!r}.")
    if logged[DECISION].isna().any():
        i = int(np.flatnonzero(logged[DECISION].isna().to_numpy())[0])
        raise ValueError(f"logged row {i}: decision_id is missing.")
    propensity = pd.to_numeric(logged[PROPENSITY], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(propensity) & (propensity > 0.0) & (propensity <= 1.0)))
    if bad.size:
        i = int(bad[0])
        p = float(propensity[i])
        what = (f"{logged[PROPENSITY].iloc[i]!r} is not a number" if not np.isfinite(p)
                else f"{p!r} is outside (0, 1]")
        raise ValueError(f"{_describe_row(logged, i)}: boost_propensity {what}; it must be in (0, 1] "
                         f"({bad.size} such row(s)).")
    reward = pd.to_numeric(logged[REWARD], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(reward))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{_describe_row(logged, i)}: reward {logged[REWARD].iloc[i]!r} is not a number.")
    return reward, propensity


def _check_row_array(logged: pd.DataFrame, values: np.ndarray, name: str, *, unit: bool) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (len(logged),):
        raise ValueError(f"{name} must have one value per logged row ({len(logged)}), got shape {arr.shape}.")
    ok = np.isfinite(arr) & ((arr >= 0.0) & (arr <= 1.0) if unit else True)
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = int(bad[0])
        allowed = "a probability in [0, 1]" if unit else "a number"
        raise ValueError(f"{_describe_row(logged, i)}: {name} {float(arr[i])!r} is not {allowed}.")
    return arr


@dataclass(frozen=True)
class _Decisions:
    """Per-decision sums the estimators and their bootstrap are built from."""

    codes: np.ndarray  # decision index of each logged row
    labels: pd.Index  # decision_id of each index
    weights: np.ndarray  # clipped w_i per logged row

    def total(self, per_row: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=per_row, minlength=len(self.labels))


def _decisions(logged: pd.DataFrame, target_inclusion: np.ndarray, clip: float) -> tuple[_Decisions, np.ndarray]:
    reward, propensity = _check_logged(logged, clip)
    target = _check_row_array(logged, target_inclusion, "target_inclusion", unit=True)
    codes, labels = pd.factorize(logged[DECISION], sort=False)
    weights = target / np.maximum(propensity, clip)
    return _Decisions(codes=codes, labels=pd.Index(labels), weights=weights), reward


def kish_ess(weights: np.ndarray) -> float:
    """(sum w)^2 / sum w^2: how many equally weighted rows the weighted rows are worth (0 when all are 0)."""
    w = np.asarray(weights, dtype=float)
    square = float((w**2).sum())
    return float(w.sum() ** 2 / square) if square > 0 else 0.0


def _bootstrap_rows(n: int, seed: int, samples: int) -> np.ndarray:
    """Indices of resampled decisions, one row per bootstrap sample."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def _interval(draws: np.ndarray) -> tuple[float, float]:
    tail = (1.0 - INTERVAL) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return float(low), float(high)


def _mean_estimate(name: str, per_decision: np.ndarray, dec: _Decisions, seed: int, samples: int) -> PolicyEstimate:
    idx = _bootstrap_rows(len(per_decision), seed, samples)
    low, high = _interval(per_decision[idx].mean(axis=1))
    return PolicyEstimate(name, float(per_decision.mean()), low, high, len(dec.labels), len(dec.codes),
                          kish_ess(dec.weights))


def ips(logged: pd.DataFrame, target_inclusion: np.ndarray, *, clip: float = DEFAULT_CLIP, seed: int = 0,
        samples: int = BOOTSTRAP_SAMPLES) -> PolicyEstimate:
    """Inverse propensity score estimate of the target's uplift captured per decision."""
    dec, reward = _decisions(logged, target_inclusion, clip)
    return _mean_estimate(IPS, dec.total(dec.weights * reward), dec, seed, samples)


def snips(logged: pd.DataFrame, target_inclusion: np.ndarray, *, clip: float = DEFAULT_CLIP, seed: int = 0,
          samples: int = BOOTSTRAP_SAMPLES) -> PolicyEstimate:
    """Self-normalised IPS: the IPS total over the weights' mean (see the module docstring). When the target
    would pick none of the logged rows, there is nothing to normalise and the estimate is NaN."""
    dec, reward = _decisions(logged, target_inclusion, clip)
    weighted = dec.total(dec.weights * reward)
    weight_sum = dec.total(dec.weights)
    rows = np.bincount(dec.codes, minlength=len(dec.labels)).astype(float)

    def ratio(w_r: np.ndarray, w: np.ndarray, n: np.ndarray, decisions: int) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w > 0, w_r / np.where(w > 0, w, 1.0) * n / decisions, np.nan)

    d = len(dec.labels)
    value = float(ratio(np.array(weighted.sum()), np.array(weight_sum.sum()), np.array(rows.sum()), d))
    idx = _bootstrap_rows(d, seed, samples)
    draws = ratio(weighted[idx].sum(axis=1), weight_sum[idx].sum(axis=1), rows[idx].sum(axis=1), d)
    draws = draws[np.isfinite(draws)]
    low, high = _interval(draws) if draws.size else (float("nan"), float("nan"))
    return PolicyEstimate(SNIPS, value, low, high, d, len(dec.codes), kish_ess(dec.weights))


def doubly_robust(logged: pd.DataFrame, target_inclusion: np.ndarray, reward_hat_logged: np.ndarray,
                  target_value_hat: pd.Series, *, clip: float = DEFAULT_CLIP, seed: int = 0,
                  samples: int = BOOTSTRAP_SAMPLES) -> PolicyEstimate:
    """Doubly robust estimate: the reward model's value of the target's shortlist per decision, corrected
    by the weighted residuals of the logged rows. `target_value_hat` is indexed by decision_id and must
    cover every logged decision (entries for other decisions are ignored: the estimate averages over the
    logged decisions, like IPS)."""
    dec, reward = _decisions(logged, target_inclusion, clip)
    reward_hat = _check_row_array(logged, reward_hat_logged, "reward_hat_logged", unit=False)
    if not isinstance(target_value_hat, pd.Series):
        raise ValueError("target_value_hat must be a pandas Series indexed by decision_id.")
    if not target_value_hat.index.is_unique:
        dup = target_value_hat.index[target_value_hat.index.duplicated()][0]
        raise ValueError(f"target_value_hat has decision_id {dup!r} more than once.")
    missing = dec.labels.difference(target_value_hat.index)
    if len(missing):
        raise ValueError(f"target_value_hat has no value for decision_id {missing[0]!r} "
                         f"({len(missing)} logged decision(s) missing).")
    baseline = pd.to_numeric(target_value_hat.reindex(dec.labels), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(baseline))
    if bad.size:
        raise ValueError(f"target_value_hat for decision_id {dec.labels[int(bad[0])]!r} is not a number.")
    per_decision = baseline + dec.total(dec.weights * (reward - reward_hat))
    return _mean_estimate(DR, per_decision, dec, seed, samples)


def support(logged: pd.DataFrame, target_picks: pd.Series, unsupported: pd.Series) -> float:
    """The share of the target's picks, over the logged decisions, that the logging policy could have
    shortlisted: 1 - sum(unsupported) / sum(target_picks) (both indexed by decision_id; a decision absent
    from either counts 0; NaN when the target picks nothing)."""
    decisions = pd.Index(pd.unique(logged[DECISION]))
    picks = pd.to_numeric(target_picks.reindex(decisions), errors="coerce").fillna(0.0).to_numpy(dtype=float)
    missing = pd.to_numeric(unsupported.reindex(decisions), errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if (missing < 0).any() or (missing > picks).any():
        i = int(np.flatnonzero((missing < 0) | (missing > picks))[0])
        raise ValueError(f"decision_id {decisions[i]!r}: {missing[i]:g} unsupported of {picks[i]:g} target picks.")
    return float(1.0 - missing.sum() / picks.sum()) if picks.sum() > 0 else float("nan")


def evaluate_policies(logged: pd.DataFrame, policies: Mapping[str, PolicyInputs], *, clip: float = DEFAULT_CLIP,
                      seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> pd.DataFrame:
    """One row per (policy, estimator): IPS and SNIPS for every policy, DR for those with a reward model's
    predictions. Columns: policy, estimator, value, low, high, n_decisions, n_logged, effective_sample_size,
    support (NaN unless the policy's inputs say how many of its picks had no logging propensity)."""
    rows: list[dict[str, object]] = []
    for name, inputs in policies.items():
        found = [ips(logged, inputs.target_inclusion, clip=clip, seed=seed, samples=samples),
                 snips(logged, inputs.target_inclusion, clip=clip, seed=seed, samples=samples)]
        if inputs.reward_hat_logged is not None and inputs.target_value_hat is not None:
            found.append(doubly_robust(logged, inputs.target_inclusion, inputs.reward_hat_logged,
                                       inputs.target_value_hat, clip=clip, seed=seed, samples=samples))
        share = (support(logged, inputs.target_picks, inputs.unsupported)
                 if inputs.target_picks is not None and inputs.unsupported is not None else float("nan"))
        rows += [{"policy": name, **est.__dict__, "support": share} for est in found]
    return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
