"""The training procedure, without any I/O: split by time, fit the ranker, its baselines and the no-video
ablation, calibrate, and measure everything on the same validation decisions.

`flows/train.py` wires this to the warehouse and MLflow; the evaluation benchmark calls it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.labels import grade
from models.baselines import (
    PointwiseRegressor,
    engagement_rate_scores,
    non_video_features,
    random_scores,
    views_scores,
)
from models.evaluate import TimeSplit, gain_curve, ranking_metrics, time_split
from models.ranker import (
    RankerEnsemble,
    ScoringModel,
    gain_params,
    propensity_weights,
    sort_by_group,
)
from models.uplift_calibration import fit_calibration
from sparkpick.config import LabelConfig, RankerConfig
from sparkpick.errors import InputError

GROUP = "group_id"
UPLIFT = "uplift"
RELEVANCE = "relevance"
PROPENSITY = "boost_propensity"
DECISION_TIME = "decision_time"
# Model metadata: the latest decision the served model was fitted on (the gate only compares a
# champion on decisions after it).
TRAINED_THROUGH = "trained_through"

# Names of the orderings compared in the evaluation table, model first.
MODEL = "ranker"
ABLATION = "ranker_no_video"
POINTWISE = "pointwise_regressor"
ENGAGEMENT = "engagement_rate"
VIEWS_BASELINE = "views"
RANDOM = "random"

LABEL_DEFINITION = (
    "uplift = log(baseline cost per conversion / Spark Ad cost per conversion) of a past boost, with "
    "conversions shrunk toward the advertiser's baseline rate; relevance = that uplift graded into "
    "levels (label.relevance_scope: global = by the training boosts' uplift quantiles, group = by rank "
    "within the group); lambdarank compares rows within a decision group (advertiser x decision week)."
)


@dataclass(frozen=True)
class FittedModels:
    """Everything one training produced, and how it measured on the validation decisions."""

    ranker: RankerEnsemble
    ablation: RankerEnsemble | None
    pointwise: PointwiseRegressor
    scoring_model: ScoringModel
    split: TimeSplit
    train: pd.DataFrame
    valid: pd.DataFrame
    features: list[str]
    valid_scores: dict[str, np.ndarray]
    metrics: pd.DataFrame
    gain_curves: pd.DataFrame
    weighted: bool

    def describe(self) -> str:
        """One line on what was registered, and where the validation figures come from."""
        members = len(self.ranker.members_)
        trees = ", ".join(map(str, self.ranker.best_iterations_))
        if self.ranker.refit_:
            seen = len(self.train) + len(self.valid) + self.split.purged
            return (f"model: mean of {members} lambdarank rankers ({trees} trees) refit on all {seen} labelled "
                    "boosts; its validation figures are from their held-out fits")
        return f"model: mean of {members} lambdarank rankers ({trees} trees) fitted on {len(self.train)} boosts"


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """A canonical row order, so that the same rows in any order give the same model."""
    keys = [c for c in (DECISION_TIME, GROUP, "post_id", "boosted_at") if c in frame]
    return sort_by_group(frame.sort_values(keys, kind="stable").reset_index(drop=True), GROUP)


def evaluate_orderings(
    valid: pd.DataFrame, scores: dict[str, np.ndarray], k: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics table (one row per ordering) and gain curves (k = 1..2k, one column per ordering)."""
    uplift = valid[UPLIFT].to_numpy(dtype=float)
    grades = valid[RELEVANCE].to_numpy(dtype=float)
    group = valid[GROUP].to_numpy()
    metrics = pd.DataFrame(
        {name: ranking_metrics(uplift, grades, s, group, k) for name, s in scores.items()}
    ).T
    metrics.index.name = "ordering"
    curves = pd.DataFrame({name: gain_curve(uplift, s, group, 2 * k) for name, s in scores.items()})
    return metrics, curves


def baseline_scorers(seed: int) -> dict[str, Callable[[pd.DataFrame], np.ndarray]]:
    """The rule-based orderings, by name."""
    return {
        ENGAGEMENT: engagement_rate_scores,
        VIEWS_BASELINE: views_scores,
        RANDOM: lambda frame: random_scores(frame, seed),
    }


