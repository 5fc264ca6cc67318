"""The baselines the ranker is compared with, and the no-video feature split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.baselines import (
    PointwiseRegressor,
    engagement_rate_scores,
    non_video_features,
    random_scores,
    video_features,
    views_scores,
)


def test_engagement_rate_from_column_or_counts() -> None:
    frame = pd.DataFrame({"views": [100, 0, 50], "likes": [10, 0, 1], "comments": [5, 0, 1], "shares": [5, 0, 3]})
    rate = engagement_rate_scores(frame)
    assert rate[0] == pytest.approx(0.2) and rate[2] == pytest.approx(0.1)
    assert rate[1] == -np.inf  # no views: no rate, ranked last
    assert list(engagement_rate_scores(frame.assign(engagement_rate=[0.1, None, 0.3]))) == [0.1, -np.inf, 0.3]
    with pytest.raises(ValueError, match="engagement"):
        engagement_rate_scores(pd.DataFrame({"x": [1]}))


def test_views_and_random() -> None:
    assert list(views_scores(pd.DataFrame({"views": [3, None, 1]}))) == [3, -np.inf, 1]
    frame = pd.DataFrame({"a": range(5)})
    assert np.array_equal(random_scores(frame, 1), random_scores(frame, 1))
    assert not np.array_equal(random_scores(frame, 1), random_scores(frame, 2))


def test_no_video_split() -> None:
    features = ["share_rate", "video_cut_rate", "video_face_share", "polish_score", "own_account"]
    assert non_video_features(features) == ["share_rate", "own_account"]
    assert video_features(features) == ["video_cut_rate", "video_face_share", "polish_score"]


def test_pointwise_regressor_learns_the_uplift(boosts) -> None:
    from tests.models.conftest import FEATURES

    frame = boosts(n_weeks=12, seed=4)
    train, valid = frame.iloc[: len(frame) * 3 // 4], frame.iloc[len(frame) * 3 // 4:]
    model = PointwiseRegressor(params={"n_estimators": 200, "num_leaves": 7, "n_jobs": 1}).fit(
        train[FEATURES], train["uplift"], eval_set=(valid[FEATURES], valid["uplift"])
    )
    corr = np.corrcoef(model.predict(valid), valid["expected_uplift"])[0, 1]
    assert corr > 0.8
