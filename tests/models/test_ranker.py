"""The lambdarank estimator: it learns a planted ordering, is repeatable, and guards LightGBM's grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import captured_at_k, ndcg_at_k, time_split
from models.ranker import (
    ScoringModel,
    UpliftRanker,
    fit_calibration,
    group_sizes,
    propensity_weights,
    sort_by_group,
)
from tests.models.conftest import FEATURES

PARAMS = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1}


def _fit(frame: pd.DataFrame, seed: int = 42) -> tuple[UpliftRanker, pd.DataFrame]:
    split = time_split(frame, 0.25)
    train, valid = sort_by_group(frame[split.train]), sort_by_group(frame[split.valid])
    ranker = UpliftRanker(params=PARAMS, k=5, early_stopping_rounds=30, random_state=seed).fit(
        train[FEATURES], train["relevance"].to_numpy(), train["group_id"].to_numpy(),
        eval_set=(valid[FEATURES], valid["relevance"].to_numpy(), valid["group_id"].to_numpy()),
    )
    return ranker, valid


def test_learns_the_planted_ordering(boosts) -> None:
    ranker, valid = _fit(boosts(seed=5))
    scores = ranker.predict(valid)
    group = valid["group_id"].to_numpy()
    assert ranker.best_iteration_ < PARAMS["n_estimators"]  # early stopping did stop
    assert ndcg_at_k(valid["relevance"].to_numpy(), scores, group, 5) > 0.85
    assert captured_at_k(valid["expected_uplift"].to_numpy(), scores, group, 5) > 0.8
    # and a shuffled feature column destroys it (the test can fail)
    broken = valid.copy()
    broken[FEATURES] = broken[FEATURES].sample(frac=1.0, random_state=1).to_numpy()
    assert captured_at_k(valid["expected_uplift"].to_numpy(), ranker.predict(broken), group, 5) < 0.5


def test_fit_returns_self_and_is_deterministic(boosts) -> None:
    frame = boosts(n_weeks=10, seed=2)
    a, valid = _fit(frame)
    b, _ = _fit(frame)
    assert np.array_equal(a.predict(valid), b.predict(valid))
    assert a.get_params()["k"] == 5 and not hasattr(UpliftRanker(), "model_")


def test_group_sizes_refuse_non_contiguous_groups() -> None:
    assert list(group_sizes(np.array(["a", "a", "b", "c", "c", "c"]))) == [2, 1, 3]
    with pytest.raises(ValueError, match="not contiguous"):
        group_sizes(np.array(["a", "b", "a"]))
    frame = pd.DataFrame({"group_id": ["a", "b", "a", "b"], "x": [1, 2, 3, 4]})
    ordered = sort_by_group(frame)
    assert list(ordered["x"]) == [1, 3, 2, 4]
    assert group_sizes(ordered["group_id"]).sum() == len(frame)


def test_fit_refuses_shuffled_rows_and_bad_grades(boosts) -> None:
    frame = boosts(n_weeks=4).sample(frac=1.0, random_state=0)
    ranker = UpliftRanker(params=PARAMS, early_stopping_rounds=None)
    with pytest.raises(ValueError, match="not contiguous"):
        ranker.fit(frame[FEATURES], frame["relevance"].to_numpy(), frame["group_id"].to_numpy())
    ordered = sort_by_group(frame)
    with pytest.raises(ValueError, match=r"0\.\.30"):
        ranker.fit(ordered[FEATURES], ordered["relevance"].to_numpy() + 30, ordered["group_id"].to_numpy())
    with pytest.raises(ValueError, match="whole numbers"):
        ranker.fit(ordered[FEATURES], ordered["relevance"].to_numpy() + 0.5, ordered["group_id"].to_numpy())


def test_propensity_weights_are_clipped_and_normalised() -> None:
    w = propensity_weights(pd.Series([0.5, 0.001, np.nan, 1.0]), clip=20.0)
    assert w.mean() == pytest.approx(1.0)
    raw = np.array([2.0, 20.0, 1.0, 1.0])
    assert np.allclose(w, raw / raw.mean())


def test_scoring_model_round_trip_and_calibration(boosts) -> None:
    ranker, valid = _fit(boosts(seed=3))
    scores = ranker.predict(valid)
    calibration = fit_calibration(scores, valid["uplift"].to_numpy(), n_bins=4, coverage=0.8)
    model = ScoringModel.from_ranker(ranker, calibration, "test-v1")
    again = ScoringModel.from_json(model.to_json())
    out = again.predict(valid)
    assert np.allclose(out["score"], scores)
    # calibrated uplift keeps the ranker's order and lands on the label's scale
    order = np.argsort(scores)
    assert np.all(np.diff(out["predicted_uplift"].to_numpy()[order]) >= -1e-12)
    assert abs(out["predicted_uplift"].mean() - valid["uplift"].mean()) < 0.1
    assert (out["uplift_low"] <= out["predicted_uplift"]).all()
    assert (out["predicted_uplift"] <= out["uplift_high"]).all()
    inside = (valid["uplift"].to_numpy() >= out["uplift_low"]) & (valid["uplift"].to_numpy() <= out["uplift_high"])
    assert 0.65 < inside.mean() < 0.95  # the band covers about its nominal 80% on the rows it was fitted on
    contrib = again.contributions(valid)
    assert np.allclose(contrib.sum(axis=1), scores)


def test_propensity_weighting_is_optional_and_changes_the_fit(boosts, settings) -> None:
    from models.training import fit_models
    from sparkpick.config import with_overrides

    frame = boosts(n_weeks=12, seed=8)
    params = {"params": PARAMS, "early_stopping_rounds": 20}
    plain = fit_models(frame, FEATURES, with_overrides(settings, {"ranker": params}).ranker, "v")
    weighted = fit_models(
        frame, FEATURES,
        with_overrides(settings, {"ranker": {**params, "propensity_weighting": True}}).ranker, "v",
    )
    assert not plain.weighted and weighted.weighted
    assert not np.array_equal(plain.ranker.predict(plain.valid), weighted.ranker.predict(plain.valid))
    # without a propensity column the option is a no-op rather than an error
    unweighted = fit_models(
        frame.drop(columns="boost_propensity"), FEATURES,
        with_overrides(settings, {"ranker": {**params, "propensity_weighting": True}}).ranker, "v",
    )
    assert not unweighted.weighted
