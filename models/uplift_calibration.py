"""From a ranker's score to an expected uplift with an empirical band: the calibration fitted on validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from models.sparkpick_ranker_pyfunc import calibrate, score_position


@dataclass(frozen=True)
class ScoreCalibration:
    """Maps ranker scores to a calibrated expected uplift and an empirical band around it.

    The lambdarank score only orders: its scale means nothing, and a refit ensemble's scale differs from
    that of its held-out members. So a score is first placed as a percentile among the served model's
    scores on the validation rows (`reference`), and an increasing isotonic map, fitted from the
    held-out members' percentiles on those rows to the uplift they realised, turns that percentile into
    `predicted_uplift` (an estimate of the label, log CPA ratio) while keeping the model's order. The
    band (`uplift_low`, `uplift_high`) holds the central `coverage` share of validation residuals within
    the percentile bin the row falls in: an honest, empirical interval for a single boost's outcome, not
    a confidence interval of the mean. An empty `reference` means the knots are on raw scores.
    """

    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    bin_edges: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    coverage: float
    reference: tuple[float, ...] = ()

    def position(self, scores: np.ndarray) -> np.ndarray:
        """Each score's percentile (0..1) among the reference scores (the score itself without one)."""
        return score_position(scores, self.reference)

    def predict(self, scores: np.ndarray) -> pd.DataFrame:
        return calibrate(scores, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "knots_x": list(self.knots_x), "knots_y": list(self.knots_y), "bin_edges": list(self.bin_edges),
            "low": list(self.low), "high": list(self.high), "coverage": self.coverage,
            "reference": list(self.reference),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreCalibration:
        return cls(
            knots_x=tuple(data["knots_x"]), knots_y=tuple(data["knots_y"]),
            bin_edges=tuple(data["bin_edges"]), low=tuple(data["low"]), high=tuple(data["high"]),
            coverage=float(data["coverage"]), reference=tuple(data.get("reference", ())),
        )


def percentiles(values: np.ndarray) -> np.ndarray:
    """Each value's mid-point percentile among `values` (ties share their average)."""
    values = np.asarray(values, dtype=float)
    return (pd.Series(values).rank(method="average").to_numpy() - 0.5) / max(len(values), 1)


def plateau_centres(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Knots of a centred isotonic fit: one per plateau of a step function, at the plateau's middle.

    Isotonic regression is a staircase, so every top pick of a night lands on the top step and shows the
    same predicted uplift; interpolating between plateau centres keeps the map increasing while posts
    with higher scores still get higher figures."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    steps = np.flatnonzero(np.r_[True, np.diff(y) != 0])
    ends = np.r_[steps[1:], len(y)]
    centres = [(x[a] + x[b - 1]) / 2 for a, b in zip(steps, ends, strict=True)]
    return tuple(float(c) for c in centres), tuple(float(v) for v in y[steps])


def fit_calibration(
    scores: np.ndarray,
    uplift: np.ndarray,
    n_bins: int,
    coverage: float,
    served_scores: np.ndarray | None = None,
) -> ScoreCalibration:
    """Isotonic percentile -> uplift map and per-percentile-bin residual quantiles, from validation rows.

    `scores` are the held-out model's on the validation rows, `served_scores` the served model's on the
    same rows (default: the same scores); rows where either or the uplift is missing are left out.
    """
    scores, uplift = np.asarray(scores, dtype=float), np.asarray(uplift, dtype=float)
    served = scores if served_scores is None else np.asarray(served_scores, dtype=float)
    ok = np.isfinite(scores) & np.isfinite(uplift) & np.isfinite(served)
    scores, uplift, served = scores[ok], uplift[ok], served[ok]
    reference = tuple(float(v) for v in np.sort(served))
    x = percentiles(scores)
    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    if len(x) < 2 or np.ptp(scores) == 0:
        centre = float(uplift.mean()) if len(uplift) else 0.0
        knots_x, knots_y = (0.0, 1.0), (centre, centre)
    else:
        iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(x, uplift)
        knots_x, knots_y = plateau_centres(iso.X_thresholds_, iso.y_thresholds_)
    residual = uplift - np.interp(x, knots_x, knots_y) if len(x) else np.zeros(0)
    n_bins = max(1, min(n_bins, len(x) // 10 or 1))
    edges = np.quantile(x, np.linspace(0, 1, n_bins + 1)) if len(x) else np.array([0.0, 1.0])
    bins = np.searchsorted(edges[1:-1], x, side="right")
    tail = (1 - coverage) / 2
    low, high = [], []
    for b in range(n_bins):
        r = residual[bins == b]
        r = r if len(r) else residual
        low.append(float(np.quantile(r, tail)) if len(r) else 0.0)
        high.append(float(np.quantile(r, 1 - tail)) if len(r) else 0.0)
    return ScoreCalibration(
        knots_x=knots_x, knots_y=knots_y, bin_edges=tuple(float(e) for e in edges),
        low=tuple(low), high=tuple(high), coverage=coverage, reference=reference,
    )
