"""The prior: the brief's rules as a servable model, with no Spark Ad result behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.prior import KIND_TAG, PRIOR_KIND, prior_calibration, prior_model
from sparkpick.config import Settings


def _posts(settings: Settings, n: int = 5) -> pd.DataFrame:
    """n posts sitting at every term's centre (so each scores 0)."""
    return pd.DataFrame({name: [t.centre] * n for name, t in settings.prior.terms.items()})


def test_the_prior_serves_like_a_ranker_and_says_it_is_the_prior(settings: Settings) -> None:
    model = prior_model(settings.prior, "test-v1")
    assert model.is_prior and model.metadata[KIND_TAG] == PRIOR_KIND and model.feature_version == "test-v1"
    assert model.feature_names == tuple(settings.prior.terms)  # config order, weight-0 terms kept
    out = model.predict(_posts(settings))
    assert list(out.columns) == ["score", "predicted_uplift", "uplift_low", "uplift_high"]
    assert (out["score"] == 0).all()


def test_it_promises_no_uplift_only_its_band(settings: Settings) -> None:
    model = prior_model(settings.prior, "test-v1")
    frame = _posts(settings).assign(interaction_rate_vs_creator_z=[-3.0, -1.0, 0.0, 1.0, 3.0])
    out = model.predict(frame)
    band = settings.prior.band
    assert (out["predicted_uplift"] == 0).all()
    assert np.allclose(out["uplift_low"], -band) and np.allclose(out["uplift_high"], band)
    calibration = prior_calibration(0.7)
    assert calibration.low == (-0.7,) and calibration.high == (0.7,)


def test_scores_follow_the_brief_engagement_up_polish_down_capped(settings: Settings) -> None:
    model = prior_model(settings.prior, "test-v1")
    engaged = model.scores(_posts(settings).assign(interaction_rate_vs_creator_z=[-1.0, 0.0, 1.0, 3.0, 30.0]))
    assert np.all(np.diff(engaged) >= 0) and engaged[2] > engaged[1] > engaged[0]
    term = settings.prior.terms["interaction_rate_vs_creator_z"]
    assert engaged[-1] == pytest.approx(engaged[-2]) == pytest.approx(term.weight * term.cap)  # capped
    polished = model.scores(_posts(settings).assign(video_polish_score=[0.0, 25.0, 50.0, 75.0, 100.0]))
    assert np.all(np.diff(polished) < 0)  # the native look wins


def test_an_unknown_value_adds_nothing(settings: Settings) -> None:
    model = prior_model(settings.prior, "test-v1")
    frame = _posts(settings, n=2).assign(video_polish_score=[np.nan, 50.0])
    scores = model.scores(frame)
    assert scores[0] == scores[1] == 0
