"""Hand-over by evidence: off-policy estimates of what each shortlist policy would have captured on the
logged boosts, and the gate that lets a trained ranker replace the champion only when they say so.

The estimators are in `models/off_policy.py`; this module builds their inputs from sparkpick's own tables:

- **Logged boosts**: past boosts with a propensity (the file's own, or joined from the night they were
  scored: `models.policy.join_propensities`) and a realised uplift. One decision is one advertiser-night:
  the night the propensity was scored, else the night the boost started.
- **Target policies**: each is a scorer (the prior, the champion, the challenger, the brief's heuristic of
  organic engagement rate) that shortlists its top `k` of the advertiser's candidates as of that night,
  deterministically, skipping posts a blocking flag holds back (as the shortlist does); `target_inclusion`
  is 1 for a logged post in that top k, else 0. Live and earlier boosts are not excluded here (a
  simplification: the candidates are every post in the window).
- **Reward model** (for the doubly robust estimate), on the logged rows and summed over each target's
  top k: in training, the pointwise LightGBM regressor fitted on the same training rows (a model of the
  uplift itself, not of any policy's order); in `sparkpick evaluate`, the challenger's calibrated
  `predicted_uplift` (or the champion's), which leans toward that model: read its DR row with that in mind.

`decide_handover`: with at least `min_logged` logged boosts, the challenger becomes champion only when the
lower end of its doubly robust 95% interval is above the champion's doubly robust estimate; otherwise it
stays challenger, with the figures in the reason. With fewer, it returns None: the caller falls back to
the validation gate (`models.promotion.decide_promotion`) and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.readiness import BLOCKING_FLAGS
from models.off_policy import DR, PolicyInputs, evaluate_policies

Scorer = Callable[[pd.DataFrame], np.ndarray]
PRIOR, CHAMPION, CHALLENGER, HEURISTIC = "prior", "champion", "challenger", "heuristic"


def decision_ids(advertiser: pd.Series, night: pd.Series) -> pd.Series:
    """`advertiser@YYYY-MM-DD` of each row (the night in UTC)."""
    return advertiser.astype(str) + "@" + pd.to_datetime(night).dt.strftime("%Y-%m-%d")


def logged_boosts(rows: pd.DataFrame) -> pd.DataFrame:
    """The training rows usable off-policy: a propensity in (0, 1] and a realised uplift. Columns
    `decision_id`, `advertiser_id`, `post_id`, `night` (naive UTC, midnight), `reward`, `boost_propensity`."""
    p = pd.to_numeric(rows.get("boost_propensity"), errors="coerce")
    ok = p.gt(0) & p.le(1) & rows["uplift"].notna()
    r = rows[ok.to_numpy()]
    when = r["propensity_as_of"] if "propensity_as_of" in r.columns else pd.Series(pd.NaT, index=r.index)
    night = pd.to_datetime(when).fillna(pd.to_datetime(r["boosted_at"])).dt.normalize()
    out = pd.DataFrame({
        "decision_id": decision_ids(r["advertiser_id"], night), "advertiser_id": r["advertiser_id"].astype(str),
        "post_id": r["post_id"].astype(str), "night": night.astype("datetime64[us]"),
        "reward": r["uplift"].astype("float64"), "boost_propensity": p[ok].astype("float64"),
    })
    return out.sort_values(["decision_id", "post_id"], kind="stable").reset_index(drop=True)


def policy_inputs(
    logged: pd.DataFrame, candidates: pd.DataFrame, scorers: Mapping[str, Scorer], k: int,
    reward: Scorer | None,
) -> dict[str, PolicyInputs]:
    """Each scorer's `PolicyInputs` on `logged`. `candidates` holds every candidate row of every logged
    decision (its `decision_id` column says which), with the features the scorers need. A logged post that
    is not among its decision's candidates (posted outside the window) is never in a target's top k."""
    cands = candidates.reset_index(drop=True)
    predicted = np.asarray(reward(cands), dtype="float64") if reward is not None else None
    key = logged["decision_id"] + "|" + logged["post_id"]
    cand_key = cands["decision_id"].astype(str) + "|" + cands["post_id"].astype(str)
    if predicted is not None:
        by_key = pd.Series(predicted, index=cand_key).groupby(level=0).first()
        reward_hat = key.map(by_key).to_numpy(dtype="float64", copy=True)
        missing = ~np.isfinite(reward_hat)
        reward_hat[missing] = float(np.nanmean(predicted)) if len(predicted) else 0.0
    blocked = np.zeros(len(cands), dtype=bool)
    for flag in BLOCKING_FLAGS:
        if flag in cands.columns:
            blocked |= cands[flag].fillna(False).astype(bool).to_numpy()
    out: dict[str, PolicyInputs] = {}
    for name, scorer in scorers.items():
        scores = np.asarray(scorer(cands), dtype="float64")
        order = pd.DataFrame({"d": cands["decision_id"].astype(str), "s": np.nan_to_num(scores, nan=-np.inf),
                              "p": cands["post_id"].astype(str)})[~blocked]  # as the shortlist: no slot
        order = order.sort_values(["d", "s", "p"], ascending=[True, False, True], kind="stable")
        top = order.groupby("d", sort=False).head(k)
        chosen = set(top["d"] + "|" + top["p"])
        inclusion = key.isin(chosen).to_numpy(dtype="float64")
        if predicted is None:
            out[name] = PolicyInputs(inclusion)
            continue
        value = pd.Series(predicted[top.index.to_numpy()], index=top["d"].to_numpy()).groupby(level=0).sum()
        value = value.reindex(pd.Index(logged["decision_id"].unique())).fillna(0.0)
        out[name] = PolicyInputs(inclusion, reward_hat, value)
    return out


def estimate(logged: pd.DataFrame, inputs: Mapping[str, PolicyInputs], seed: int) -> pd.DataFrame:
    """One row per (policy, estimator): IPS, SNIPS and (with a reward model) DR, with 95% intervals."""
    return evaluate_policies(logged[["decision_id", "post_id", "reward", "boost_propensity"]], inputs, seed=seed)


def ranks_nothing(scores: np.ndarray) -> bool:
    """Whether a model's scores order nothing (all equal, or none finite): such a model never takes over."""
    finite = np.asarray(scores, dtype="float64")
    finite = finite[np.isfinite(finite)]
    return finite.size == 0 or float(np.ptp(finite)) == 0.0


@dataclass(frozen=True)
class Handover:
    """The off-policy gate's judgement: `promote` and the reason in words."""

    promote: bool
    reason: str


def decide_handover(table: pd.DataFrame, champion: str, n_logged: int, min_logged: int) -> Handover | None:
    """Promote the challenger only when its DR lower bound is above the champion's DR estimate; None when
    there are too few logged boosts (or no DR row) to judge by."""
    if n_logged < min_logged:
        return None
    dr = table[table["estimator"] == DR].set_index("policy")
    if CHALLENGER not in dr.index or CHAMPION not in dr.index:
        return None
    new, old = dr.loc[CHALLENGER], dr.loc[CHAMPION]
    shown = (f"doubly robust estimate on {n_logged} logged boosts in {int(new['n_decisions'])} decisions: "
             f"challenger {new['value']:.3f} (95% from {new['low']:.3f} to {new['high']:.3f}), "
             f"{champion} {old['value']:.3f}")
    if np.isfinite(new["low"]) and new["low"] > old["value"]:
        return Handover(True, f"beats the {champion} off-policy: {shown}")
    return Handover(False, f"kept the {champion}: the off-policy evidence does not show the new model better "
                           f"({shown}; it needs its lower bound above the {champion}'s estimate)")
