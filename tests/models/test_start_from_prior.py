"""A ranker that starts from the prior: with few boosts it ranks as the prior does, with many it learns
past it, and every way of serving it (sparkpick, its files, its JSON) gives the same score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.evaluate import captured_at_k, time_split
from models.prior import starting_terms
from models.ranker import RankerEnsemble, ScoringModel, UpliftRanker, base_score, sort_by_group
from models.sparkpick_ranker_pyfunc import BASED_FORMAT, as_feature_matrix, predict_frame, read_ranker
from models.training import fit_models
from models.uplift_calibration import fit_calibration
from sparkpick.config import Settings, with_overrides
from tests.models.conftest import FEATURES

# A prior that knows the hook (right) and views (carry nothing in the planted truth).
BASE = (
    {"feature": "video_hook", "weight": 1.0, "centre": 0.0, "scale": 1.0, "cap": 3.0},
    {"feature": "views", "weight": 0.5, "centre": 8000.0, "scale": 8000.0, "cap": 2.0},
)
PARAMS = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 20, "n_jobs": 1}


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    split = time_split(frame, 0.25)
    return sort_by_group(frame[split.train]), sort_by_group(frame[split.valid])


def _fit(frame: pd.DataFrame, base: tuple[dict[str, object], ...] | None, bags: int = 1) -> RankerEnsemble:
    train, valid = _split(frame)
    return RankerEnsemble(params=PARAMS, k=5, bags=bags, early_stopping_rounds=30, base_terms=base).fit(
        train[FEATURES], train["relevance"].to_numpy(), train["group_id"].to_numpy(),
        eval_set=(valid[FEATURES], valid["relevance"].to_numpy(), valid["group_id"].to_numpy()),
    )


def _prior(frame: pd.DataFrame) -> np.ndarray:
    return base_score(as_feature_matrix(frame, [str(t["feature"]) for t in BASE]), BASE)


def test_with_few_boosts_the_ranking_is_the_prior_s(boosts) -> None:
    # 2 weeks of 2 advertisers: too few boosts for a leaf of 20, so the trees add a constant at most
    few = boosts(n_weeks=3, advertisers=2, group_size=(5, 7), seed=3)
    ranker = _fit(few, BASE)
    posts = boosts(n_weeks=1, seed=9)
    assert np.array_equal(np.argsort(-ranker.predict(posts), kind="stable"),
                          np.argsort(-_prior(posts), kind="stable"))
    # from scratch, the same few boosts give every post the same score: it would rank nothing
    scratch = _fit(few, None).predict(posts)
    assert np.ptp(scratch) == 0


def test_with_many_boosts_it_learns_what_the_prior_missed(boosts) -> None:
    frame = boosts(n_weeks=24, seed=5)
    ranker = _fit(frame, BASE, bags=2)
    _, valid = _split(frame)
    truth, group = valid["expected_uplift"].to_numpy(), valid["group_id"].to_numpy()
    learnt = captured_at_k(truth, ranker.predict_held_out(valid), group, 5)
    prior = captured_at_k(truth, _prior(valid), group, 5)
    assert learnt > prior + 0.1  # polish and familiarity, which the prior lacks, were learnt on top of it


def test_the_base_is_only_the_terms_whose_feature_the_model_has(boosts) -> None:
    frame = boosts(n_weeks=6, seed=1)
    plain = [f for f in FEATURES if f != "video_hook"]
    train, _ = _split(frame)
    ranker = UpliftRanker(params=PARAMS, early_stopping_rounds=None, base_terms=BASE).fit(
        train[plain], train["relevance"].to_numpy(), train["group_id"].to_numpy())
    assert [t["feature"] for t in ranker.base_terms_] == ["views"]


def test_every_way_of_serving_gives_the_same_score(boosts, tmp_path: Path) -> None:
    frame = boosts(n_weeks=10, seed=2)
    ranker = _fit(frame, BASE, bags=2)
    _, valid = _split(frame)
    calibration = fit_calibration(ranker.predict_held_out(valid), valid["uplift"].to_numpy(), 3, 0.8)
    model = ScoringModel.from_ranker(ranker, calibration, "test-v1")
    assert [t["feature"] for t in model.base_terms] == ["video_hook", "views"]
    posts = boosts(n_weeks=1, seed=9)
    scores = model.scores(posts)
    assert np.allclose(scores, ranker.predict(posts))
    files = read_ranker(model.save(tmp_path / "model"))
    assert (tmp_path / "model" / "features.json").read_text().count(BASED_FORMAT) == 1
    served = predict_frame(posts, files["boosters"], files["features"], files["calibration"], files["terms"],
                           files["base_terms"])
    assert np.allclose(served["score"], scores)
    assert np.allclose(ScoringModel.load(tmp_path / "model").scores(posts), scores)
    assert np.allclose(ScoringModel.from_json(model.to_json()).scores(posts), scores)
    # the reasons add up to the score, the prior's terms included
    assert np.allclose(model.contributions(posts).sum(axis=1), scores)


def test_training_starts_from_the_prior_only_when_the_config_says_so(boosts, fast: Settings) -> None:
    assert starting_terms(with_overrides(fast, {"ranker": {"start_from_prior": False}}).ranker, fast.prior) == ()
    terms = starting_terms(with_overrides(fast, {"ranker": {"start_from_prior": True}}).ranker, fast.prior)
    assert terms
    assert all(t["weight"] != 0 for t in terms)  # a term of weight 0 adds nothing: left out
    fitted = fit_models(boosts(n_weeks=8, seed=4), FEATURES, fast.ranker, "test-v1", base_terms=BASE)
    assert [t["feature"] for t in fitted.scoring_model.base_terms] == ["video_hook", "views"]
    assert fitted.ablation is not None and [t["feature"] for t in fitted.ablation.base_terms_] == ["views"]