def fit_models(
    training: pd.DataFrame,
    features: list[str],
    config: RankerConfig,
    feature_version: str,
    label: LabelConfig | None = None,
    base_terms: tuple[dict[str, Any], ...] = (),
) -> FittedModels:
    """Split by decision time, fit ranker + ablation + pointwise baseline, calibrate and evaluate.

    With `label`, relevance grades are recomputed as it says, global cut points from the training rows
    only (so validation labels never shape the training grades); without, the rows' grades are used.
    With `base_terms` (the prior's terms: `models.prior.starting_terms`), the rankers start from the
    prior's score and learn corrections to it (`models.ranker.UpliftRanker`).
    """
    missing = [c for c in (GROUP, DECISION_TIME, UPLIFT, RELEVANCE) if c not in training]
    if missing:
        raise InputError(f"The training rows lack the column(s) {', '.join(missing)}.")
    if not features:
        raise InputError("The training rows have no feature columns.")
    frame = _order(training.dropna(subset=[UPLIFT, RELEVANCE]))
    try:
        split = time_split(frame, config.validation_fraction)
    except ValueError as exc:
        raise InputError(f"Cannot train yet: {exc}") from exc
    train, valid = _order(frame[split.train]), _order(frame[split.valid])
    if train[GROUP].nunique() < 2 or len(train) < 2 * config.shortlist_k:
        raise InputError(
            f"Cannot train yet: only {len(train)} past boosts in {train[GROUP].nunique()} decisions fall "
            f"before the validation period (from {split.cutoff}). Ingest more Spark Ad results."
        )
    if label is not None:
        reference = train[UPLIFT]
        train = train.assign(**{RELEVANCE: grade(train[UPLIFT], train[GROUP], label, reference)})
        valid = valid.assign(**{RELEVANCE: grade(valid[UPLIFT], valid[GROUP], label, reference)})
        frame = frame.assign(**{RELEVANCE: grade(frame[UPLIFT], frame[GROUP], label)})
    weighted = bool(config.propensity_weighting and PROPENSITY in train and train[PROPENSITY].notna().any())

    def weights_of(rows: pd.DataFrame) -> np.ndarray | None:
        return propensity_weights(rows[PROPENSITY], config.propensity_clip) if weighted else None

    def ranker_on(cols: list[str]) -> RankerEnsemble:
        refit_rows = (
            (frame[cols], frame[RELEVANCE].to_numpy(), frame[GROUP].to_numpy(), weights_of(frame))
            if config.refit_on_all_rows else None
        )
        return RankerEnsemble(
            params={**gain_params(config.label_gain), **config.params}, k=config.shortlist_k, bags=config.bags,
            early_stopping_rounds=config.early_stopping_rounds, random_state=config.seed,
            monotone=dict(config.monotone), base_terms=base_terms or None,
        ).fit(
            train[cols], train[RELEVANCE].to_numpy(), train[GROUP].to_numpy(), sample_weight=weights_of(train),
            eval_set=(valid[cols], valid[RELEVANCE].to_numpy(), valid[GROUP].to_numpy()),
            refit_rows=refit_rows,
        )

    ranker = ranker_on(features)
    plain = non_video_features(features)
    ablation = ranker_on(plain) if plain and len(plain) < len(features) else None
    pointwise = PointwiseRegressor(
        params=config.params, early_stopping_rounds=config.early_stopping_rounds, random_state=config.seed
    ).fit(
        train[features], train[UPLIFT].to_numpy(), sample_weight=weights_of(train),
        eval_set=(valid[features], valid[UPLIFT].to_numpy()),
    )
    # Held-out scores only: the refit members have seen the validation rows.
    scores: dict[str, np.ndarray] = {MODEL: ranker.predict_held_out(valid)}
    if ablation is not None:
        scores[ABLATION] = ablation.predict_held_out(valid)
    scores[POINTWISE] = pointwise.predict(valid)
    for name, scorer in baseline_scorers(config.seed).items():
        try:
            scores[name] = scorer(valid)
        except ValueError:
            continue  # a baseline whose columns this data lacks is left out of the table
    metrics, curves = evaluate_orderings(valid, scores, config.shortlist_k)
    calibration = fit_calibration(
        scores[MODEL], valid[UPLIFT].to_numpy(), config.calibration_bins, config.band_coverage,
        served_scores=ranker.predict(valid),
    )
    seen = frame if ranker.refit_ else train
    trained_through = pd.Timestamp(seen[DECISION_TIME].max()).isoformat()
    scoring_model = ScoringModel.from_ranker(
        ranker, calibration, feature_version, metadata={TRAINED_THROUGH: trained_through}
    )
    return FittedModels(
        ranker=ranker, ablation=ablation, pointwise=pointwise, scoring_model=scoring_model, split=split,
        train=train, valid=valid, features=list(features), valid_scores=scores, metrics=metrics,
        gain_curves=curves, weighted=weighted,
    )
