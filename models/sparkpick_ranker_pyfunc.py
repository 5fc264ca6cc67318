"""sparkpick's registered ranker as a self-contained MLflow model: the serving arithmetic and its files.

This file is logged with the model as its code (MLflow "models from code"), so loading the registered
model needs only the requirements it declares (lightgbm, numpy, pandas, mlflow; scikit-learn for the
record): not sparkpick, nor any package called `models` or `features`. Keep its imports to those.

sparkpick's own scoring (`models.ranker.ScoringModel`) calls the same functions, so a notebook, `mlflow
models serve` and `sparkpick score` give the same numbers. The model's artifact is a folder of plain
files a person can open (`write_ranker`):

    features.json      feature names in model order, feature version, training metadata, format
    calibration.json   score -> percentile -> predicted uplift knots, and the per-bin residual band
    booster_0.txt ...  the ensemble's LightGBM boosters, text format, at their chosen tree counts

The prior (the brief's rules, before any Spark Ad result: `models/prior.py`) is the same kind of model
with format `sparkpick-prior/1`: no boosters; `features.json` lists its `terms`, and its score is their
sum, each weight x clip((value - centre) / scale, -cap, cap), an unknown value adding nothing.

A ranker trained on top of the prior (`ranker.start_from_prior`) has format `sparkpick-ranker/3`:
`features.json` also lists the prior's terms as its `base_terms`, and its score is their sum plus the
boosters' mean (the boosters learnt corrections to the prior, which was their starting score).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

FORMAT = "sparkpick-ranker/2"
BASED_FORMAT = "sparkpick-ranker/3"
PRIOR_FORMAT = "sparkpick-prior/1"
FEATURES_FILE = "features.json"
CALIBRATION_FILE = "calibration.json"
BOOSTER_FILE = "booster_{}.txt"
# The pyfunc's `artifacts` key for the folder above.
ARTIFACT_KEY = "ranker"
OUTPUT_COLUMNS = ("score", "predicted_uplift", "uplift_low", "uplift_high")


def as_feature_matrix(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The feature columns in model order as float64 (booleans 0/1, missing stays NaN)."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"Feature columns missing from the frame: {', '.join(missing)}.")
    out = {}
    for name in features:
        col = frame[name]
        if col.dtype == bool or str(col.dtype) == "boolean":
            col = col.astype("Float64")
        out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return pd.DataFrame(out, index=frame.index)


def mean_score(boosters: Sequence[lgb.Booster], matrix: pd.DataFrame) -> np.ndarray:
    """The ensemble's score: its boosters' mean (each at the tree count it was saved with)."""
    return np.mean([b.predict(matrix) for b in boosters], axis=0)


def term_contributions(matrix: pd.DataFrame, terms: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(rows, terms): each term's share of the prior's score, weight x clip((value - centre) / scale,
    -cap, cap), 0 where the value is unknown. `matrix` has the terms' features in the terms' order."""
    out = np.zeros((len(matrix), len(terms)))
    for j, term in enumerate(terms):
        x = matrix.iloc[:, j].to_numpy(dtype="float64")
        z = np.clip((x - float(term["centre"])) / float(term["scale"]), -float(term["cap"]), float(term["cap"]))
        out[:, j] = np.where(np.isfinite(z), float(term["weight"]) * z, 0.0)
    return out


