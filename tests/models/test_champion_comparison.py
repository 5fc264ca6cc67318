"""The promotion gate's evidence: champion and new model on the validation decisions the champion never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import mlflow_store, serving
from models.evaluate import ranking_metrics
from models.training import fit_models
from sparkpick.config import Settings
from tests.models.conftest import FEATURES
from tests.models.test_serving import WEAK, compare, decide, make_champion


@pytest.mark.parametrize(("champion_features", "new_features", "alias"), [
    (WEAK, FEATURES, "champion"),   # a better model displaces a worse champion
    (FEATURES, WEAK, "challenger"),  # a worse one is refused
])
def test_gate_compares_on_decisions_the_champion_never_saw(
    boosts, fast: Settings, store: tuple[str, Path], champion_features: list[str], new_features: list[str],
    alias: str,
) -> None:
    uri, _ = store
    frame = boosts(seed=13, n_weeks=30)
    weeks = np.sort(frame["decision_time"].unique())
    earlier = frame[frame["decision_time"] < weeks[22]]
    old = fit_models(earlier, champion_features, fast.ranker, "test-v1")
    version = make_champion(store, old)
    new = fit_models(frame, new_features, fast.ranker, "test-v1")
    compared = compare(uri, new)
    since = pd.Timestamp(old.scoring_model.metadata["trained_through"])
    unseen = new.valid[new.valid["decision_time"] > since]
    assert compared.version == version and compared.decisions == unseen["group_id"].nunique() > 0
    # both measured on exactly those decisions, the new model by its held-out members
    mask = (new.valid["decision_time"] > since).to_numpy()
    with mlflow_store.tracking(uri) as client:
        served = serving.load_model(client, serving.champion_uri("sparkpick-ranker"))
    args = (unseen["uplift"].to_numpy(), unseen["relevance"].to_numpy())
    group = unseen["group_id"].to_numpy()
    assert compared.champion_value == pytest.approx(
        ranking_metrics(*args, served.model.scores(unseen), group, 5)["captured_at_k"])
    assert compared.new_value == pytest.approx(
        ranking_metrics(*args, new.valid_scores["ranker"][mask], group, 5)["captured_at_k"])
    decision = decide(compared)
    assert decision.alias == alias, decision.reason
