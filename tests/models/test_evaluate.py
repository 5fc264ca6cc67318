"""Ranking metrics on hand-made groups, and the time split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import captured_at_k, gain_curve, ndcg_at_k, precision_at_k, time_split


def test_captured_is_one_for_the_best_order_and_zero_in_expectation_for_random() -> None:
    uplift = np.array([3.0, 1.0, 0.0, -1.0, 2.0, 0.5, 0.1, 0.0])
    group = np.array(["a"] * 4 + ["b"] * 4)
    assert captured_at_k(uplift, uplift, group, 2) == pytest.approx(1.0)
    assert captured_at_k(uplift, -uplift, group, 2) < 0
    rng = np.random.default_rng(0)
    draws = [captured_at_k(uplift, rng.random(len(uplift)), group, 2) for _ in range(2000)]
    assert abs(np.mean(draws)) < 0.05


def test_captured_hand_computed() -> None:
    # Group a: uplift (4, 0, 2, 2): mean 2, best top-1 = 4, scores pick the row with 2 -> (2-2)/(4-2)=0.
    # Group b: uplift (1, 3): mean 2, best 3, scores pick 3 -> gain 1 of 1. Ratio of sums: 1 / 3.
    uplift = np.array([4.0, 0.0, 2.0, 2.0, 1.0, 3.0])
    scores = np.array([0.0, 0.1, 0.9, 0.2, 0.0, 1.0])
    group = np.array(["a"] * 4 + ["b"] * 2)
    assert captured_at_k(uplift, scores, group, 1) == pytest.approx(1 / 3)


def test_ndcg_and_precision_hand_computed() -> None:
    grades = np.array([0, 1, 3, 0])
    scores = np.array([0.4, 0.3, 0.2, 0.1])
    group = np.zeros(4)
    ideal = (2**3 - 1) / np.log2(2) + (2**1 - 1) / np.log2(3)
    got = (2**1 - 1) / np.log2(3)
    assert ndcg_at_k(grades, scores, group, 2) == pytest.approx(got / ideal)
    # Top quartile of (0, 1, 3, 0) is the 3 alone: the two picks (0, 1) hold none of it.
    assert precision_at_k(grades.astype(float), scores, group, 2) == 0.0
    assert precision_at_k(grades.astype(float), grades.astype(float), group, 2) == 0.5


def test_metrics_do_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(3)
    uplift, scores = rng.normal(size=40), rng.normal(size=40)
    group = np.repeat(np.arange(5), 8)
    perm = rng.permutation(40)
    assert captured_at_k(uplift, scores, group, 3) == pytest.approx(
        captured_at_k(uplift[perm], scores[perm], group[perm], 3)
    )
    curve = gain_curve(uplift, uplift, group, 4)
    assert list(curve.index) == [1, 2, 3, 4] and np.allclose(curve, 1.0)


def test_time_split_never_puts_a_later_decision_in_training(boosts) -> None:
    frame = boosts(n_weeks=12, seed=1).sample(frac=1.0, random_state=0)  # shuffled on purpose
    split = time_split(frame, 0.25)
    train_times = frame.loc[split.train, "decision_time"]
    valid_times = frame.loc[split.valid, "decision_time"]
    assert train_times.max() < valid_times.min() == split.cutoff
    assert not (split.train & split.valid).any()
    # Purged: no training result was still running at the cut.
    assert (frame.loc[split.train, "ended_at"] <= split.cutoff).all()
    assert split.purged > 0
    assert valid_times.nunique() == 3  # a quarter of 12 weekly decisions


def test_time_split_needs_two_decision_times(boosts) -> None:
    frame = boosts(n_weeks=1)
    with pytest.raises(ValueError, match="two distinct decision times"):
        time_split(frame, 0.25)
    assert isinstance(frame["decision_time"].iloc[0], pd.Timestamp)
