"""The training run's figures, as matplotlib `Figure`s (the registry logs them as PNG)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and CI

import pandas as pd
from matplotlib.figure import Figure

_TOP_FEATURES = 20


def gain_curve_figure(curves: pd.DataFrame, shortlist_k: int) -> Figure:
    """Captured uplift against k, one line per ordering (random = 0, best possible = 1)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name in curves.columns:
        ax.plot(curves.index, curves[name], marker="o", markersize=3, label=name,
                linewidth=2.5 if name == curves.columns[0] else 1.2)
    ax.axhline(0, color="grey", linewidth=0.8, linestyle=":")
    ax.axhline(1, color="grey", linewidth=0.8, linestyle=":")
    ax.axvline(shortlist_k, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("k (posts picked per decision)")
    ax.set_ylabel("uplift captured@k (random 0, best 1)")
    ax.set_title("Captured uplift on the validation decisions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, title: str) -> Figure:
    """Horizontal bars of the largest importances (gain, or mean |SHAP|)."""
    top = importance.head(_TOP_FEATURES)[::-1]
    fig = Figure(figsize=(7, max(2.5, 0.3 * len(top) + 1)))
    ax = fig.subplots()
    ax.barh(list(top.index), list(top.to_numpy()))
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def shap_beeswarm_figure(contributions: pd.DataFrame, values: pd.DataFrame, order: list[str]) -> Figure:
    """SHAP summary: per feature, each row's contribution, coloured by the feature's value (low to high)."""
    features = order[:_TOP_FEATURES][::-1]
    fig = Figure(figsize=(7.5, max(2.5, 0.35 * len(features) + 1)))
    ax = fig.subplots()
    scatter = None
    for y, name in enumerate(features):
        col = pd.to_numeric(values[name], errors="coerce") if name in values else pd.Series(dtype=float)
        span = (col - col.min()) / (col.max() - col.min()) if col.notna().any() and col.max() > col.min() else col * 0
        scatter = ax.scatter(contributions[name], [y] * len(contributions), c=span.fillna(0.5),
                             cmap="coolwarm", s=6, alpha=0.7, vmin=0, vmax=1)
    ax.set_yticks(range(len(features)), features, fontsize=8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("contribution to the ranking score (TreeSHAP)")
    ax.set_title("SHAP summary on the validation rows")
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="feature value (low to high)")
    fig.tight_layout()
    return fig
