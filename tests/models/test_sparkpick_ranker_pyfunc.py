"""The registered model's own code: feature matrix, prior terms, score position, calibration and its files."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.sparkpick_ranker_pyfunc import (
    BOOSTER_FILE,
    as_feature_matrix,
    calibrate,
    predict_frame,
    read_ranker,
    score_position,
    term_contributions,
    write_ranker,
)

CALIBRATION = {"knots_x": [0.0, 1.0], "knots_y": [-1.0, 1.0], "bin_edges": [0.0, 0.5, 1.0],
               "low": [-0.5, -0.1], "high": [0.5, 0.1]}
TERMS = [{"feature": "a", "centre": 0.0, "scale": 1.0, "cap": 2.0, "weight": 1.0},
         {"feature": "b", "centre": 10.0, "scale": 5.0, "cap": 1.0, "weight": -2.0}]


def _booster(seed: int = 0) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = 2 * x["a"] + rng.normal(scale=0.1, size=60)
    return lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 4, "min_data_in_leaf": 5,
                      "deterministic": True, "seed": seed}, lgb.Dataset(x, y), num_boost_round=5)


def test_the_feature_matrix_is_float64_in_model_order_with_booleans_as_numbers() -> None:
    frame = pd.DataFrame({"b": [True, False], "a": [1, None], "other": ["x", "y"]})
    matrix = as_feature_matrix(frame, ["a", "b"])
    assert list(matrix.columns) == ["a", "b"] and (matrix.dtypes == "float64").all()
    assert matrix["b"].tolist() == [1.0, 0.0] and np.isnan(matrix["a"].iloc[1])
    with pytest.raises(ValueError, match="missing from the frame: c"):
        as_feature_matrix(frame, ["a", "c"])


def test_prior_terms_are_clipped_weighted_and_zero_where_unknown() -> None:
    matrix = pd.DataFrame({"a": [1.0, 5.0, np.nan], "b": [10.0, 30.0, 15.0]})
    out = term_contributions(matrix, TERMS)
    assert out.shape == (3, 2)
    assert out[0].tolist() == [1.0, 0.0]          # at the centre: nothing
    assert out[1].tolist() == [2.0, -2.0]         # capped at 2 and at 1 (x weight -2)
    assert out[2, 0] == 0.0 and out[2, 1] == pytest.approx(-2.0)


def test_a_score_is_placed_among_the_reference_and_ties_share_a_percentile() -> None:
    assert score_position(np.array([3.0]), ()).tolist() == [3.0]  # no reference: the score itself
    ref = [0.0, 1.0, 1.0, 2.0]
    pos = score_position(np.array([-5.0, 0.0, 1.0, 2.0, 9.0]), ref)
    assert pos[0] == pos[1] == pytest.approx(0.125) and pos[-1] == pos[-2] == pytest.approx(0.875)
    assert pos[2] == pytest.approx(0.5)  # the two tied 1.0s share (0.375 + 0.625) / 2
    assert np.all(np.diff(pos) >= 0)


def test_calibration_maps_position_to_uplift_with_the_band_of_its_bin() -> None:
    out = calibrate(np.array([0.0, 0.25, 0.75, 1.0]), CALIBRATION)
    assert out["predicted_uplift"].tolist() == pytest.approx([-1.0, -0.5, 0.5, 1.0])
    assert (out["uplift_high"] - out["uplift_low"]).tolist() == pytest.approx([1.0, 1.0, 0.2, 0.2])


def test_the_prior_format_round_trips_and_predicts_from_its_terms(tmp_path: Path) -> None:
    folder = write_ranker(tmp_path / "prior", (), ["a", "b"], CALIBRATION, "v1", {"kind": "prior"}, TERMS)
    read = read_ranker(folder)
    assert read["features"] == ("a", "b") and read["feature_version"] == "v1" and read["boosters"] == ()
    assert read["terms"] == tuple(TERMS) and read["metadata"] == {"kind": "prior"}
    frame = pd.DataFrame({"a": [1.0, -1.0], "b": [10.0, 10.0]}, index=[7, 3])
    out = predict_frame(frame, read["boosters"], read["features"], read["calibration"], read["terms"])
    assert list(out.columns) == ["score", "predicted_uplift", "uplift_low", "uplift_high"]
    assert out.index.tolist() == [7, 3] and out["score"].tolist() == [1.0, -1.0]


def test_boosters_round_trip_and_score_the_same(tmp_path: Path) -> None:
    boosters = (_booster(0), _booster(1))
    folder = write_ranker(tmp_path / "ranker", boosters, ["a", "b"], CALIBRATION, "v1", {})
    read = read_ranker(folder)
    frame = pd.DataFrame({"a": np.linspace(-2, 2, 9), "b": np.zeros(9)})
    before = predict_frame(frame, boosters, ["a", "b"], CALIBRATION)
    after = predict_frame(frame, read["boosters"], read["features"], read["calibration"])
    pd.testing.assert_frame_equal(before, after)
    assert before["score"].is_monotonic_increasing  # the boosters learned y ~ 2a


def test_damaged_or_foreign_files_are_refused_by_name(tmp_path: Path) -> None:
    folder = write_ranker(tmp_path / "ranker", (_booster(),), ["a", "b"], CALIBRATION, "v1", {})
    booster = folder / BOOSTER_FILE.format(0)
    booster.write_text(booster.read_text()[: len(booster.read_text()) // 2])  # half-written
    with pytest.raises(ValueError, match="not a whole LightGBM model file"):
        read_ranker(folder)
    with pytest.raises(ValueError, match="does not hold a sparkpick ranker"):
        read_ranker(tmp_path / "nothing-here")
    (folder / "features.json").write_text('{"format": "someone-else/1"}')
    with pytest.raises(ValueError, match="someone-else/1"):
        read_ranker(folder)
