"""The orderings the ranker must beat, each a scorer `frame -> scores` (higher is better).

- organic engagement rate: the brief's own rule of thumb ("boost what already engages");
- views: the naive "boost what is big";
- random: the floor every metric is normalised against;
- a pointwise LightGBM regressor fitted straight on the uplift (does ranking buy anything?);
- the no-video ablation is not here: it is the same `UpliftRanker` on `non_video_features(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from features.video import VIDEO_PREFIX
from models.ranker import DETERMINISTIC_PARAMS
from models.sparkpick_ranker_pyfunc import as_feature_matrix

ENGAGEMENT_RATE = "engagement_rate"
VIEWS = "views"
_ENGAGEMENTS = ("likes", "comments", "shares")
# Feature-name markers of what comes from the video (the ablation drops these).
POLISH_MARKER = "polish"


def non_video_features(features: list[str]) -> list[str]:
    """The features that do not come from the video (no `video_*` columns and no polish cues)."""
    return [f for f in features if not f.startswith(VIDEO_PREFIX) and POLISH_MARKER not in f]


def video_features(features: list[str]) -> list[str]:
    """The features that come from the video."""
    kept = set(non_video_features(features))
    return [f for f in features if f not in kept]


def engagement_rate_scores(frame: pd.DataFrame) -> np.ndarray:
    """Organic engagement rate, (likes + comments + shares) / views, as of the decision.

    Uses the `engagement_rate` column when the frame has it, else computes it from the counts.
    Missing values rank last.
    """
    if ENGAGEMENT_RATE in frame:
        rate = pd.to_numeric(frame[ENGAGEMENT_RATE], errors="coerce").to_numpy(dtype=float)
    elif all(c in frame for c in (VIEWS, *_ENGAGEMENTS)):
        views = pd.to_numeric(frame[VIEWS], errors="coerce").to_numpy(dtype=float)
        eng = sum(pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in _ENGAGEMENTS)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(views > 0, eng / views, np.nan)
    else:
        raise ValueError(
            f"The engagement-rate baseline needs an `{ENGAGEMENT_RATE}` column or `{VIEWS}` and "
            f"{', '.join(_ENGAGEMENTS)}; the frame has none of them."
        )
    return np.nan_to_num(rate, nan=-np.inf)


def views_scores(frame: pd.DataFrame) -> np.ndarray:
    """Organic views as of the decision (missing ranks last)."""
    if VIEWS not in frame:
        raise ValueError(f"The views baseline needs a `{VIEWS}` column.")
    return np.nan_to_num(pd.to_numeric(frame[VIEWS], errors="coerce").to_numpy(dtype=float), nan=-np.inf)


def random_scores(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """Uniform random scores, seeded (the floor of every metric)."""
    return np.random.default_rng(seed).random(len(frame))


class PointwiseRegressor(BaseEstimator):  # type: ignore[misc]  # scikit-learn is untyped
    """LightGBM regression straight on the uplift: the pointwise alternative to lambdarank.

    Shares the ranker's tree settings; early stopping on validation L2 when an eval set is given.
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        early_stopping_rounds: int | None = 40,
        random_state: int = 42,
    ) -> None:
        self.params = params
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None = None,
    ) -> PointwiseRegressor:
        features = list(X.columns)
        kwargs: dict[str, Any] = {}
        callbacks: list[Callable[..., Any]] = []
        if eval_set is not None:
            kwargs["eval_X"] = (as_feature_matrix(eval_set[0], features),)
            kwargs["eval_y"] = (np.asarray(eval_set[1], dtype=float),)
            if self.early_stopping_rounds:
                callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        self.model_ = lgb.LGBMRegressor(
            objective="regression", random_state=self.random_state, **DETERMINISTIC_PARAMS, **(self.params or {})
        )
        self.model_.fit(
            as_feature_matrix(X, features), np.asarray(y, dtype=float), sample_weight=sample_weight,
            callbacks=callbacks, **kwargs,
        )
        self.feature_names_ = features
        self.best_iteration_ = int(self.model_.best_iteration_ or self.model_.n_estimators)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.booster_.predict(
            as_feature_matrix(X, self.feature_names_), num_iteration=self.best_iteration_
        ))
