"""A live boost's delivery chart: cumulative spend and conversions as inline SVG points (no script, no
image file, nothing to fetch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Chart size in CSS pixels (an inline SVG: no script, no image file, nothing to fetch).
_CHART_W, _CHART_H, _CHART_PAD = 260, 90, 4


def _points(xs: np.ndarray, ys: np.ndarray, x_max: float, y_max: float) -> str:
    """SVG polyline points (numbers only) for ys over xs, scaled into the chart box."""
    w, h, pad = _CHART_W, _CHART_H, _CHART_PAD
    px = pad + (w - 2 * pad) * (xs / x_max if x_max > 0 else np.zeros_like(xs))
    py = h - pad - (h - 2 * pad) * (ys / y_max if y_max > 0 else np.zeros_like(ys))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px.tolist(), py.tolist(), strict=True))


def _chart(hours: np.ndarray, spend: np.ndarray, conversions: np.ndarray) -> dict[str, Any]:
    """The chart of one boost from its hours in order (offsets from its first hour) and their figures."""
    # Each value counts at the end of its hour.
    xs = np.concatenate([[0.0], hours - hours[0] + 1])
    spend_c = np.concatenate([[0.0], np.cumsum(spend)])
    conv_c = np.concatenate([[0.0], np.cumsum(conversions)])
    x_max = max(float(xs[-1]), 1.0)
    return {
        "width": _CHART_W, "height": _CHART_H, "hours": f"{xs[-1]:.0f}",
        "spend_points": _points(xs, spend_c, x_max, max(float(spend_c[-1]), 1e-9)),
        "conv_points": _points(xs, conv_c, x_max, max(float(conv_c[-1]), 1.0)),
        "spend_total": float(spend_c[-1]), "conv_total": f"{conv_c[-1]:.0f}",
    }


def _series(hourly: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hours since the epoch, spend, conversions, order) of hourly rows; missing figures read as 0."""
    hours = (pd.to_datetime(hourly["hour_start"]).astype("datetime64[s]").astype("int64") / 3600).to_numpy()
    spend = pd.to_numeric(hourly["spend"], errors="coerce").fillna(0).to_numpy("float64")
    conv = pd.to_numeric(hourly["conversions"], errors="coerce").fillna(0).to_numpy("float64")
    return hours, spend, conv, np.argsort(hours, kind="stable")


def delivery_chart(hourly: pd.DataFrame) -> dict[str, Any] | None:
    """One boost's cumulative spend and conversions over its hours, as SVG polyline points and the
    figures its legend shows; None without hourly rows."""
    if hourly is None or hourly.empty:
        return None
    hours, spend, conv, order = _series(hourly)
    return _chart(hours[order], spend[order], conv[order])


def charts_by_boost(hourly: pd.DataFrame | None) -> dict[tuple[str, pd.Timestamp], dict[str, Any]]:
    """Each boost's delivery chart by (post_id, boosted_at), from its hourly rows split in one pass: never
    filtered per boost, which costs boosts x rows (10,000 live boosts took a minute)."""
    if hourly is None or hourly.empty:
        return {}
    post = hourly["post_id"].astype("str").to_numpy()
    boosted = pd.to_datetime(hourly["boosted_at"]).astype("datetime64[us]").to_numpy()
    hours, spend, conv, _ = _series(hourly)
    order = np.lexsort((hours, boosted, post))
    post, boosted, hours, spend, conv = post[order], boosted[order], hours[order], spend[order], conv[order]
    new = np.ones(len(order), bool)
    new[1:] = (post[1:] != post[:-1]) | (boosted[1:] != boosted[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(order))
    return {(str(post[a]), pd.Timestamp(boosted[a])): _chart(hours[a:b], spend[a:b], conv[a:b])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}
