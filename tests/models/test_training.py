"""One training: split by time, fit the ranker and its baselines, evaluate them on the same decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.training import (
    ABLATION,
    DECISION_TIME,
    MODEL,
    POINTWISE,
    RANDOM,
    TRAINED_THROUGH,
    evaluate_orderings,
    fit_models,
)
from sparkpick.config import Settings, with_overrides
from sparkpick.errors import InputError
from tests.models.conftest import FEATURES

FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 15}}


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return with_overrides(settings, FAST)


def test_the_ranker_and_every_baseline_are_measured_on_the_same_later_decisions(boosts, fast: Settings) -> None:
    rows = boosts(n_weeks=12, seed=3)
    fitted = fit_models(rows, FEATURES, fast.ranker, "test-v1")
    assert {MODEL, ABLATION, POINTWISE, RANDOM, "engagement_rate", "views"} <= set(fitted.metrics.index)
    assert fitted.metrics.index[0] == MODEL and len(fitted.gain_curves) == 2 * fast.ranker.shortlist_k
    assert fitted.train[DECISION_TIME].max() < fitted.valid[DECISION_TIME].min()  # validation is later
    assert all(len(s) == len(fitted.valid) for s in fitted.valid_scores.values())
    metric = "captured_at_k"
    assert fitted.metrics.loc[MODEL, metric] > fitted.metrics.loc[RANDOM, metric]  # it learned the planted order
    # refit on every row: the served model has seen the last decision, and says so
    assert fitted.scoring_model.metadata[TRAINED_THROUGH] == pd.Timestamp(rows[DECISION_TIME].max()).isoformat()
    shuffled = fit_models(rows.sample(frac=1.0, random_state=1), FEATURES, fast.ranker, "test-v1")
    assert np.array_equal(shuffled.valid_scores[MODEL], fitted.valid_scores[MODEL])  # same rows, same model


def test_what_cannot_be_trained_is_refused_in_words(boosts, fast: Settings) -> None:
    rows = boosts(n_weeks=6, seed=4)
    with pytest.raises(InputError, match=r"lack the column.*relevance"):
        fit_models(rows.drop(columns="relevance"), FEATURES, fast.ranker, "v")
    with pytest.raises(InputError, match="no feature columns"):
        fit_models(rows, [], fast.ranker, "v")
    first_week = rows[rows[DECISION_TIME] == rows[DECISION_TIME].min()]
    with pytest.raises(InputError, match="Cannot train yet"):
        fit_models(first_week, FEATURES, fast.ranker, "v")


def test_a_perfect_ordering_captures_everything_and_a_reversed_one_nothing() -> None:
    valid = pd.DataFrame({"uplift": [3.0, 2.0, 1.0, 0.0] * 2, "relevance": [3, 2, 1, 0] * 2,
                          "group_id": ["g1"] * 4 + ["g2"] * 4})
    best = valid["uplift"].to_numpy()
    metrics, curves = evaluate_orderings(valid, {"best": best, "worst": -best}, k=2)
    assert metrics.loc["best", "captured_at_k"] == pytest.approx(1.0)
    assert metrics.loc["best", "captured_at_k"] > metrics.loc["worst", "captured_at_k"]
    assert list(curves.columns) == ["best", "worst"] and len(curves) == 4
