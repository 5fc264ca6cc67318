"""The off-policy evidence on logged boosts (each policy's estimated uplift) and the hand-over it decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.matrix import candidate_matrix, feature_version
from models import handover
from models.baselines import engagement_rate_scores
from models.handover import HEURISTIC, PRIOR, decide_handover, decision_ids, estimate, logged_boosts, policy_inputs
from models.prior import prior_model
from models.promotion import CHALLENGER, CHAMPION, PromotionDecision
from models.ranker import ScoringModel
from models.serving import ServedModel
from models.training import TRAINED_THROUGH, FittedModels
from sparkpick.config import Settings


def with_propensity_nights(rows: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Training rows with `propensity_as_of` (the night a joined propensity was scored) beside them."""
    if rows.empty or "propensity_as_of" not in results.columns:
        return rows
    nights = results[["post_id", "boosted_at", "propensity_as_of"]].drop_duplicates(["post_id", "boosted_at"])
    return rows.merge(nights, on=["post_id", "boosted_at"], how="left")


@dataclass(frozen=True)
class OffPolicyEvidence:
    """The off-policy estimates (None without logged propensities on unseen decisions), how many logged
    boosts they stand on, and what the propensities were: `from_scores` (joined to the night scored),
    `from_data` (in the file), `none` (kept and counted as "no propensity", never invented)."""

    table: pd.DataFrame | None
    counts: dict[str, int]
    n_logged: int = 0


def propensity_counts(rows: pd.DataFrame) -> dict[str, int]:
    """How many boosts had a propensity from the scores, from the data, or none."""
    p = pd.to_numeric(rows["boost_propensity"], errors="coerce") if "boost_propensity" in rows else \
        pd.Series(np.nan, index=rows.index)
    joined = rows["propensity_as_of"].notna() if "propensity_as_of" in rows else pd.Series(False, index=rows.index)
    has = p.gt(0) & p.le(1)
    return {"from_scores": int((has & joined).sum()), "from_data": int((has & ~joined).sum()),
            "none": int((~has).sum())}


def off_policy_evidence(
    tables: dict[str, pd.DataFrame], video: pd.DataFrame | None, rows: pd.DataFrame, settings: Settings, *,
    fitted: FittedModels | None = None, champion: ScoringModel | None = None,
    challenger: ScoringModel | None = None, unseen_only: bool = True,
) -> OffPolicyEvidence:
    """Estimate, on the logged boosts with a propensity, the uplift each policy would have captured: the
    prior, the champion, the challenger (the new model's held-out fits, or `challenger`) and the brief's
    heuristic (organic engagement rate). Only decisions after the newest data either model was fitted on
    count (the validation period of `fitted`, and, with `unseen_only`, after the champion's
    `trained_through`)."""
    counts = propensity_counts(rows)
    logged = logged_boosts(rows) if len(rows) else pd.DataFrame()
    if len(logged) and fitted is not None:  # the validation period: the held-out fits never saw it
        logged = logged[logged["night"] >= pd.Timestamp(fitted.split.cutoff)].reset_index(drop=True)
    if unseen_only and len(logged) and champion is not None and champion.metadata.get(TRAINED_THROUGH):
        logged = logged[logged["night"] > pd.Timestamp(champion.metadata[TRAINED_THROUGH])].reset_index(drop=True)
    if logged.empty:
        return OffPolicyEvidence(None, counts)
    prior = prior_model(settings.prior, feature_version(settings))
    scorers: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {PRIOR: prior.scores}
    models: list[ScoringModel] = [prior]
    if champion is not None:
        scorers[handover.CHAMPION] = champion.scores
        models.append(champion)
    reward: Callable[[pd.DataFrame], np.ndarray] | None = None
    if fitted is not None:
        new = fitted.scoring_model
        ranker = fitted.ranker

        def held_out(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(ranker.predict_held_out(new.matrix(frame)), dtype="float64")

        def reward_of(frame: pd.DataFrame) -> np.ndarray:  # the pointwise regressor: a model of the uplift
            return np.asarray(fitted.pointwise.predict(frame), dtype="float64")

        scorers[handover.CHALLENGER], reward = held_out, reward_of
        models.append(new)
    elif challenger is not None:
        chosen = challenger

        def predicted(frame: pd.DataFrame) -> np.ndarray:
            return chosen.predict(frame)["predicted_uplift"].to_numpy()

        scorers[handover.CHALLENGER], reward = chosen.scores, predicted
        models.append(chosen)
    elif champion is not None and not champion.is_prior:
        serving = champion

        def served_prediction(frame: pd.DataFrame) -> np.ndarray:
            return serving.predict(frame)["predicted_uplift"].to_numpy()

        reward = served_prediction
    scorers[HEURISTIC] = engagement_rate_scores
    frames = []
    for night, mine in logged.groupby("night", sort=True):
        at = candidate_matrix(tables, pd.Timestamp(night), settings, video=video)
        at = at[at["advertiser_id"].astype(str).isin(set(mine["advertiser_id"]))]
        frames.append(at.assign(decision_id=decision_ids(at["advertiser_id"], pd.Series(night, index=at.index))))
    candidates = pd.concat(frames, ignore_index=True)
    missing = sorted({f for m in models for f in m.feature_names} - set(candidates.columns))
    if missing:  # no video features stored: the cues stay missing, as when scoring
        candidates = candidates.assign(**{f: float("nan") for f in missing})
    inputs = policy_inputs(logged, candidates, scorers, settings.ranker.shortlist_k, reward)
    return OffPolicyEvidence(estimate(logged, inputs, settings.ranker.seed), counts, len(logged))


def handover_decision(
    evidence: OffPolicyEvidence, fallback: PromotionDecision, champion: ServedModel, settings: Settings
) -> PromotionDecision:
    """The promotion by off-policy evidence when there is enough; else the validation gate's, saying so."""
    who = f"champion v{champion.version}" + (" (the brief's rules)" if champion.model.is_prior else "")
    judged = None
    if evidence.table is not None:
        judged = decide_handover(evidence.table, who, evidence.n_logged, settings.policy.handover_min_logged)
    if judged is None:
        why = (f"only {evidence.n_logged} logged boosts with a propensity on decisions neither model was "
               f"fitted on, and the off-policy gate needs {settings.policy.handover_min_logged}"
               if evidence.n_logged else "no logged boosts with a propensity on decisions neither model was "
               "fitted on")
        return PromotionDecision(
            fallback.alias, f"{fallback.reason} ({why}: the validation gate decided)", fallback.champion_value)
    alias = CHAMPION if judged.promote else CHALLENGER
    return PromotionDecision(alias, judged.reason, fallback.champion_value)
