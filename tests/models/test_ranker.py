"""The lambdarank estimator: it learns a planted ordering, is repeatable, and guards LightGBM's grouping."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.evaluate import captured_at_k, ndcg_at_k, time_split
from models.ranker import (
    RankerEnsemble,
    ScoringModel,
    UpliftRanker,
    group_sizes,
    propensity_weights,
    sort_by_group,
)
from models.uplift_calibration import ScoreCalibration, fit_calibration
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


# Members differ only through LightGBM's row and column sampling.
BAGGED = {**PARAMS, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8}


def _ensemble(frame: pd.DataFrame, bags: int = 3, refit: bool = True, **kwargs) -> tuple[RankerEnsemble, pd.DataFrame]:
    split = time_split(frame, 0.25)
    train, valid = sort_by_group(frame[split.train]), sort_by_group(frame[split.valid])
    everything = sort_by_group(frame)
    refit_rows = (everything[FEATURES], everything["relevance"].to_numpy(), everything["group_id"].to_numpy(), None)
    ensemble = RankerEnsemble(params=BAGGED, k=5, bags=bags, early_stopping_rounds=30, **kwargs).fit(
        train[FEATURES], train["relevance"].to_numpy(), train["group_id"].to_numpy(),
        eval_set=(valid[FEATURES], valid["relevance"].to_numpy(), valid["group_id"].to_numpy()),
        refit_rows=refit_rows if refit else None,
    )
    return ensemble, valid


def test_ensemble_averages_members_and_refits_them_on_all_rows(boosts) -> None:
    frame = boosts(n_weeks=16, seed=6)
    ensemble, valid = _ensemble(frame)
    assert len(ensemble.members_) == len(ensemble.held_out_) == 3 and ensemble.refit_
    # members differ by seed; the score is their mean
    member_scores = [m.predict(valid) for m in ensemble.members_]
    assert not np.array_equal(member_scores[0], member_scores[1])
    assert np.allclose(ensemble.predict(valid), np.mean(member_scores, axis=0))
    # each refit member grows its held-out tree count by the row ratio (all rows / training rows)
    split = time_split(frame, 0.25)
    ratio = len(frame) / split.train.sum()
    assert ensemble.best_iterations_ == [max(1, round(m.best_iteration_ * ratio)) for m in ensemble.held_out_]
    assert not np.allclose(ensemble.predict(valid), ensemble.predict_held_out(valid))
    # both still rank the planted truth well; the held-out score is what validation figures use
    group, truth = valid["group_id"].to_numpy(), valid["expected_uplift"].to_numpy()
    assert captured_at_k(truth, ensemble.predict_held_out(valid), group, 5) > 0.8
    # without refit the served members are the held-out ones; the same data gives the same ensemble
    plain, _ = _ensemble(frame, refit=False)
    again, _ = _ensemble(frame, refit=False)
    assert not plain.refit_ and np.array_equal(plain.predict(valid), plain.predict_held_out(valid))
    assert np.array_equal(plain.predict(valid), again.predict(valid))
    with pytest.raises(ValueError, match="at least one member"):
        _ensemble(frame, bags=0)


def test_monotone_constraint_holds_for_every_row(boosts) -> None:
    frame = boosts(n_weeks=12, seed=9)
    ensemble, valid = _ensemble(frame, monotone={"video_polish_score": -1, "not_a_feature": 1})
    rows = valid.head(20)
    grid = np.linspace(0, 100, 11)
    curves = np.array([ensemble.predict(rows.assign(video_polish_score=v)) for v in grid])
    assert np.all(np.diff(curves, axis=0) <= 1e-12)  # never rises with polish, for any post
    with pytest.raises(ValueError, match="-1, 0 or 1"):
        _ensemble(frame, bags=1, monotone={"video_polish_score": 2})


def test_served_ensemble_scores_and_calibrates_through_percentiles(boosts) -> None:
    frame = boosts(n_weeks=16, seed=10)
    ensemble, valid = _ensemble(frame)
    held, served = ensemble.predict_held_out(valid), ensemble.predict(valid)
    calibration = fit_calibration(held, valid["uplift"].to_numpy(), 4, 0.8, served_scores=served)
    model = ScoringModel.from_ranker(ensemble, calibration, "test-v1", metadata={"trained_through": "x"})
    again = ScoringModel.from_json(model.to_json())
    assert len(again.boosters) == 3 and again.metadata == {"trained_through": "x"}
    out = again.predict(valid)
    assert np.allclose(out["score"], served)
    # the served model's order is kept, and its predicted uplift lands on the label's scale although its
    # raw scores (more trees after the refit) are on another scale than the held-out members'
    order = np.argsort(served)
    assert np.all(np.diff(out["predicted_uplift"].to_numpy()[order]) >= -1e-12)
    assert abs(out["predicted_uplift"].mean() - valid["uplift"].mean()) < 0.15
    assert np.corrcoef(out["predicted_uplift"], valid["expected_uplift"])[0, 1] > 0.7
    # contributions of the mean add up to the mean score
    assert np.allclose(again.contributions(valid).sum(axis=1), served)


def test_models_saved_before_ensembles_still_load(boosts) -> None:
    ranker, valid = _fit(boosts(n_weeks=8, seed=3))
    scores = ranker.predict(valid)
    old = fit_calibration(scores, valid["uplift"].to_numpy(), 2, 0.8).to_dict()
    old.pop("reference")
    old_json = json.dumps({
        "booster": ranker.booster_.model_to_string(num_iteration=ranker.best_iteration_),
        "feature_names": FEATURES, "calibration": {**old, "knots_x": [float(scores.min()), float(scores.max())],
                                                   "knots_y": [0.0, 1.0]},
        "feature_version": "v0",
    })
    model = ScoringModel.from_json(old_json)
    assert np.allclose(model.scores(valid), scores)
    assert model.calibration.reference == () and isinstance(model.calibration, ScoreCalibration)
    out = model.predict(valid)  # knots on raw scores, as old models had them
    assert out["predicted_uplift"].between(0, 1).all()
    assert out["predicted_uplift"].to_numpy()[np.argmax(scores)] == pytest.approx(1.0)


def test_calibration_knots_sit_in_the_middle_of_isotonic_plateaus() -> None:
    from models.uplift_calibration import plateau_centres

    xs, ys = plateau_centres(np.array([0.0, 0.2, 0.3, 0.5, 0.6, 1.0]), np.array([1.0, 1.0, 2.0, 2.0, 2.0, 3.0]))
    assert xs == pytest.approx((0.1, 0.45, 1.0)) and ys == (1.0, 2.0, 3.0)
    # so two top picks on the same step still get different (higher for higher) figures
    assert np.interp(0.8, xs, ys) < np.interp(0.9, xs, ys)


def test_label_gain_kinds(boosts) -> None:
    from models.ranker import gain_params

    assert gain_params("exponential") == {}  # LightGBM's default, 2^grade - 1
    assert gain_params("linear")["label_gain"][:5] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="linear"):
        gain_params("quadratic")
    frame = boosts(n_weeks=10, seed=4)
    split = time_split(frame, 0.25)
    train, valid = sort_by_group(frame[split.train]), sort_by_group(frame[split.valid])
    scores = {}
    for kind in ("exponential", "linear"):
        ranker = UpliftRanker(params={**PARAMS, **gain_params(kind)}, early_stopping_rounds=None).fit(
            train[FEATURES], train["relevance"].to_numpy(), train["group_id"].to_numpy()
        )
        scores[kind] = ranker.predict(valid)
    assert not np.allclose(scores["exponential"], scores["linear"])  # the gain reaches LightGBM
