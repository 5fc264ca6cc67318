"""From a ranker's score to an expected uplift and an empirical band, fitted on validation rows."""

from __future__ import annotations

import numpy as np
import pytest

from models.uplift_calibration import ScoreCalibration, fit_calibration, percentiles


def test_percentiles_are_mid_points_and_ties_share_them() -> None:
    assert percentiles(np.array([10.0, 30.0, 20.0, 40.0])).tolist() == [0.125, 0.625, 0.375, 0.875]
    assert percentiles(np.array([1.0, 1.0])).tolist() == [0.5, 0.5]


def test_higher_scores_get_higher_uplift_and_the_band_holds_its_share() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=2000)
    uplift = 0.5 * scores + rng.normal(scale=0.3, size=2000)
    calibration = fit_calibration(scores, uplift, n_bins=5, coverage=0.8)
    out = calibration.predict(scores)
    order = np.argsort(scores)
    assert np.all(np.diff(out["predicted_uplift"].to_numpy()[order]) >= -1e-12)  # keeps the model's order
    inside = (uplift >= out["uplift_low"]) & (uplift <= out["uplift_high"])
    assert inside.mean() == pytest.approx(0.8, abs=0.03)
    assert len(calibration.low) == len(calibration.high) == 5 and calibration.coverage == 0.8


def test_rows_with_missing_values_are_left_out_and_constant_scores_give_the_mean() -> None:
    uplift = np.array([1.0, 2.0, 3.0, np.nan])
    flat = fit_calibration(np.array([0.5, 0.5, 0.5, 0.5]), uplift, n_bins=3, coverage=0.8)
    assert flat.knots_y == (2.0, 2.0) and len(flat.reference) == 3
    assert flat.predict(np.array([-9.0, 9.0]))["predicted_uplift"].tolist() == [2.0, 2.0]


def test_a_calibration_round_trips_through_its_plain_fields() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=200)
    calibration = fit_calibration(scores, scores + rng.normal(size=200), n_bins=4, coverage=0.8)
    again = ScoreCalibration.from_dict(calibration.to_dict())
    assert again == calibration
    assert again.predict(scores).equals(calibration.predict(scores))
