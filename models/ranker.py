"""The uplift ranker: LightGBM lambdarank behind a scikit-learn style estimator, and the scoring model
that serves it (booster + score-to-uplift calibration + feature list), which is what gets registered.

LightGBM groups rows purely by position: the rows of a decision group must be contiguous and the group
sizes must add up to the row count, otherwise it trains without error and wrongly. `group_sizes` checks
both, so a shuffled frame is an error here instead of a silently bad model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.sparkpick_ranker_pyfunc import (
    as_feature_matrix,
    base_contributions,
    model_scores,
    read_ranker,
    term_contributions,
    write_ranker,
)
from models.uplift_calibration import ScoreCalibration

# LightGBM's default label_gain has 31 entries (2^i - 1 for i < 31): grades must stay below it.
MAX_GRADE = 30
# Settings that make a fit repeatable: same data, same config, same model.
DETERMINISTIC_PARAMS: dict[str, Any] = {"deterministic": True, "force_col_wise": True, "verbose": -1}


def group_sizes(group: pd.Series | np.ndarray) -> np.ndarray:
    """Sizes of the consecutive runs of `group`, after checking each group is one contiguous run."""
    ids = pd.Series(np.asarray(group))
    if ids.isna().any():
        raise ValueError("Group ids must not be missing.")
    starts = ids.ne(ids.shift()).to_numpy()
    run_ids = ids[starts]
    if run_ids.duplicated().any():
        split = run_ids[run_ids.duplicated()].iloc[0]
        raise ValueError(
            f"Rows of group {split!r} are not contiguous: sort the frame by group first "
            "(LightGBM groups rows by position)."
        )
    sizes = np.diff(np.append(np.flatnonzero(starts), len(ids)))
    if int(sizes.sum()) != len(ids):  # pragma: no cover - guaranteed by construction, kept as a guard
        raise ValueError(f"Group sizes sum to {sizes.sum()}, not to the {len(ids)} rows.")
    return sizes


def sort_by_group(frame: pd.DataFrame, group_col: str = "group_id") -> pd.DataFrame:
    """The frame with each group's rows contiguous, groups in order of first appearance, rows kept stable."""
    codes, _ = pd.factorize(frame[group_col], sort=False)
    return frame.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


def propensity_weights(propensity: pd.Series | np.ndarray, clip: float) -> np.ndarray:
    """Clipped inverse-propensity weights, normalised to mean 1.

    The old boosting policy picked posts with high organic engagement far more often, so past boosts
    over-represent them and the model would learn uplift mostly where that policy looked. Weighting each
    boost by 1 / P(boosted) makes the training rows stand in for all candidates the policy could have
    boosted. Weights are clipped at `clip` because a near-zero propensity would otherwise let one row
    dominate (the usual bias-variance trade of IPW). Missing propensities get weight 1.
    """
    p = pd.to_numeric(pd.Series(np.asarray(propensity)), errors="coerce").to_numpy(dtype=float)
    w = np.where(np.isfinite(p) & (p > 0), 1.0 / np.where(p > 0, p, 1.0), 1.0)
    w = np.minimum(w, clip)
    return w / w.mean()


def check_grades(y: np.ndarray) -> np.ndarray:
    """Relevance grades as int32, refusing non-integers, negatives and grades beyond LightGBM's gains."""
    y = np.asarray(y)
    if y.size and (np.isnan(y.astype(float)).any() or not np.all(np.equal(np.mod(y, 1), 0))):
        raise ValueError("Relevance grades must be whole numbers.")
    if y.size and (y.min() < 0 or y.max() > MAX_GRADE):
        raise ValueError(f"Relevance grades must lie in 0..{MAX_GRADE}, got {y.min()}..{y.max()}.")
    return y.astype(np.int32)


def gain_params(kind: str) -> dict[str, Any]:
    """LightGBM's `label_gain` for a grade: "exponential" is its default (2^grade - 1), "linear" the grade.

    With few, noisy labels the exponential gain lets the top grade outweigh all others (15 against 7 for
    the next one of five), so whichever boosts happened to land in the top fifth steer the model; a
    linear gain (4 against 3) leans on the whole order instead."""
    if kind == "exponential":
        return {}
    if kind == "linear":
        return {"label_gain": list(range(MAX_GRADE + 1))}
    raise ValueError(f"label gain must be 'exponential' or 'linear', got {kind!r}")


