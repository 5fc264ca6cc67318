"""Reasons in plain words: values as a marketer reads them, where a post stands, and the top reasons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.explain import BIAS, format_value, percent, reason_text, shap_summary, standing, top_reasons, typical

DESCRIPTIONS = {"shares": "Shares per view", "hook": "Motion in the first 3 seconds", "age": "Post age (hours)"}


@pytest.mark.parametrize(("value", "expected"), [
    (None, "unknown"), (math.nan, "unknown"), (True, "yes"), (np.bool_(False), "no"), (12345.0, "12,345"),
    (1234.6, "1,235"), (0.0423, "0.042"), (7.25, "7.2"), (42.4, "42"), ("n/a", "n/a"),
])
def test_numbers_read_as_a_person_reads_them(value: object, expected: str) -> None:
    assert format_value(value) == expected


def test_shares_z_scores_and_standing_in_words() -> None:
    assert [percent(f) for f in (0.43, 0.042, 0.0042)] == ["43%", "4.2%", "0.42%"]
    assert [typical(z) for z in (2.5, 1.5, 0.0, -1.5, -3.0)] == [
        "far above usual", "above usual", "about usual", "below usual", "far below usual"]
    assert standing(None) == "" and standing(math.nan) == ""
    assert standing(0.95) == "top 5% of candidates" and standing(0.05) == "bottom 5% of candidates"
    assert standing(0.5) == "higher than 50% of candidates"


def test_a_reason_says_the_value_where_it_stands_and_which_way_it_pushed() -> None:
    up = reason_text("shares", 0.042, 0.3, DESCRIPTIONS, percentile=0.97)
    assert up == "Shares per view: 4.2%, top 3% of candidates (helps)"
    down = reason_text("age", 100.0, -0.1, DESCRIPTIONS)
    assert down.startswith("Post age: ") and down.endswith("(holds it back)") and "4 days" in down


def test_top_reasons_put_what_helped_most_first_then_what_held_back() -> None:
    contributions = pd.DataFrame({"shares": [0.5, 0.0], "hook": [0.1, 0.0], "age": [-0.2, 0.0], BIAS: [1.0, 1.0]})
    values = pd.DataFrame({"shares": [0.04, 0.01], "hook": [1.0, 0.0], "age": [5.0, 6.0]})
    reasons = top_reasons(contributions, values, DESCRIPTIONS, n=4)
    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3", "reason_4"]
    first = reasons.iloc[0].tolist()
    assert first[0].startswith("Shares per view") and first[0].endswith("(helps)")
    assert first[1].startswith("Motion in the first 3 seconds") and first[1].endswith("(helps)")
    assert first[2].startswith("Post age") and first[2].endswith("(holds it back)")
    assert first[3] == ""
    assert reasons.iloc[1].tolist() == ["", "", "", ""]  # nothing moved the score: no reasons made up


def test_the_shap_summary_ranks_features_by_mean_absolute_contribution_without_the_bias() -> None:
    contributions = pd.DataFrame({"a": [0.1, -0.1], "b": [-2.0, 1.0], "c": [0.0, 0.0], BIAS: [9.0, 9.0]})
    summary = shap_summary(contributions)
    assert summary.index.tolist() == ["b", "a", "c"]
    assert summary.tolist() == pytest.approx([1.5, 0.1, 0.0])
