"""The promotion gate's evidence: the champion and the new model on the validation decisions it has not seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from models.evaluate import ranking_metrics
from models.promotion import CHAMPION
from models.serving import alias_version, champion_uri, check_feature_version, load_model
from models.training import DECISION_TIME, GROUP, MODEL, RELEVANCE, TRAINED_THROUGH, UPLIFT, FittedModels
from sparkpick.errors import InputError


@dataclass(frozen=True)
class ChampionComparison:
    """The champion and the new model measured on the same validation decisions, the ones the champion
    was not fitted on (a champion refit on every row has seen older ones, and would win on them unfairly).

    `decisions` is how many such decisions there were (None when nothing was compared: no champion, or
    `problem` says why it could not be evaluated at all). Versions and values are None without a champion.
    """

    version: str | None = None
    champion_value: float | None = None
    new_value: float | None = None
    decisions: int | None = None
    since: str | None = None
    problem: str | None = None


def evaluate_champion(
    client: MlflowClient, model_name: str, fitted: FittedModels, metric: str, k: int
) -> ChampionComparison:
    """Score the champion and the new (held-out) model on the validation decisions after the
    champion's `trained_through` (all of them for a champion that does not say)."""
    version = alias_version(client, model_name, CHAMPION)
    if version is None:
        return ChampionComparison()
    try:
        served = load_model(client, champion_uri(model_name))
        check_feature_version(served, fitted.scoring_model.feature_version)
        missing = [f for f in served.model.feature_names if f not in fitted.valid]
        if missing and not served.model.is_prior:
            raise InputError(f"it needs features the data lacks: {', '.join(missing[:5])}")
    except InputError as exc:
        return ChampionComparison(version=version, problem=str(exc))
    # The prior reads a missing cue (no video featurised) as adding nothing, as when it scores.
    valid = fitted.valid.assign(**dict.fromkeys(missing, float("nan"))) if missing else fitted.valid
    since = served.model.metadata.get(TRAINED_THROUGH)
    times = pd.to_datetime(valid[DECISION_TIME])
    unseen = (times > pd.Timestamp(since)).to_numpy() if since else np.ones(len(valid), dtype=bool)
    rows = valid[unseen]
    if rows.empty:
        return ChampionComparison(version=version, decisions=0, since=since)

    def measured(scores: Any) -> float:
        return float(ranking_metrics(
            rows[UPLIFT].to_numpy(), rows[RELEVANCE].to_numpy(), scores, rows[GROUP].to_numpy(), k,
        )[metric])

    return ChampionComparison(
        version=version,
        champion_value=measured(served.model.scores(rows)),
        new_value=measured(fitted.valid_scores[MODEL][unseen]),
        decisions=int(rows[GROUP].nunique()),
        since=since,
    )
