"""The training run's figures: what each one draws (headless, no file written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.plots import gain_curve_figure, importance_figure, shap_beeswarm_figure


def test_the_gain_curve_draws_one_line_per_ordering_and_marks_the_shortlist() -> None:
    curves = pd.DataFrame({"model": np.linspace(0.2, 0.9, 10), "random": np.zeros(10)}, index=range(1, 11))
    fig = gain_curve_figure(curves, shortlist_k=5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model", "random"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["model"].get_linewidth() > lines["random"].get_linewidth()  # the model stands out
    assert list(lines["model"].get_ydata()) == list(curves["model"])
    assert any(list(line.get_xdata()) == [5, 5] for line in ax.get_lines())  # the shortlist's k


def test_importance_shows_the_largest_twenty_largest_on_top() -> None:
    importance = pd.Series(np.arange(30, 0, -1, dtype=float), index=[f"f{i}" for i in range(30)])
    ax = importance_figure(importance, "Feature importance (gain)").axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ax.patches) == 20 and labels[-1] == "f0" and labels[0] == "f19" and "f20" not in labels
    assert ax.get_title() == "Feature importance (gain)"


def test_the_beeswarm_has_a_row_per_feature_in_order_and_a_colour_scale() -> None:
    rng = np.random.default_rng(0)
    contributions = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    values = pd.DataFrame({"a": rng.uniform(size=40), "b": np.ones(40)})  # b is constant: one colour
    fig = shap_beeswarm_figure(contributions, values, ["b", "a"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # the first in order is on top
    assert len(ax.collections) == 2 and len(fig.axes) == 2  # two scatters and the colour bar
    spread, constant = ax.collections[0].get_array(), ax.collections[1].get_array()
    assert spread.min() == 0 and spread.max() == 1  # a's values run from low to high
    assert len(set(constant.tolist())) == 1