Terms = tuple[dict[str, Any], ...]


def usable_base(base_terms: Terms | None, features: list[str]) -> Terms:
    """The base terms whose feature the model has (a model without video starts from the prior's
    non-video terms)."""
    return tuple(dict(t) for t in (base_terms or ()) if t["feature"] in features)


def base_score(X: pd.DataFrame, base_terms: Terms) -> np.ndarray:
    """The starting score of each row: the base terms summed (0 without terms)."""
    return base_contributions(X, base_terms).sum(axis=1)


def monotone_params(features: list[str], monotone: dict[str, int] | None) -> dict[str, Any]:
    """LightGBM's `monotone_constraints` in feature order from {feature: +1 or -1}; features the frame
    lacks are ignored (a model without video has no polish score to constrain)."""
    if not monotone:
        return {}
    bad = {name: sign for name, sign in monotone.items() if sign not in (-1, 0, 1)}
    if bad:
        raise ValueError(f"Monotone constraints must be -1, 0 or 1, got {bad}.")
    signs = [int(monotone.get(name, 0)) for name in features]
    return {"monotone_constraints": signs} if any(signs) else {}


class UpliftRanker(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type information here
    """LightGBM lambdarank on graded uplift, with early stopping on NDCG@k of a validation set.

    Parameters are stored as given (scikit-learn convention); everything learnt ends in `_`.
    `params` are LGBMRanker keyword arguments (from `ranker.params` in the config).

    With `base_terms` (the prior's terms, `models/prior.py`), every row starts from the prior's score
    (LightGBM's `init_score`, on the validation rows too) and the trees learn corrections to it; `predict`
    adds the prior's score back. With few boosts the trees find little to correct and the ranking stays
    the prior's; as results come in, they overrule it where the results disagree.
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        k: int = 5,
        early_stopping_rounds: int | None = 40,
        random_state: int = 42,
        monotone: dict[str, int] | None = None,
        base_terms: Terms | None = None,
    ) -> None:
        self.params = params
        self.k = k
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.monotone = monotone
        self.base_terms = base_terms

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        group: np.ndarray,
        sample_weight: np.ndarray | None = None,
        eval_set: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
    ) -> UpliftRanker:
        """Fit on rows whose group ids (`group`, one per row) are contiguous; `eval_set` = (X, y, group)."""
        features = list(X.columns)
        X_train = as_feature_matrix(X, features)
        sizes = group_sizes(group)
        y = check_grades(y)
        self.base_terms_ = usable_base(self.base_terms, features)
        kwargs: dict[str, Any] = {}
        if self.base_terms_:
            kwargs["init_score"] = base_score(X_train, self.base_terms_)
        callbacks: list[Callable[..., Any]] = []
        if eval_set is not None:
            X_val, y_val, g_val = eval_set
            kwargs.update(
                eval_X=(as_feature_matrix(X_val, features),),
                eval_y=(check_grades(y_val),),
                eval_group=[group_sizes(g_val)],
                eval_at=[self.k],
            )
            if self.base_terms_:
                kwargs["eval_init_score"] = [base_score(kwargs["eval_X"][0], self.base_terms_)]
            if self.early_stopping_rounds:
                callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        self.model_ = lgb.LGBMRanker(
            objective="lambdarank", random_state=self.random_state, **DETERMINISTIC_PARAMS, **(self.params or {}),
            **monotone_params(features, self.monotone),
        )
        self.model_.fit(
            X_train, y, group=sizes, sample_weight=sample_weight, callbacks=callbacks, **kwargs
        )
        self.feature_names_ = features
        self.best_iteration_ = int(self.model_.best_iteration_ or self.model_.n_estimators)
        self.evals_result_ = dict(self.model_.evals_result_)
        self.best_score_ = {
            name: dict(values) for name, values in (self.model_.best_score_ or {}).items()
        }
        return self

    @property
    def booster_(self) -> lgb.Booster:
        return self.model_.booster_

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Ranking scores (higher is better), from the best iteration, plus the base terms' score."""
        matrix = as_feature_matrix(X, self.feature_names_)
        trees = np.asarray(self.booster_.predict(matrix, num_iteration=self.best_iteration_))
        return trees + base_score(matrix, self.base_terms_) if self.base_terms_ else trees

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        values = self.booster_.feature_importance(importance_type=kind, iteration=self.best_iteration_)
        return pd.Series(values, index=self.feature_names_, name=kind).sort_values(ascending=False)


class RankerEnsemble(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type information here
    """`bags` lambdarank rankers with consecutive seeds, averaged; then optionally refit on every row.

    Why bag: a few hundred past boosts in groups of two to five give one lambdarank fit few pairs to
    learn from, so it is unstable; on the demo world the same rows in another order moved uplift
    captured@5 by up to 0.4. Members differ in their row and column subsamples (`subsample`,
    `colsample_bytree`), and their mean score cancels most of that variance.

    Why refit: the validation decisions are the most recent ones, the closest to tomorrow's. Each held-out
    member (`held_out_`) early-stops on them; with `refit`, a member with the same seed is then trained on
    all rows (`refit_rows`, train + validation + purged) for its best tree count scaled by the row ratio,
    and those members (`members_`) are what `predict` and the served model use. Validation figures must
    come from `predict_held_out`: the refit members have seen the validation rows.
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        k: int = 5,
        bags: int = 5,
        early_stopping_rounds: int | None = 40,
        random_state: int = 42,
        monotone: dict[str, int] | None = None,
        base_terms: Terms | None = None,
    ) -> None:
        self.params = params
        self.k = k
        self.bags = bags
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.monotone = monotone
        self.base_terms = base_terms

    def _member(self, b: int, params: dict[str, Any], early_stopping: int | None) -> UpliftRanker:
        return UpliftRanker(
            params=params, k=self.k, early_stopping_rounds=early_stopping,
            random_state=self.random_state + b, monotone=self.monotone, base_terms=self.base_terms,
        )

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        group: np.ndarray,
        sample_weight: np.ndarray | None = None,
        eval_set: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
        refit_rows: tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    ) -> RankerEnsemble:
        """Fit `bags` members on (X, y, group), early-stopping on `eval_set`; with `refit_rows`
        (X, y, group, sample_weight over all labelled rows, groups contiguous) refit them there."""
        if self.bags < 1:
            raise ValueError(f"An ensemble needs at least one member, got bags={self.bags}.")
        params = dict(self.params or {})
        self.held_out_ = [
            self._member(b, params, self.early_stopping_rounds).fit(
                X, y, group, sample_weight=sample_weight, eval_set=eval_set
            )
            for b in range(self.bags)
        ]
        self.feature_names_ = list(X.columns)
        self.base_terms_ = usable_base(self.base_terms, self.feature_names_)
        if refit_rows is None:
            self.members_ = self.held_out_
            return self
        X_all, y_all, g_all, w_all = refit_rows
        scale = len(X_all) / max(1, len(X))
        self.members_ = [
            self._member(b, {**params, "n_estimators": max(1, round(m.best_iteration_ * scale))}, None).fit(
                X_all[self.feature_names_], y_all, g_all, sample_weight=w_all
            )
            for b, m in enumerate(self.held_out_)
        ]
        return self

    @property
    def refit_(self) -> bool:
        return self.members_ is not self.held_out_

    @property
    def best_iterations_(self) -> list[int]:
        """Trees used by each member that `predict` uses."""
        return [m.best_iteration_ for m in self.members_]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Ranking scores (higher is better): the members' mean."""
        return np.mean([m.predict(X) for m in self.members_], axis=0)

    def predict_held_out(self, X: pd.DataFrame) -> np.ndarray:
        """The held-out members' mean score: the honest one on the validation rows."""
        return np.mean([m.predict(X) for m in self.held_out_], axis=0)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        total = sum(m.feature_importance(kind).reindex(self.feature_names_) for m in self.members_)
        return total.sort_values(ascending=False).rename(kind)


@dataclass(frozen=True)
class ScoringModel:
    """What is registered and served: the ensemble's boosters at their tree counts, its features and
    the calibration. The score is the boosters' mean.

    sparkpick's own scoring and the registered MLflow model compute through the same functions
    (`models/sparkpick_ranker_pyfunc.py`), so they agree.
    """

    boosters: tuple[lgb.Booster, ...]
    feature_names: tuple[str, ...]
    calibration: ScoreCalibration
    feature_version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    # The prior's terms (models/prior.py), one per feature in order; empty for a trained ranker.
    terms: tuple[dict[str, Any], ...] = ()
    # A trained ranker's starting score (the prior's terms it learnt corrections to); empty for the
    # prior and for a ranker trained from scratch.
    base_terms: tuple[dict[str, Any], ...] = ()

    @property
    def is_prior(self) -> bool:
        """Whether this is the prior (the brief's rules), not a ranker trained on Spark Ad results."""
        return bool(self.terms)

    @classmethod
    def from_ranker(
        cls,
        ranker: UpliftRanker | RankerEnsemble,
        calibration: ScoreCalibration,
        feature_version: str,
        metadata: dict[str, Any] | None = None,
    ) -> ScoringModel:
        members = ranker.members_ if isinstance(ranker, RankerEnsemble) else [ranker]
        return cls(
            boosters=tuple(
                lgb.Booster(model_str=m.booster_.model_to_string(num_iteration=m.best_iteration_))
                for m in members
            ),
            feature_names=tuple(ranker.feature_names_),
            calibration=calibration,
            feature_version=feature_version,
            metadata=dict(metadata or {}),
            base_terms=tuple(getattr(ranker, "base_terms_", ())),
        )

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return as_feature_matrix(frame, self.feature_names)

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        return model_scores(self.boosters, self.matrix(frame), self.terms, self.base_terms)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`score` (orders candidates), `predicted_uplift` with `uplift_low`/`uplift_high`, row-aligned."""
        scores = self.scores(frame)
        out = self.calibration.predict(scores)
        out.insert(0, "score", scores)
        out.index = frame.index
        return out

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions per feature (LightGBM's `pred_contrib`), plus the `bias` column.

        The mean of the boosters' contributions: they add up to the mean score, as each booster's do to
        its own."""
        X = self.matrix(frame)
        if self.terms:
            values = np.column_stack([term_contributions(X, self.terms), np.zeros(len(X))])
            return pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=frame.index)
        values = np.mean([b.predict(X, pred_contrib=True) for b in self.boosters], axis=0)
        out = pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=frame.index)
        if self.base_terms:  # the starting score is the base terms' own contributions
            base = base_contributions(X, self.base_terms)
            for j, term in enumerate(self.base_terms):
                out[term["feature"]] += base[:, j]
        return out

    def save(self, folder: Path) -> Path:
        """The model as plain files in `folder`: what the registered model carries (see
        `models/sparkpick_ranker_pyfunc.py`)."""
        return write_ranker(folder, self.boosters, self.feature_names, self.calibration.to_dict(),
                            self.feature_version, self.metadata, self.terms, self.base_terms)

    @classmethod
    def load(cls, folder: Path) -> ScoringModel:
        files = read_ranker(folder)
        return cls(
            boosters=files["boosters"], feature_names=files["features"],
            calibration=ScoreCalibration.from_dict(files["calibration"]),
            feature_version=files["feature_version"], metadata=files["metadata"], terms=files["terms"],
            base_terms=files["base_terms"],
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "boosters": [b.model_to_string() for b in self.boosters],
                "feature_names": list(self.feature_names),
                "calibration": self.calibration.to_dict(),
                "feature_version": self.feature_version,
                "metadata": self.metadata,
                "base_terms": [dict(t) for t in self.base_terms],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        data = json.loads(text)
        # Models saved before ensembles had one "booster".
        texts = data["boosters"] if "boosters" in data else [data["booster"]]
        return cls(
            boosters=tuple(lgb.Booster(model_str=t) for t in texts),
            feature_names=tuple(data["feature_names"]),
            calibration=ScoreCalibration.from_dict(data["calibration"]),
            feature_version=data["feature_version"],
            metadata=data.get("metadata", {}),
            base_terms=tuple(dict(t) for t in data.get("base_terms", ())),
        )