def base_contributions(frame: pd.DataFrame, base_terms: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(rows, base terms): each base term's share of the starting score, read from `frame`'s columns by
    the terms' `feature` names."""
    if not base_terms:
        return np.zeros((len(frame), 0))
    return term_contributions(as_feature_matrix(frame, [str(t["feature"]) for t in base_terms]), base_terms)


def model_scores(
    boosters: Sequence[lgb.Booster], matrix: pd.DataFrame, terms: Sequence[Mapping[str, Any]] = (),
    base_terms: Sequence[Mapping[str, Any]] = (),
) -> np.ndarray:
    """The score: the prior's terms summed when it has terms, else the ensemble's mean plus the base
    terms' sum (the starting score the boosters corrected; none for a ranker trained from scratch)."""
    if terms:
        return term_contributions(matrix, terms).sum(axis=1)
    score = mean_score(boosters, matrix)
    return score + base_contributions(matrix, base_terms).sum(axis=1) if base_terms else score


def percentile_grid(n: int) -> np.ndarray:
    """Mid-point percentiles of n sorted values: (i + 0.5) / n."""
    return (np.arange(n) + 0.5) / max(n, 1)


def score_position(scores: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Each score's percentile (0..1) among the `reference` scores (the score itself without any)."""
    scores = np.asarray(scores, dtype=float)
    if not len(reference):
        return scores
    ref = np.asarray(reference, dtype=float)
    # Tied reference scores share their mean percentile (np.interp needs increasing points).
    values, inverse = np.unique(ref, return_inverse=True)
    pct = np.bincount(inverse, weights=percentile_grid(len(ref))) / np.bincount(inverse)
    return np.interp(scores, values, pct)


def calibrate(scores: np.ndarray, calibration: Mapping[str, Any]) -> pd.DataFrame:
    """`predicted_uplift` (log CPA ratio) and its band for each score, from a calibration's fields
    (`knots_x`, `knots_y`, `bin_edges`, `low`, `high`, optional `reference`)."""
    x = score_position(scores, calibration.get("reference", ()))
    mean = np.interp(x, calibration["knots_x"], calibration["knots_y"])
    inner_edges = np.asarray(calibration["bin_edges"][1:-1], dtype=float)
    bins = np.searchsorted(inner_edges, x, side="right")
    return pd.DataFrame({
        "predicted_uplift": mean,
        "uplift_low": mean + np.asarray(calibration["low"], dtype=float)[bins],
        "uplift_high": mean + np.asarray(calibration["high"], dtype=float)[bins],
    })


def predict_frame(
    frame: pd.DataFrame, boosters: Sequence[lgb.Booster], features: Sequence[str],
    calibration: Mapping[str, Any], terms: Sequence[Mapping[str, Any]] = (),
    base_terms: Sequence[Mapping[str, Any]] = (),
) -> pd.DataFrame:
    """`score` (orders candidates), `predicted_uplift`, `uplift_low`, `uplift_high`, row-aligned."""
    scores = model_scores(boosters, as_feature_matrix(frame, features), terms, base_terms)
    out = calibrate(scores, calibration)
    out.insert(0, "score", scores)
    out.index = frame.index
    return out


def write_ranker(
    folder: Path, boosters: Sequence[lgb.Booster], features: Sequence[str], calibration: Mapping[str, Any],
    feature_version: str, metadata: Mapping[str, Any], terms: Sequence[Mapping[str, Any]] = (),
    base_terms: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write the model's files into `folder` (created); returns it. With `terms`: the prior's format;
    with `base_terms`: a ranker that starts from them."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, booster in enumerate(boosters):
        (folder / BOOSTER_FILE.format(i)).write_text(booster.model_to_string())
    (folder / CALIBRATION_FILE).write_text(json.dumps(dict(calibration), indent=1))
    described: dict[str, Any] = {
        "format": PRIOR_FORMAT if terms else BASED_FORMAT if base_terms else FORMAT, "features": list(features),
        "feature_version": feature_version, "metadata": dict(metadata), "boosters": len(boosters),
    }
    if terms:
        described["terms"] = [dict(t) for t in terms]
    if base_terms:
        described["base_terms"] = [dict(t) for t in base_terms]
    (folder / FEATURES_FILE).write_text(json.dumps(described, indent=1))
    return folder


def _whole_booster_file(path: Path) -> Path:
    """`path`, once it is known to be a whole LightGBM model file: LightGBM can crash the process on a
    truncated one, so a half-written file is refused here, by name."""
    try:
        text = path.read_text()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from exc
    lines = text.rstrip().splitlines()
    if "end of trees" not in text or "end of parameters" not in text or not lines \
            or not lines[-1].startswith("pandas_categorical:"):
        raise ValueError(f"{path} is not a whole LightGBM model file (truncated or half-written)")
    return path


def read_ranker(folder: Path) -> dict[str, Any]:
    """The files `write_ranker` wrote, as `boosters`, `features`, `calibration`, `feature_version`,
    `metadata`; an error naming the folder when they are not a sparkpick ranker."""
    folder = Path(folder)
    try:
        described = json.loads((folder / FEATURES_FILE).read_text())
        calibration = json.loads((folder / CALIBRATION_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder} does not hold a sparkpick ranker: {exc}") from exc
    if described.get("format") not in (FORMAT, BASED_FORMAT, PRIOR_FORMAT):
        raise ValueError(f"{folder / FEATURES_FILE} has format {described.get('format')!r}, not {FORMAT!r}.")
    boosters = tuple(
        lgb.Booster(model_file=str(_whole_booster_file(folder / BOOSTER_FILE.format(i))))
        for i in range(int(described["boosters"]))
    )
    return {
        "boosters": boosters, "features": tuple(described["features"]), "calibration": calibration,
        "feature_version": described["feature_version"], "metadata": dict(described.get("metadata", {})),
        "terms": tuple(dict(t) for t in described.get("terms", ())),
        "base_terms": tuple(dict(t) for t in described.get("base_terms", ())),
    }


if not __package__:
    # Run as the model's code by MLflow (not imported from sparkpick): define the pyfunc and hand it over.
    import mlflow
    from mlflow.pyfunc.model import PythonModel

    class SparkpickRanker(PythonModel):
        """predict(frame with the model's feature columns) -> score, predicted_uplift, uplift_low/high."""

        def load_context(self, context: Any) -> None:
            self.folder = Path(context.artifacts[ARTIFACT_KEY])
            self.ranker = read_ranker(self.folder)

        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> pd.DataFrame:
            ranker = self.ranker
            return predict_frame(
                model_input, ranker["boosters"], ranker["features"], ranker["calibration"], ranker["terms"],
                ranker["base_terms"],
            ).reset_index(drop=True)

    mlflow.models.set_model(SparkpickRanker())
